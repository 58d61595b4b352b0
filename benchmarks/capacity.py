"""How many concurrent calls one machine holds at a human pace, beside the naive baseline.

    python -m benchmarks.capacity [--start N] [--step N] [--max N] [--turns T] [--level-seconds S]
                                  [--json out.json] [--keep-data] [--no-naive]
    cloudgreet bench capacity [same options]

Two stacks on free ports (benchmarks/turn_latency.py): CloudGreet's (Temporal dev server, worker,
API) and the naive receptionist's, each with its own Telnyx simulator and fake LLM. Level by
level, from --start by --step up to --max concurrent calls: for --level-seconds each of N call
slots places a call of T caller turns and, when it ends, the next, so N calls are always in
flight (its next caller rings within a second of the last one's end, at a random moment, so that
slots do not ring in step); first on the naive stack, then on CloudGreet's (the other idles). The callers keep a
human pace: the agent's speech takes 0.045 s a character (about 22 a second: the fake LLM's echo is long), the caller waits
0.8 s before answering and says each line as growing interim transcripts and a final one, with
the playback events Telnyx sends; a turn comes every ~6-8 s (the measured spacing is printed).

A level holds when CloudGreet's p99 overhead (first `speak` received - final transcript sent -
the LLM's time to its first sentence, as `cloudgreet bench turns`) is at most 150 ms and no turn
was lost (a line the caller said that got no spoken answer). The ramp stops at the first level
that does not hold; the last that held is the capacity.

Per level: p50/p99 overhead of both and their ratio; CPU per answered turn of the processes under
test (CloudGreet: API + worker + Temporal server, each from /proc/<pid>/stat; naive: its process);
history events and Temporal Cloud Actions per turn from the histories of the level's calls (whole
calls, so the start and end of a call are shared by its turns; benchmarks/temporal_actions.py),
and the dev server's own `action` counter over the level, which also counts activity heartbeats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from temporalio.client import Client

from benchmarks.temporal_actions import billable_actions
from benchmarks.turn_latency import (
    BenchStack,
    NaiveStack,
    _free_port,
    _interrupt,
    percentiles,
    process_cpu_seconds,
    turn_latencies,
)
from cloudgreet.dev_stack import DevStackError
from workflows.call_messages import call_workflow_id

HUMAN_PACE = {"speech_seconds_per_char": 0.045, "caller_pause_seconds": 0.8, "spread_seconds": 0.0}
MAX_P99_MS = 150.0
HISTORIES_PER_LEVEL = 20  # fetching every history would load the server the next level measures


def caller_line(label: str, turn: int) -> str:
    # Unique per call and turn (the LLM request is found by it) and long enough for three interims.
    return f"Call {label} turn {turn}: could you tell me whether you have a cleaning appointment next week?"


class CapacityStack(BenchStack):
    """CloudGreet's bench stack with the Temporal dev server's metrics on a known port."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, pace=HUMAN_PACE)
        self.metrics_port = _free_port()

    def _temporal_command(self) -> list[str]:
        return [*super()._temporal_command(), "--metrics-port", str(self.metrics_port)]


async def server_actions(http: httpx.AsyncClient, port: int) -> float | None:
    """The Temporal server's `action` counter (every billable Action it saw), summed; None if absent."""
    try:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(("action{", "action "))]
    return sum(values) if values else None


# After a slot's call ends, its next caller rings within this long (uniformly, seeded per slot).
NEXT_CALLER_SECONDS = 1.0


class Calls:
    """The simulator's calls, polled once a second for all slots, not once per call."""

    def __init__(self, http: httpx.AsyncClient, stack: BenchStack) -> None:
        self.http, self.stack, self.waiting = http, stack, dict[str, asyncio.Event]()

    async def poll(self) -> None:
        while True:
            self.stack.check_alive()
            for call in (await self.http.get("/simulator/calls")).json():
                if call["finished"] and (event := self.waiting.get(call["call_control_id"])):
                    event.set()
            await asyncio.sleep(1.0)

    async def place_and_wait(self, label: str, turns: int) -> str:
        script = {"lines": [caller_line(label, t) for t in range(1, turns + 1)], "max_call_seconds": 30 + 15 * turns}
        response = await self.http.post("/simulator/calls", json=script)
        response.raise_for_status()
        call_id = response.json()["call_control_id"]
        self.waiting[call_id] = event = asyncio.Event()
        await asyncio.wait_for(event.wait(), 60 + 15 * turns)
        return call_id


