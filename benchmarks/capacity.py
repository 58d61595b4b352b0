"""How many concurrent calls one machine holds at a human pace, beside the naive baseline.

    python -m benchmarks.capacity [--start N] [--step N] [--max N] [--turns T] [--level-seconds S] [--ramp-seconds S]
                                  [--json out.json] [--keep-data] [--no-naive]
    cloudgreet bench capacity [same options]

Two stacks on free ports (benchmarks/turn_latency.py): CloudGreet's (Temporal dev server, worker,
API) and the naive receptionist's, each with its own Telnyx simulator and fake LLM. Level by
level, from --start by --step up to --max concurrent calls, each of N call slots places a call of T
caller turns and, when it ends, the next, so N calls are always in flight (its next caller rings
within a second of the last one's end, at a random moment, so that slots do not ring in step);
first on the naive stack, then on CloudGreet's (the other idles). A level has three parts: the
ramp (`--ramp-seconds`, by default one call's length, measured by the warm-up call), over which
the slots' first callers ring one after the other, so calls start at the rate N calls in flight
have (N / a call's length) while their count climbs to N; the window (`--level-seconds`), whose
calls are measured; and the end, while the slots go on placing calls until the last measured one
ended, so that every measured turn is taken with N calls in flight. Nothing of the ramp or of the
calls that start outside the window is measured. The callers keep a
human pace: the agent's speech takes 0.045 s a character (about 22 a second: the fake LLM's echo is long), the caller waits
0.8 s before answering and says each line as growing interim transcripts and a final one, with
the playback events Telnyx sends; a turn comes every ~6-8 s (the measured spacing is printed).

A level holds when CloudGreet's p99 overhead (first `speak` received - final transcript sent -
the LLM's time to its first sentence, as `cloudgreet bench turns`) is at most 150 ms and no turn
was lost (a line the caller said that got no spoken answer). The ramp stops at the first level
that does not hold; the last that held is the capacity.

Per level: p50/p99 overhead of both and their ratio; CPU per turn of the processes under test
(CloudGreet: API + worker + Temporal server, each from /proc/<pid>/stat; naive: its process), from
the window's start until the last measured call ended, per turn answered by any call in that time;
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


async def sustain(stack: BenchStack, level: int, turns: int, seconds: float, name: str, ramp: float = 0.0) -> dict:
    """`level` calls always in flight; what the calls that started in the measured window measured.

    The slots' first calls start one after the other over `ramp` seconds, the rate `level` calls in
    flight have (`level` / a call's length), while the count of calls in flight climbs to `level`:
    those are not measured. The calls that start in the next `seconds` are, and every slot goes on
    placing calls until the last of them ended, so each measured turn is taken with `level` calls in
    flight. CPU and the server's Actions are counted from the window's start until that end, per turn
    answered in that time by any call.
    """
    processes = {n: p.pid for n, p in stack.children.children if p.pid in stack.under_test()}
    metrics_port = getattr(stack, "metrics_port", 0) if name != "naive" else 0
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        await http.delete(f"{stack.fake_llm_url}/_fake/requests")
        calls, measured, all_ids = Calls(http, stack), [], []
        poller = asyncio.create_task(calls.poll())
        started = time.monotonic()
        opens, closes = started + ramp, started + ramp + seconds
        in_flight = 0  # measured calls not yet ended
        marks: dict[str, tuple[float, dict[str, float], float | None]] = {}

        async def mark(which: str) -> None:
            if which in marks:  # taken once: two slots' last measured calls may end together
                return
            marks[which] = (time.time(), {n: process_cpu_seconds([pid]) for n, pid in processes.items()}, None)
            if metrics_port:
                moment, cpu, _ = marks[which]
                marks[which] = (moment, cpu, await server_actions(http, metrics_port))

        async def window() -> None:
            await asyncio.sleep(ramp)
            await mark("opened")

        async def slot(index: int) -> None:
            nonlocal in_flight
            await asyncio.sleep(ramp * index / level)
            # The poll learns of ended calls a second at a time: without a pause of its own, every slot whose
            # call ended in that second would ring at once, in step, as no carrier's callers do.
            arrivals = random.Random(f"{name}{level}-{index}")
            placed = 0
            while time.monotonic() < closes or in_flight:
                counted = opens <= time.monotonic() < closes
                placed += 1
                in_flight += counted
                try:
                    call_id = await calls.place_and_wait(f"{name}{level}-{index}-{placed}", turns)
                finally:
                    in_flight -= counted
                all_ids.append(call_id)
                if counted:
                    measured.append(call_id)
                    if not in_flight and time.monotonic() >= closes:
                        await mark("closed")
                await asyncio.sleep(arrivals.uniform(0.0, NEXT_CALLER_SECONDS))

        try:
            await asyncio.gather(window(), *(slot(i) for i in range(level)))
        finally:
            poller.cancel()
        await mark("closed")  # if no call started in the window
        wall = time.monotonic() - started
        records = {call_id: (await http.get(f"/simulator/calls/{call_id}")).json() for call_id in all_ids}
        requests = (await http.get(f"{stack.fake_llm_url}/_fake/requests")).json()
    (opened_at, cpu_opened, actions_opened), (closed_at, cpu_closed, actions_closed) = marks["opened"], marks["closed"]
    latencies = turn_latencies([records[i] for i in measured], requests)
    # Every call's turns answered while the CPU was counted, measured calls or not.
    answered = max(
        sum(
            1
            for record in records.values()
            for timing in record["turn_timings"]
            if timing["first_speak_received_at"] and opened_at <= timing["final_transcript_sent_at"] < closed_at
        ),
        1,
    )
    spacing = [
        b["final_transcript_sent_at"] - a["final_transcript_sent_at"]
        for r in (records[i] for i in measured)
        for a, b in zip(r["turn_timings"], r["turn_timings"][1:], strict=False)
    ]
    cpu = {n: cpu_closed[n] - cpu_opened[n] for n in cpu_closed}
    result = {
        "level": level,
        "calls": len(measured),
        "wall_seconds": wall,
        "measured_seconds": closed_at - opened_at,
        **latencies,
        "turn_spacing_seconds_median": statistics.median(spacing) if spacing else None,
        "cpu_seconds": cpu,
        "turns_while_counted": answered,
        "cpu_ms_per_turn": sum(cpu.values()) * 1000 / answered,
        "call_control_ids": measured,
    }
    if actions_opened is not None and actions_closed is not None:
        result["server_actions_per_turn"] = (actions_closed - actions_opened) / answered
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
        f"{name} {seconds * 1000 / run['turns_while_counted']:.0f}" for name, seconds in run["cpu_seconds"].items()
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
    warm_up = await sustain(stack, 1, args.turns, 0.1, "warmup")
    if naive:
        await sustain(naive, 1, args.turns, 0.1, "warmup")
    if args.ramp_seconds is None:
        args.ramp_seconds = warm_up["wall_seconds"]
    print(
        f"each level: calls start over {args.ramp_seconds:.1f} s (one call of {args.turns} turns; not measured), "
        f"then the calls that start in {args.level_seconds:.0f} s are measured",
        flush=True,
    )
    levels, held = [], None
    level = args.start
    while level <= args.max:
        print(
            f"level {level}: {level} calls in flight for {args.level_seconds:.0f} s, {args.turns} turns each",
            flush=True,
        )
        naive_run = (
            await sustain(naive, level, args.turns, args.level_seconds, "naive", args.ramp_seconds) if naive else None
        )
        run = await sustain(stack, level, args.turns, args.level_seconds, "cg", args.ramp_seconds)
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
    parser.add_argument(
        "--ramp-seconds",
        type=float,
        help="seconds over which a level's first calls start, not measured (default: the warm-up call's length)",
    )
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive baseline")
    args = parser.parse_args(argv)
    if min(args.start, args.step, args.turns) < 1 or args.level_seconds <= 0 or (args.ramp_seconds or 0) < 0:
        parser.error(
            "--start, --step and --turns must be at least 1, --level-seconds positive, --ramp-seconds not negative"
        )
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
