"""What a durable caller turn costs Temporal before CloudGreet does anything: the floor under `bench turns`.

    python -m benchmarks.temporal_floor [--calls 20] [--turns 8] [--turn-seconds 8] [--json FILE]

The least a turn can be and stay durable: one signal in (the caller's words), one workflow task that
schedules one activity, the activity (eager, with the liveness heartbeat timeout of a call's
activities and the worker's keep-alive heartbeats) that returns at once, one workflow task out. A
call is started, has its turns, is hung up by a second signal and completes. Nothing else: no LLM,
no carrier, no database, no API. The Temporal dev server runs with `cloudgreet dev`'s flags, the
worker is the Python SDK with its sandbox, in a process of its own, as `cloudgreet worker` is. The
calls start over `--spread` seconds and say something every `--turn-seconds`, the pace of
`cloudgreet bench turns --pace phone --calls 20 --turns 8` (about 8 s a turn).

It reports the CPU per turn of the dev server and of the worker, the history events per turn, and
what that floor alone asks of this machine for `--target-calls` calls saying something every
`--target-turn-seconds` (the capacity issue's 300 calls at a turn every 7 s). CloudGreet's own
figure per turn is `cloudgreet bench turns`; the gap between the two is what CloudGreet's code adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from benchmarks.floor_call import TASK_QUEUE, FloorCall, answer_caller
from benchmarks.turn_latency import _free_port as free_port
from benchmarks.turn_latency import process_cpu_seconds
from cloudgreet.dev_stack import temporal_cli, temporal_dev_server_tuning, wait_for_temporal
from runtime.heartbeats import KeepAliveHeartbeats

TASK_DONE = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


async def serve_worker(address: str) -> None:
    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[FloorCall],
        activities=[answer_caller],
        interceptors=[KeepAliveHeartbeats()],
    )
    await worker.run()


async def place_call(client: Client, turns: int, turn_seconds: float, spread: float, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, spread))
    handle = await client.start_workflow(FloorCall.run, id=f"floor-{uuid.uuid4().hex}", task_queue=TASK_QUEUE)
    for _ in range(turns):
        await asyncio.sleep(turn_seconds * rng.uniform(0.85, 1.15))
        await handle.signal(FloorCall.caller_said, "When are you open on Saturday?")
    await handle.signal(FloorCall.hang_up)
    await handle.result()


async def settled(handle: WorkflowHandle, turns: int) -> None:
    """Until the call has answered `turns` times and its last workflow task is done."""
    async with asyncio.timeout(60):
        while True:
            kinds = [event.event_type for event in (await handle.fetch_history()).events]
            if kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) == turns and kinds[-1] == TASK_DONE:
                return
            await asyncio.sleep(0.05)


async def events_per_turn(client: Client) -> tuple[int, float]:
    """History events of a call with no turn, and of each turn (a call of 4 turns, minus that)."""

    async def call_of(turns: int) -> int:
        handle = await client.start_workflow(FloorCall.run, id=f"floor-{uuid.uuid4().hex}", task_queue=TASK_QUEUE)
        await settled(handle, 0)  # its first workflow task done, as a call's is before its caller speaks
        for turn in range(1, turns + 1):
            await handle.signal(FloorCall.caller_said, "hello")
            await settled(handle, turn)
        await handle.signal(FloorCall.hang_up)
        await handle.result()
        return len((await handle.fetch_history()).events)

    no_turn = await call_of(0)
    return no_turn, (await call_of(4) - no_turn) / 4


def start_processes(data_dir: Path) -> tuple[str, subprocess.Popen, subprocess.Popen]:
    """The dev server with `cloudgreet dev`'s flags, and the floor's worker in a process of its own."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [
        temporal_cli(), "server", "start-dev", "--headless", "--db-filename", str(data_dir / "temporal.db"),
        "--port", str(port), *temporal_dev_server_tuning(),
    ]  # fmt: skip
    with open(data_dir / "temporal.log", "wb") as server_log:
        server = subprocess.Popen(command, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_for_temporal(port, timeout=60, process=server)
        with open(data_dir / "worker.log", "wb") as worker_log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.temporal_floor", "--serve-worker", address],
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parent.parent,
            )
    except BaseException:
        server.terminate()
        server.wait(timeout=30)
        raise
    return address, server, worker