async def sustain(stack: BenchStack, level: int, turns: int, seconds: float, name: str) -> dict:
    """`level` calls in flight for `seconds` (then the last ones end); what they measured."""
    processes = {n: p.pid for n, p in stack.children.children if p.pid in stack.under_test()}
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        await http.delete(f"{stack.fake_llm_url}/_fake/requests")
        calls, ids = Calls(http, stack), []
        poller = asyncio.create_task(calls.poll())
        actions_before = await server_actions(http, getattr(stack, "metrics_port", 0)) if name != "naive" else None
        cpu_before = {n: process_cpu_seconds([pid]) for n, pid in processes.items()}
        started = time.monotonic()

        async def slot(index: int) -> None:
            await asyncio.sleep(7.0 * index / level)  # callers start over one turn, not in step
            # The poll learns of ended calls a second at a time: without a pause of its own, every slot whose
            # call ended in that second would ring at once, in step, as no carrier's callers do.
            arrivals = random.Random(f"{name}{level}-{index}")
            placed = 0
            while time.monotonic() - started < seconds:
                placed += 1
                ids.append(await calls.place_and_wait(f"{name}{level}-{index}-{placed}", turns))
                await asyncio.sleep(arrivals.uniform(0.0, NEXT_CALLER_SECONDS))

        try:
            await asyncio.gather(*(slot(i) for i in range(level)))
        finally:
            poller.cancel()
        wall = time.monotonic() - started
        cpu = {n: process_cpu_seconds([pid]) - cpu_before[n] for n, pid in processes.items()}
        actions_after = await server_actions(http, getattr(stack, "metrics_port", 0)) if name != "naive" else None
        records = [(await http.get(f"/simulator/calls/{call_id}")).json() for call_id in ids]
        requests = (await http.get(f"{stack.fake_llm_url}/_fake/requests")).json()
    latencies = turn_latencies(records, requests)
    answered = max(len(latencies["raw_ms"]), 1)
    spacing = [
        b["final_transcript_sent_at"] - a["final_transcript_sent_at"]
        for r in records
        for a, b in zip(r["turn_timings"], r["turn_timings"][1:], strict=False)
    ]
    result = {
        "level": level,
        "calls": len(ids),
        "wall_seconds": wall,
        **latencies,
        "turn_spacing_seconds_median": statistics.median(spacing) if spacing else None,
        "cpu_seconds": cpu,
        "cpu_ms_per_turn": sum(cpu.values()) * 1000 / answered,
        "call_control_ids": ids,
    }
    if actions_before is not None and actions_after is not None:
        result["server_actions_per_turn"] = (actions_after - actions_before) / answered
    return result


async def history_figures(temporal: Client, ids: list[str], turns: int) -> dict:
    sample = ids[:HISTORIES_PER_LEVEL]
    histories = [list((await temporal.get_workflow_handle(call_workflow_id(i)).fetch_history()).events) for i in sample]
    events = sum(len(h) for h in histories)
    return {
        "history_events_per_turn": events / (turns * len(sample)),
        "history_actions_per_turn": sum(billable_actions(h) for h in histories) / (turns * len(sample)),
    }


def holds(run: dict) -> tuple[bool, str]:
    p99 = percentiles(run["orchestration_ms"]).get("p99", float("inf"))
    if run["missing_turns"]:
        return False, f"{run['missing_turns']} turn(s) lost"
    if p99 > MAX_P99_MS:
        return False, f"p99 {p99:.0f} ms > {MAX_P99_MS:.0f} ms"
    return True, f"p99 {p99:.0f} ms"


