"""How fast a Realtime-SIP call's tool call is answered over its control channel.

    python -m benchmarks.realtime_sip [--calls N] [--json out.json]

It starts the stack of `cloudgreet dev --fake-llm` (Temporal dev server, worker, API, fake OpenAI:
real processes, via `BenchStack` of `benchmarks.turn_latency`) on free ports with a temporary data
dir, puts the demo business's line in Realtime-SIP mode, and places N calls one after the other at
the fake's SIP endpoint. Each call: the signed webhook reaches the API, the call's workflow accepts
it, its activity joins the control channel and greets; the caller asks for free times, the fake
model calls `check_availability`, and the tool runs in the workflow (an Update from the control
activity, the dispatcher, the appointment activity) and its output goes back over the channel.

Measured by an observer on the same call's control channel (the real SDK's `realtime.connect`):
from the `response.done` that carries the function call to the `conversation.item.added` of our
`function_call_output`. Also: webhook to accepted (the fake's ring answered, to the call accepted).
The fake answers at once, so the numbers are CloudGreet's own cost (Temporal round trips included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai

from benchmarks.on_a_stack import run_on_a_stack
from benchmarks.turn_latency import BenchStack, percentiles
from cloudgreet.dev_stack import DevStackError

SECRET = "whsec_" + "YmVuY2htYXJrLXdlYmhvb2stc2VjcmV0LWZvci1zaXAtY2FsbHM="
DEMO_NUMBER = "+15555550100"
RULES = {
    "rules": [
        {
            "contains": "free times",
            "tool_call": {"name": "check_availability", "arguments": {"service": "Cleaning"}},
        }
    ]
}


def realtime_mode(database_url: str) -> None:
    from sqlmodel import Session, select

    from database.engine import get_engine
    from database.models import Business
    from domain.vocabulary import PhoneMode

    with Session(get_engine(database_url)) as session:
        business = session.exec(select(Business).where(Business.phone_number == DEMO_NUMBER)).one()
        business.phone_mode = PhoneMode.REALTIME_SIP
        session.add(business)
        session.commit()


async def one_call(http: httpx.AsyncClient, fake_url: str, api_url: str) -> dict[str, float]:
    rang_at = time.perf_counter()
    rang = (
        await http.post(
            f"{fake_url}/_fake/realtime/sip/incoming",
            json={"webhook_url": f"{api_url}/api/openai/webhooks", "secret": SECRET, "to_number": DEMO_NUMBER},
        )
    ).json()
    if rang["webhook_status"] != 200:
        raise DevStackError(f"the API answered the webhook {rang['webhook_status']}")
    call_id = rang["call_id"]
    while True:
        calls = (await http.get(f"{fake_url}/_fake/realtime")).json()["calls"]
        call = next(c for c in calls if c["call_id"] == call_id)
        if call["sip_status"] == "accepted" and call["control_channels"] >= 1:
            break
        await asyncio.sleep(0.005)
    accepted_ms = (time.perf_counter() - rang_at) * 1000
    observer = openai.AsyncOpenAI(api_key="observer", base_url=f"{fake_url}/v1", max_retries=0)
    async with observer.realtime.connect(call_id=call_id) as control:
        said = await http.post(
            f"{fake_url}/_fake/realtime/sip/{call_id}/say", json={"words": "Do you have free times for a cleaning?"}
        )
        if not said.json().get("heard"):
            raise DevStackError("the fake did not hear the caller")
        asked_at: float | None = None
        while True:
            event: dict[str, Any] = json.loads(await asyncio.wait_for(control.recv_bytes(), 30))
            if event["type"] == "response.done" and any(
                item.get("type") == "function_call" for item in event["response"].get("output") or []
            ):
                asked_at = time.perf_counter()
            elif (
                asked_at is not None
                and event["type"] == "conversation.item.added"
                and event["item"].get("type") == "function_call_output"
            ):
                tool_ms = (time.perf_counter() - asked_at) * 1000
                break
    await http.post(f"{fake_url}/v1/realtime/calls/{call_id}/hangup", headers={"authorization": "Bearer bench"})
    return {"accepted_ms": accepted_ms, "tool_ms": tool_ms}


async def measure(fake_url: str, api_url: str, calls: int) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:
        (await http.put(f"{fake_url}/_fake/behaviour", json=RULES)).raise_for_status()
        await one_call(http, fake_url, api_url)  # warm-up, not counted
        samples = [await one_call(http, fake_url, api_url) for _ in range(calls)]
    return {
        "calls": calls,
        "webhook_to_accepted_ms": percentiles([s["accepted_ms"] for s in samples]),
        "tool_call_to_result_ms": percentiles([s["tool_ms"] for s in samples]),
    }


def print_report(report: dict) -> None:
    print(f"\nRealtime-SIP calls: {report['calls']} (after one warm-up)")
    for name in ("webhook_to_accepted_ms", "tool_call_to_result_ms"):
        figures = report[name]
        print(f"  {name:<24} p50 {figures['p50']:7.1f}  p90 {figures['p90']:7.1f}  max {figures['max']:7.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="realtime_sip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls to time (default 20)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    os.environ["OPENAI_WEBHOOK_SECRET"] = SECRET  # the API the stack starts verifies with it

    def measured(stack: BenchStack, data_dir: Path) -> dict:
        realtime_mode(f"sqlite:///{data_dir / 'cloudgreet.db'}")
        return asyncio.run(measure(stack.fake_llm_url, f"http://127.0.0.1:{stack.ports.api}", args.calls))

    return run_on_a_stack("realtime_sip", measured, print_report, args.json)


if __name__ == "__main__":
    sys.exit(main())
