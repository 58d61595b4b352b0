"""What a caller hears during an LLM outage: the silence of each turn, and whether they are transferred.

    cloudgreet bench outage [--no-circuit] [--keep-data]

It starts the stack of `cloudgreet dev --fake-llm` on free ports (as `cloudgreet bench turns`),
places one call while the LLM is healthy (not counted), then for each kind of outage (the fake
answers 500, or hangs) begins it, places one call of four routine questions and prints, per
turn: the silence the caller heard (the simulator sent the caller's final words → it received
the first `speak`), the LLM requests the turn made, and who answered; then whether the call was
transferred. `--no-circuit` sets LLM_CIRCUIT_FAILURES so high that the worker never remembers a
failure: every turn waits on the LLM again, as before the circuit existed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.turn_latency import BenchStack, wait_finished
from cloudgreet.dev_stack import DevStackError

LINES = [
    "How much is a cleaning?",
    "What are your hours on Friday?",
    "Where are you located?",
    "Do you do whitening?",
]
OPEN_SECONDS = 10  # the worker's memory of a failing LLM in this run; waited out between the two outages


async def one_call(http: httpx.AsyncClient, stack: BenchStack, label: str) -> dict:
    lines = [f"{line} ({label})" for line in LINES]
    response = await http.post("/simulator/calls", json={"lines": lines, "max_call_seconds": 180})
    response.raise_for_status()
    [call] = await wait_finished(http, stack, [response.json()["call_control_id"]], 240)
    return call


def report(call: dict, requests: list[dict]) -> None:
    asked: dict[str, int] = {}
    for request in requests:
        users = [m.get("content") for m in request.get("messages") or [] if m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            asked[users[-1]] = asked.get(users[-1], 0) + 1
    lines = call["script"]["lines"]
    for timing in call["turn_timings"]:
        line = lines[timing["line_index"]]["text"]
        spoken = timing["first_speak_received_at"]
        silence = f"{spoken - timing['final_transcript_sent_at']:.2f} s" if spoken else "never answered"
        print(f"  turn {timing['line_index'] + 1}: silence {silence}, LLM requests {asked.get(line, 0)}  ({line})")
    transfers = call["transfers"]
    print(f"  transferred: {'yes, to ' + transfers[0]['to'] if transfers else 'no'}")


async def measure(stack: BenchStack) -> None:
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        print("a call while the LLM is healthy (not counted) ...", flush=True)
        await one_call(http, stack, "warm-up")
        for kind in ("fail", "hang"):
            await http.delete(f"{stack.fake_llm_url}/_fake/requests")
            await http.post(f"{stack.fake_llm_url}/_fake/outage", json={"seconds": 600, "kind": kind})
            try:
                call = await one_call(http, stack, kind)
                requests = (await http.get(f"{stack.fake_llm_url}/_fake/requests")).json()
            finally:
                await http.delete(f"{stack.fake_llm_url}/_fake/outage")
            print(f"the LLM {'answering 500' if kind == 'fail' else 'hanging'}:")
            report(call, requests)
            # The next outage must find a worker that has forgotten this one: the benchmark's pacing.
            await asyncio.sleep(OPEN_SECONDS + 1)
            await one_call(http, stack, f"after {kind}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cloudgreet bench outage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-circuit", action="store_true", help="the worker never remembers a failing LLM")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    args = parser.parse_args(argv)
    # The children inherit this environment: the worker's circuit settings for this run.
    os.environ["LLM_CIRCUIT_OPEN_SECONDS"] = str(OPEN_SECONDS)
    os.environ["LLM_CIRCUIT_FAILURES"] = "100" if args.no_circuit else "3"
    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-bench-outage-"))
    stack = BenchStack(data_dir)
    started = time.monotonic()
    try:
        print(f"starting the stack in {data_dir} ...", flush=True)
        stack.start()
        asyncio.run(measure(stack))
        print(f"done in {time.monotonic() - started:.0f} s")
        return 0
    except (DevStackError, TimeoutError, httpx.HTTPError) as error:
        print(f"outage: {error} (logs: {data_dir / 'logs'})", file=sys.stderr)
        return 1
    finally:
        stack.children.stop_all()
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