def print_level(run: dict, naive: dict | None) -> None:
    o = percentiles(run["orchestration_ms"])
    cpu = " + ".join(
        f"{name} {seconds * 1000 / max(len(run['raw_ms']), 1):.0f}" for name, seconds in run["cpu_seconds"].items()
    )
    print(
        f"  CloudGreet: {run['calls']} calls, {o['count']} turns (every {run['turn_spacing_seconds_median'] or 0:.1f} s), "
        f"overhead p50 {o.get('p50', 0):.0f} / p99 {o.get('p99', 0):.0f} ms, lost {run['missing_turns']}, "
        f"CPU {run['cpu_ms_per_turn']:.0f} ms/turn ({cpu}), "
        f"{run.get('history_events_per_turn', 0):.1f} events and {run.get('history_actions_per_turn', 0):.1f} Actions per turn"
        + (f" (server counted {run['server_actions_per_turn']:.1f})" if "server_actions_per_turn" in run else ""),
        flush=True,
    )
    if naive:
        n = percentiles(naive["orchestration_ms"])
        print(
            f"  naive:      {naive['calls']} calls, {n['count']} turns, overhead p50 {n.get('p50', 0):.0f} / "
            f"p99 {n.get('p99', 0):.0f} ms, lost {naive['missing_turns']}, CPU {naive['cpu_ms_per_turn']:.0f} ms/turn",
            flush=True,
        )
        if o["count"] and n["count"]:
            print(
                f"  ratio:      p50 {o['p50'] / max(n['p50'], 0.1):.1f}x, p99 {o['p99'] / max(n['p99'], 0.1):.1f}x, "
                f"CPU per turn {run['cpu_ms_per_turn'] / max(naive['cpu_ms_per_turn'], 0.1):.1f}x",
                flush=True,
            )


async def ramp(stack: CapacityStack, naive: NaiveStack | None, args: argparse.Namespace) -> dict:
    temporal = await Client.connect(f"127.0.0.1:{stack.ports.temporal}")
    print("warm-up: one call on each stack (not counted) ...", flush=True)
    await sustain(stack, 1, 2, 0.1, "warmup")
    if naive:
        await sustain(naive, 1, 2, 0.1, "warmup")
    levels, held = [], None
    level = args.start
    while level <= args.max:
        print(
            f"level {level}: {level} calls in flight for {args.level_seconds:.0f} s, {args.turns} turns each",
            flush=True,
        )
        naive_run = await sustain(naive, level, args.turns, args.level_seconds, "naive") if naive else None
        run = await sustain(stack, level, args.turns, args.level_seconds, "cg")
        run.update(await history_figures(temporal, run.pop("call_control_ids"), args.turns))
        if naive_run:
            naive_run.pop("call_control_ids")
        run["naive"] = naive_run
        ok, why = holds(run)
        print_level(run, naive_run)
        print(f"  level {level} {'held' if ok else 'did not hold'}: {why}", flush=True)
        levels.append(run)
        if not ok:
            break
        held = level
        level += args.step
    print(
        f"\nCapacity: {held if held is not None else 'below ' + str(args.start)} concurrent calls held "
        f"(p99 overhead <= {MAX_P99_MS:.0f} ms, no turn lost) on {os.cpu_count()} CPUs"
        + ("" if levels and not holds(levels[-1])[0] else f"; the ramp stopped at --max {args.max}"),
        flush=True,
    )
    return {"capacity": held, "levels": levels, "cpus": os.cpu_count(), "settings": vars(args) | HUMAN_PACE}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=10, help="concurrent calls of the first level (default 10)")
    parser.add_argument("--step", type=int, default=10, help="calls added per level (default 10)")
    parser.add_argument("--max", type=int, default=200, help="the last level tried (default 200)")
    parser.add_argument("--turns", type=int, default=4, help="caller turns per call (default 4)")
    parser.add_argument("--level-seconds", type=float, default=60, help="how long each level places calls (default 60)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive baseline")
    args = parser.parse_args(argv)
    if min(args.start, args.step, args.turns) < 1 or args.level_seconds <= 0:
        parser.error("--start, --step and --turns must be at least 1, --level-seconds positive")
    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-capacity-"))
    stack = CapacityStack(data_dir)
    naive: NaiveStack | None = None
    failed = True
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"starting the stacks in {data_dir} ...", flush=True)
        stack.start()
        if args.naive:
            # Its free ports are chosen only now: the Temporal dev server takes random ones as it starts.
            naive = NaiveStack(data_dir / "naive", pace=HUMAN_PACE)
            naive.start()
        report = asyncio.run(ramp(stack, naive, args))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str))
            print(f"all numbers written to {args.json}")
        failed = False
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (DevStackError, TimeoutError, httpx.HTTPError) as error:
        print(f"capacity: {error}", file=sys.stderr)
        return 1
    finally:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            signal.signal(stop_signal, signal.SIG_IGN)
        print("stopping the stacks ...", flush=True)
        stack.children.stop_all()
        if naive:
            naive.children.stop_all()
        if failed or args.keep_data:
            print(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
