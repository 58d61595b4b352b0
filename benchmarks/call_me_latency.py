"""How fast the browser demo's "call me" rings the visitor and greets them.

    python -m benchmarks.call_me_latency [--calls N] [--json out.json]

It starts the stack of `cloudgreet dev --fake-llm` (real processes, via `BenchStack` of
`benchmarks.turn_latency`, with TELNYX_CONNECTION_ID set so the worker may dial), then N times
(after one warm-up, not counted), one after the other: scripts a person to answer the next dial to
a fresh number at the Telnyx simulator, posts `POST /api/ai/call-me` as the demo page does, and
reads the simulator's record of the call. Reported, from the request's start:

* accepted: the API's 202 (checks, limits counted in the database, the call-back row, the
  workflow started);
* dial: the simulator receives `POST /v2/calls` (the CallbackWorkflow's dial activity);
* greeting: the simulator receives the first `speak` of the dialled call's CallWorkflow;
* and answered to greeting: from the simulator's `call.answered` webhook leaving to that
  `speak` (CloudGreet's own part; before it, the simulated phone rings 0.1 s and the answering
  machine detection reports after the answer, as Telnyx's does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from benchmarks.on_a_stack import run_on_a_stack
from benchmarks.turn_latency import percentiles
from cloudgreet.dev_stack import DevStackError
from simulator.telnyx.simulator import DEFAULT_CONNECTION_ID

DEMO_BUSINESS_ID = 1  # `cloudgreet migrate` creates the demo business first


async def one_call(api: httpx.AsyncClient, simulator: httpx.AsyncClient, number: str) -> dict:
    (
        await simulator.post("/simulator/outbound-expectations", json={"to_number": number, "script": {}})
    ).raise_for_status()
    started = time.time()
    answer = await api.post(
        "/api/ai/call-me", json={"business_id": DEMO_BUSINESS_ID, "phone_number": number, "consent": True}
    )
    accepted = time.time()
    if answer.status_code != 202:
        raise DevStackError(f"call-me answered {answer.status_code}: {answer.text}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        calls = (await simulator.get("/simulator/calls")).json()
        dialled = [c for c in calls if c["direction"] == "outgoing" and c["to_number"] == number]
        if dialled:
            call = (await simulator.get(f"/simulator/calls/{dialled[0]['call_control_id']}")).json()
            speaks = [c for c in call["commands"] if c["action"] == "speak"]
            if speaks and call["finished"]:
                answered = min(d["sent_at"] for d in call["deliveries"] if d["event_type"] == "call.answered")
                dial_at = min(c["received_at"] for c in call["commands"] if c["action"] == "dial")
                return {
                    "accepted_ms": (accepted - started) * 1000,
                    "dial_ms": (dial_at - started) * 1000,
                    "greeting_ms": (speaks[0]["received_at"] - started) * 1000,
                    "answered_to_greeting_ms": (speaks[0]["received_at"] - answered) * 1000,
                }
        await asyncio.sleep(0.05)
    raise TimeoutError(f"no greeted, finished call to {number} within 60 s")


async def measure(api_url: str, simulator_url: str, calls: int) -> dict:
    samples: list[dict] = []
    async with (
        httpx.AsyncClient(base_url=api_url, headers={"Origin": api_url}, timeout=30) as api,
        httpx.AsyncClient(base_url=simulator_url, timeout=30) as simulator,
    ):
        for n in range(calls + 1):
            sample = await one_call(api, simulator, f"+1212555{n:04d}")
            if n:
                samples.append(sample)  # the first is a warm-up: first connections everywhere
    return {key: percentiles([s[key] for s in samples]) for key in samples[0]} if samples else {}


def print_report(report: dict) -> None:
    for key, figures in report.items():
        print(f"{key:>26}: " + "  ".join(f"{k} {v:.0f}" if k != "count" else f"n={v}" for k, v in figures.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    # The simulator's connection, so the worker dials; and room for more calls than a visitor may ask for.
    os.environ["TELNYX_CONNECTION_ID"] = DEFAULT_CONNECTION_ID
    for name in ("CALL_ME_PER_CLIENT", "CALL_ME_PER_BUSINESS"):
        os.environ[name] = str(10 * (args.calls + 1))
    return run_on_a_stack(
        "call_me_latency",
        lambda stack, _: asyncio.run(measure(f"http://127.0.0.1:{stack.ports.api}", stack.simulator_url, args.calls)),
        print_report,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