async def measure(args: argparse.Namespace, address: str, pids: dict[str, int]) -> dict:
    client = await Client.connect(address)
    no_turn, per_turn = await events_per_turn(client)  # also warms the worker and the server up
    print(f"{args.calls} calls of {args.turns} turns, a turn every ~{args.turn_seconds:g} s ...", flush=True)
    rng = random.Random(7)
    before = {name: process_cpu_seconds([pid]) for name, pid in pids.items()}
    started = time.monotonic()
    await asyncio.gather(
        *(place_call(client, args.turns, args.turn_seconds, args.spread, rng) for _ in range(args.calls))
    )
    wall = time.monotonic() - started
    after = {name: process_cpu_seconds([pid]) for name, pid in pids.items()}
    turns = args.calls * args.turns
    per_turn_ms = {name: (after[name] - before[name]) * 1000 / turns for name in before}
    turns_per_second = args.target_calls / args.target_turn_seconds
    return {
        "calls": args.calls,
        "turns_per_call": args.turns,
        "turn_seconds": args.turn_seconds,
        "wall_seconds": wall,
        "cpu_ms_per_turn": per_turn_ms,
        "events_per_turn": per_turn,
        "events_call_with_no_turn": no_turn,
        "target": {
            "calls": args.target_calls,
            "turn_seconds": args.target_turn_seconds,
            "turns_per_second": turns_per_second,
            "cores_for_this_floor": turns_per_second * sum(per_turn_ms.values()) / 1000,
            "cores_of_this_machine": os.cpu_count(),
        },
    }


def report(result: dict) -> None:
    cpu, target = result["cpu_ms_per_turn"], result["target"]
    print(
        f"\nThe least durable turn (a signal, a workflow task, an eager activity that returns at once, a workflow task),\n"
        f"{result['calls']} calls of {result['turns_per_call']} turns in {result['wall_seconds']:.0f} s, "
        f"the Temporal dev server with `cloudgreet dev`'s flags:\n"
        f"  CPU per turn: Temporal dev server {cpu['temporal']:.1f} ms, worker (Python SDK, sandbox) "
        f"{cpu['worker']:.1f} ms, together {sum(cpu.values()):.1f} ms\n"
        f"  history events per turn: {result['events_per_turn']:.1f} "
        f"(a call with no turn: {result['events_call_with_no_turn']})\n"
        f"  {target['calls']} calls saying something every {target['turn_seconds']:g} s are "
        f"{target['turns_per_second']:.1f} turns a second: this floor alone would keep "
        f"{target['cores_for_this_floor']:.2f} of this machine's {target['cores_of_this_machine']} cores busy"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="temporal_floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--turns", type=int, default=8, help="turns per call (default 8)")
    parser.add_argument("--turn-seconds", type=float, default=8.0, help="seconds between a call's turns (default 8)")
    parser.add_argument("--spread", type=float, default=10.0, help="calls start within this many seconds")
    parser.add_argument("--target-calls", type=int, default=300)
    parser.add_argument("--target-turn-seconds", type=float, default=7.0)
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--serve-worker", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_worker:
        asyncio.run(serve_worker(args.serve_worker))
        return 0
    if args.calls < 1 or args.turns < 1 or args.turn_seconds <= 0:
        parser.error("--calls and --turns must be at least 1, --turn-seconds above 0")
    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-floor-"))
    print(f"starting the Temporal dev server and the floor's worker (logs: {data_dir}) ...", flush=True)
    address, server, worker = start_processes(data_dir)
    try:
        result = asyncio.run(measure(args, address, {"temporal": server.pid, "worker": worker.pid}))
    except TimeoutError:
        print(f"temporal_floor: the floor's calls were not answered in time (logs kept in {data_dir})", file=sys.stderr)
        return 1
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)  # kept, with its logs, when the run failed
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
