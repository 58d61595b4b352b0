"""Per-turn orchestration latency and Temporal history size of CloudGreet calls, and the silences a
caller hears with and without speculative replies (benchmarks/turn_silences.py).

    python -m benchmarks.turn_latency [--calls N ...] [--turns T] [--json out.json] [--keep-data]
                                      [--sqlite-pragma NAME=VALUE ...] [--no-naive] [--no-silences]
    cloudgreet bench turns [same options]

Each run is measured twice, first on the naive baseline (benchmarks/naive_receptionist.py: one
process, no durability, the same simulator and fake LLM on a stack of their own), then on
CloudGreet, and every figure is printed beside the naive one with their ratio: the machine is
shared, so only ratios measured in the same run compare across runs. CPU per turn is the CPU of
the processes under test (CloudGreet: API, worker and Temporal server; naive: its one process)
over the run, divided by the caller turns answered.

It starts the stack of `cloudgreet dev --fake-llm` (Temporal dev server, Telnyx simulator, fake
OpenAI, worker, API: real processes, via `DevStack`) on free ports with a temporary data dir,
places one warm-up call (not counted), then for each --calls N (default: 1, then 50) places N
calls of T caller turns at once through the simulator's control API and waits until all ended.

Orchestration latency of one caller turn =
      (simulator received the reply's first `speak` command - simulator sent the final
       `call.transcription` webhook of the turn)              [TurnTiming of the simulator]
    - (fake LLM stamped the reply's first sentence - fake LLM received the request)
                                                              [/_fake/requests log]
i.e. the silence the caller hears minus the part only the model is responsible for. What remains
is CloudGreet's own path: webhook verification and signal-with-start in the API, the Temporal
server, the workflow task, scheduling the reply activity, building and sending the LLM request,
sentence splitting and the speak command. The fake answers at once by default, but subtracting its
time keeps the number meaningful when it is told to be slow (PUT /_fake/behaviour) or is loaded.
The LLM request of a turn is found by the caller's line, which is unique per call and turn.

History events per caller turn = (events of a finished T-turn call - events of a finished call
with no caller turn) / T, from `fetch_history()`; the event types of one turn are listed too.

Read the 50-call numbers with the dev server in mind: it has one history shard and persists to
SQLite through one connection, so every workflow update of every call queues there. With its
default journal that queue, not CloudGreet's code, dominates at 50 calls; `--sqlite-pragma
journal_mode=wal --sqlite-pragma synchronous=off` makes each write ~3x cheaper. The CPU used by
other processes during a run is reported, since a busy machine makes the numbers meaningless.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from cloudgreet.dev_stack import ChildProcesses, DevStack, DevStackError, DevStackPorts, wait_for_port
from workflows.call_messages import call_workflow_id

SPEECH_SECONDS_PER_CHAR = 0.005  # fast, but still a realistic shape of a conversation
CALLER_PAUSE_SECONDS = 0.3
# --pace phone: people speak ~14 characters a second and leave ~0.8 s before answering, and 50
# concurrent calls did not all start in the same instant.
PHONE_PACE = {"speech_seconds_per_char": 0.07, "caller_pause_seconds": 0.8, "spread_seconds": 10.0}
FAST_PACE = {
    "speech_seconds_per_char": SPEECH_SECONDS_PER_CHAR,
    "caller_pause_seconds": CALLER_PAUSE_SECONDS,
    "spread_seconds": 0.0,
}
TARGET_P50_MS, TARGET_P99_MS = 30.0, 100.0


# --------------------------------------------------------------------------- the stack


@dataclass
class _LoggedChildren(ChildProcesses):
    """Every child's output goes to <data>/logs/<name>.log, so the terminal shows only progress."""

    log_dir: Path | None = None

    def start(self, name, command, env, log_dir=None):
        return super().start(name, command, env, log_dir or self.log_dir)


class BenchStack(DevStack):
    def __init__(self, data_dir: Path, sqlite_pragmas: list[str] | None = None, pace: dict | None = None) -> None:
        free = {name: _free_port() for name in DevStackPorts.model_fields}
        self.pace = pace or FAST_PACE
        super().__init__(
            DevStackPorts(**free),
            data_dir=data_dir,
            fake_llm=True,
            speech_seconds_per_char=self.pace["speech_seconds_per_char"],
            caller_pause_seconds=self.pace["caller_pause_seconds"],
        )
        self.children = _LoggedChildren(log_dir=data_dir / "logs")
        self.simulator_url = f"http://127.0.0.1:{self.ports.simulator}"
        self.fake_llm_url = f"http://127.0.0.1:{self.ports.fake_llm}"
        self.sqlite_pragmas = sqlite_pragmas or []

    def _temporal_command(self) -> list[str]:
        return super()._temporal_command() + [
            arg for pragma in self.sqlite_pragmas for arg in ("--sqlite-pragma", pragma)
        ]

    def start(self) -> None:
        # The children inherit our environment: nothing of the developer's own stack (database, ports, namespace).
        for name in ("DATABASE_URL", "METRICS_PORT", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"):
            os.environ.pop(name, None)
        self._start()
        wait_for_port(self.ports.fake_llm, timeout=30, name="the fake OpenAI server")

    def _announce(self, env: dict[str, str]) -> None:
        print(f"stack is up (logs: {self.data_dir / 'logs'})", flush=True)

    def check_alive(self) -> None:
        if exited := self.children.first_exited():
            raise DevStackError(f"{exited[0]} exited with code {exited[1]} (log: {self.data_dir / 'logs'})")

    def under_test(self) -> list[int]:
        """The processes whose CPU is CloudGreet's: not the simulator and the fake LLM, which stand for
        Telnyx and OpenAI."""
        return [p.pid for name, p in self.children.children if name in ("temporal", "worker", "api")]


class NaiveStack(BenchStack):
    """The same simulator and fake LLM, with the naive receptionist (benchmarks/naive_receptionist.py)
    on the API's port in place of CloudGreet's API, worker and Temporal server."""

    def _start(self) -> None:
        from simulator.telnyx.signing import generate_signing_key

        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        seed, public_key = generate_signing_key()
        env = self._environment(public_key)
        python = [sys.executable, "-m"]
        webhook_url = f"http://127.0.0.1:{self.ports.api}/api/telnyx/voice-handler"
        simulator_command = [*python, "cloudgreet.cli", "simulator", "--port", str(self.ports.simulator)]
        simulator_command += ["--webhook-url", webhook_url]
        simulator_command += ["--speech-seconds-per-char", str(self.speech_seconds_per_char)]
        simulator_command += ["--caller-pause-seconds", str(self.caller_pause_seconds)]
        simulator = self.children.start("simulator", simulator_command, {**env, "SIMULATOR_SIGNING_KEY": seed})
        self.children.start(
            "fake-openai", [*python, "cloudgreet.cli", "fake-openai", "--port", str(self.ports.fake_llm)], env
        )
        repo = str(Path(__file__).resolve().parent.parent)
        naive = self.children.start(
            "naive",
            [*python, "benchmarks.naive_receptionist", "--port", str(self.ports.api)],
            {**env, "PYTHONPATH": repo},
        )
        wait_for_port(self.ports.simulator, timeout=30, process=simulator, name="the Telnyx simulator")
        wait_for_port(self.ports.api, timeout=30, process=naive, name="the naive receptionist")

    def _announce(self, env: dict[str, str]) -> None:
        print(f"naive stack is up (logs: {self.data_dir / 'logs'})", flush=True)

    def under_test(self) -> list[int]:
        return [p.pid for name, p in self.children.children if name == "naive"]


def _cpu_seconds(pids: list[int]) -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, of `pids` and this process) so far; None off Linux.
    The machine may be shared: their difference shows whether something else competed for the CPUs."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        ours = sum(
            sum(int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]) for pid in pids
        )
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / hz, ours / hz + sum(os.times()[:2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- calls


def caller_line(label: str, turn: int) -> str:
    return f"Turn {turn} of call {label}: what about cleanings?"


async def place_calls(http: httpx.AsyncClient, labels: list[str], turns: int, spread_seconds: float = 0.0) -> list[str]:
    async def place(index: int, label: str) -> str:
        await asyncio.sleep(
            spread_seconds * index / max(len(labels), 1)
        )  # the pacing under test, not a wait for a result
        script = {"lines": [caller_line(label, t) for t in range(1, turns + 1)], "max_call_seconds": 60 + 10 * turns}
        response = await http.post("/simulator/calls", json=script)
        response.raise_for_status()
        return response.json()["call_control_id"]

    return list(await asyncio.gather(*(place(index, label) for index, label in enumerate(labels))))


async def wait_finished(http: httpx.AsyncClient, stack: BenchStack, ids: list[str], timeout: float) -> list[dict]:
    """Waits until every call ended (webhooks delivered), printing progress; returns the call records."""
    deadline, shown = time.monotonic() + timeout, -1
    while True:
        stack.check_alive()
        finished = sum(
            c["finished"] for c in (await http.get("/simulator/calls")).json() if c["call_control_id"] in ids
        )
        if finished != shown and len(ids) > 1:
            print(f"  calls finished {finished}/{len(ids)}", flush=True)
            shown = finished
        if finished == len(ids):
            return [(await http.get(f"/simulator/calls/{call_id}")).json() for call_id in ids]
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {finished} of {len(ids)} calls ended within {timeout:.0f}s (logs: {stack.data_dir / 'logs'})"
            )
        await asyncio.sleep(0.5)


def turn_latencies(calls: list[dict], llm_requests: list[dict]) -> dict:
    """Orchestration, raw and LLM milliseconds of every caller turn of `calls`."""
    by_line: dict[str, list[dict]] = {}
    for request in llm_requests:
        users = [m.get("content") for m in request.get("messages") or [] if m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            by_line.setdefault(users[-1], []).append(request)
    raw, llm, orchestration, missing, retried = [], [], [], 0, 0
    for call in calls:
        for timing in call["turn_timings"]:
            line = call["script"]["lines"][timing["line_index"]]["text"]
            spoken = [r for r in by_line.get(line, []) if r.get("first_sentence_at")]
            retried += len(by_line.get(line, [])) > 1
            if timing["first_speak_received_at"] is None or not spoken:
                missing += 1
                continue
            request = spoken[-1]  # the attempt whose sentence was spoken
            raw.append((timing["first_speak_received_at"] - timing["final_transcript_sent_at"]) * 1000)
            llm.append((request["first_sentence_at"] - request["received_at"]) * 1000)
            orchestration.append(raw[-1] - llm[-1])
        missing += len(call["script"]["lines"]) - len(call["turn_timings"])
    return {
        "orchestration_ms": orchestration,
        "raw_ms": raw,
        "llm_ms": llm,
        "missing_turns": missing,
        "turns_with_llm_retries": retried,
    }


def percentiles(values: list[float]) -> dict:
    """Nearest-rank percentiles: p99 of fewer than 100 values is the maximum."""
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    if not ordered:
        return {"count": 0}
    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": ordered[-1], "count": len(ordered)}


# --------------------------------------------------------------------------- history


def _event_name(event) -> str:
    name = "".join(w.capitalize() for w in EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").split("_"))
    if event.HasField("activity_task_scheduled_event_attributes"):
        return f"{name}({event.activity_task_scheduled_event_attributes.activity_type.name})"
    if event.HasField("workflow_execution_signaled_event_attributes"):
        kinds = []
        for signal_event in _signal_events(event):
            kind = signal_event.get("event_type", "?")
            if kind == "call.transcription":
                kind += " final" if signal_event.get("is_final") else " interim"
            kinds.append(kind)
        return f"{name}({' + '.join(kinds) or '?'})"
    return name


def _signal_events(event) -> list[dict]:
    """The Telnyx events of a signal: one (`telnyx_event`), or several the API sent together (`telnyx_events`)."""
    try:
        data = json.loads(event.workflow_execution_signaled_event_attributes.input.payloads[0].data)
    except (IndexError, ValueError):
        return []
    return data if isinstance(data, list) else [data]


async def finished_history(temporal: Client, call_control_id: str) -> list:
    handle = temporal.get_workflow_handle(call_workflow_id(call_control_id))
    await asyncio.wait_for(handle.result(), 60)
    return list((await handle.fetch_history()).events)


def one_turn(events: list, line: str, next_line: str | None) -> list[str]:
    """Event names from the caller's first words of `line` to those of the next line (or the hang-up);
    empty if the history does not show them (e.g. the warm-up call went wrong)."""

    def starts(event, text: str | None) -> bool:
        signalled = _signal_events(event) if event.HasField("workflow_execution_signaled_event_attributes") else []
        if text is None:
            return any(data.get("event_type") == "call.hangup" for data in signalled)
        for data in signalled:
            words = (data.get("transcript") or "").split()
            if words and text.split()[: len(words)] == words:
                return True
        return False

    begin = next((i for i, e in enumerate(events) if starts(e, line)), None)
    end = next((i for i, e in enumerate(events) if begin is not None and i > begin and starts(e, next_line)), None)
    return [] if end is None else [_event_name(e) for e in events[begin:end]]


# --------------------------------------------------------------------------- the run


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system time of `pids` (and their reaped children) so far, in seconds; 0 off Linux."""
    total = 0
    for pid in pids:
        try:
            total += sum(int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:15])
        except (OSError, ValueError):
            return 0.0
    return total / os.sysconf("SC_CLK_TCK")


async def run_level(stack: BenchStack, http: httpx.AsyncClient, labels: list[str], turns: int, timeout: float) -> dict:
    """Places one call per label at the stack's pace, waits until all ended; latencies and CPU of the run."""
    await http.delete(f"{stack.fake_llm_url}/_fake/requests")
    under_test = stack.under_test()
    named = {name: p.pid for name, p in stack.children.children if p.pid in under_test}
    started, cpu_before, ours_before = (
        time.monotonic(),
        _cpu_seconds([p.pid for _, p in stack.children.children]),
        {name: process_cpu_seconds([pid]) for name, pid in named.items()},
    )
    ids = await place_calls(http, labels, turns, stack.pace["spread_seconds"])
    calls = await wait_finished(http, stack, ids, timeout)
    wall, cpu_after = time.monotonic() - started, _cpu_seconds([p.pid for _, p in stack.children.children])
    requests = (await http.get(f"{stack.fake_llm_url}/_fake/requests")).json()
    result = {"calls": len(labels), "turns_per_call": turns, "wall_seconds": wall, **turn_latencies(calls, requests)}
    result["cpu_seconds_by_process"] = {n: process_cpu_seconds([pid]) - ours_before[n] for n, pid in named.items()}
    result["cpu_seconds"] = sum(result["cpu_seconds_by_process"].values())
    result["cpu_ms_per_turn"] = result["cpu_seconds"] * 1000 / max(len(result["raw_ms"]), 1)
    if cpu_before and cpu_after:
        machine, ours = (after - before for after, before in zip(cpu_after, cpu_before, strict=False))
        result["other_cpu_percent"] = max(0.0, machine - ours) / wall / os.cpu_count() * 100
    result["call_control_ids"] = ids
    return result


async def measure(
    stack: BenchStack, naive: NaiveStack | None, concurrency: list[int], turns: int, silences: bool = True
) -> dict:
    temporal = await Client.connect(f"127.0.0.1:{stack.ports.temporal}")
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        print("warm-up call (not counted) and a call with no caller turn ...", flush=True)
        warm_up = (await place_calls(http, ["warmup"], turns))[0]
        await wait_finished(http, stack, [warm_up], 120)
        zero = (await place_calls(http, ["zero"], 0))[0]
        await wait_finished(http, stack, [zero], 60)
        warm_events, zero_events = await finished_history(temporal, warm_up), await finished_history(temporal, zero)
        history = {
            "events_zero_turn_call": len(zero_events),
            "events_warm_up_call": len(warm_events),
            "events_per_turn": (len(warm_events) - len(zero_events)) / turns,
            "zero_turn_event_types": [_event_name(e) for e in zero_events],
            "one_turn_event_types": one_turn(
                warm_events, caller_line("warmup", min(2, turns)), caller_line("warmup", 3) if turns >= 3 else None
            ),
        }
        behaviour = (await http.get(f"{stack.fake_llm_url}/_fake/behaviour")).json()
        runs = []
        for n in concurrency:
            naive_run = None
            if naive is not None:  # first, on its own stack, while CloudGreet's idles
                async with httpx.AsyncClient(base_url=naive.simulator_url, timeout=30) as naive_http:
                    if not runs:
                        await wait_finished(naive_http, naive, await place_calls(naive_http, ["warmup"], turns), 120)
                    naive_run = await run_level(
                        naive, naive_http, [f"{n}x-{i}" for i in range(1, n + 1)], turns, 90 + 15 * turns
                    )
                    del naive_run["call_control_ids"]
            print(f"{n} concurrent call(s) of {turns} turns placed", flush=True)
            result = await run_level(stack, http, [f"{n}x-{i}" for i in range(1, n + 1)], turns, 90 + 15 * turns)
            ids = result.pop("call_control_ids")
            result["stack_cpu_seconds"] = result["cpu_seconds"]
            counts = [len(events) for events in await asyncio.gather(*(finished_history(temporal, i) for i in ids))]
            result["history_events_per_turn"] = [(c - len(zero_events)) / turns for c in counts]
            result["naive"] = naive_run
            runs.append(result)
    silence_report = None
    if silences:
        from benchmarks.turn_silences import measure_silences

        silence_report = await measure_silences(stack, min(concurrency), turns)
    return {
        "silences": silence_report,
        "settings": {
            **stack.pace,
            "temporal_sqlite_pragmas": stack.sqlite_pragmas,
            "fake_llm_behaviour": behaviour,
            "cpus": os.cpu_count(),
        },
        "runs": runs,
        "history": history,
    }


def _ratio(ours: float, naive: float) -> str:
    return f"{ours / naive:6.1f}x" if naive > 0 else "     -"


def print_report(report: dict) -> None:
    print(
        "\nOrchestration latency per caller turn, ms (first speak - final transcript - fake LLM time to first sentence)"
    )
    print(
        f"{'calls':>5} {'turns':>5} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'count':>6} | {'raw p50':>8} {'LLM p50':>8} {'missing':>7} {'ev/turn':>8} {'CPU ms/turn':>11}"
    )
    for run in report["runs"]:
        rows = [("CloudGreet", run)] + ([("naive", run["naive"])] if run.get("naive") else [])
        for name, row in rows:
            o, raw, llm = (percentiles(row[k]) for k in ("orchestration_ms", "raw_ms", "llm_ms"))
            ev = row.get("history_events_per_turn") or []
            cells = [f"{o.get(k, float('nan')):8.1f}" for k in ("p50", "p90", "p99", "max")]
            print(
                f"{row['calls']:>5} {row['turns_per_call']:>5} {' '.join(cells)} {o['count']:>6} | "
                f"{raw.get('p50', float('nan')):8.1f} {llm.get('p50', float('nan')):8.1f} {row['missing_turns']:>7} "
                f"{(sum(ev) / len(ev)) if ev else 0:8.1f} {row['cpu_ms_per_turn']:11.1f}  {name}"
            )
            if len(row["cpu_seconds_by_process"]) > 1:
                turns_answered = max(len(row["raw_ms"]), 1)
                split = (f"{n} {s * 1000 / turns_answered:.0f}" for n, s in row["cpu_seconds_by_process"].items())
                print(f"      CPU ms per turn by process: {', '.join(split)}")
            if row.get("other_cpu_percent", 0) > 5:
                print(
                    f"      note: other processes used {row['other_cpu_percent']:.0f}% of the machine's CPUs during this run"
                )
        if naive := run.get("naive"):
            ours, theirs = (percentiles(r["orchestration_ms"]) for r in (run, naive))
            if ours["count"] and theirs["count"]:
                print(
                    f"      CloudGreet / naive: p50 {_ratio(ours['p50'], theirs['p50'])}, p99 {_ratio(ours['p99'], theirs['p99'])}, "
                    f"CPU per turn {_ratio(run['cpu_ms_per_turn'], naive['cpu_ms_per_turn'])}"
                )
        o = percentiles(run["orchestration_ms"])
        if run["calls"] >= 50 and o["count"]:
            met = o["p50"] <= TARGET_P50_MS and o["p99"] <= TARGET_P99_MS
            print(
                f"      targets with {run['calls']} calls: p50 <= {TARGET_P50_MS:.0f} ms and p99 <= {TARGET_P99_MS:.0f} ms: "
                f"{'MET' if met else 'NOT MET'}"
            )
    if report.get("silences"):
        from benchmarks.turn_silences import print_silences

        print_silences(report["silences"], percentiles)
    h = report["history"]
    print(
        f"\nTemporal history events per caller turn: {h['events_per_turn']:.1f} "
        f"(warm-up call {h['events_warm_up_call']} events, call with no caller turn {h['events_zero_turn_call']})"
    )
    print(f"One turn ({len(h['one_turn_event_types'])} events):")
    for name, count in Counter(h["one_turn_event_types"]).most_common():
        print(f"  {count:3d} x {name}")
    if zero := h.get("zero_turn_event_types"):
        # What every call pays once, turns or not: its start, greeting and end.
        print(f"A call with no caller turn ({len(zero)} events):")
        for name, count in Counter(zero).most_common():
            print(f"  {count:3d} x {name}")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack like Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="turn_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls", type=int, action="append", help="concurrent calls of one run; repeatable (default: 1 and 50)"
    )
    parser.add_argument("--turns", type=int, default=5, help="caller turns per call (default 5)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    parser.add_argument(
        "--sqlite-pragma",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="for the Temporal dev server's SQLite, e.g. journal_mode=wal; repeatable (default: as `cloudgreet dev`)",
    )
    parser.add_argument(
        "--pace",
        choices=["fast", "phone"],
        default="fast",
        help="fast: callers answer in 0.3 s and speech is 14x quickly, all calls start at once (a stress test); "
        "phone: human pace, calls start over 10 s",
    )
    parser.add_argument(
        "--no-naive",
        dest="naive",
        action="store_false",
        help="skip the naive baseline (benchmarks/naive_receptionist.py) measured before each run",
    )
    parser.add_argument(
        "--no-silences",
        dest="silences",
        action="store_false",
        help="skip the silences with and without speculative replies (benchmarks/turn_silences.py)",
    )
    args = parser.parse_args(argv)
    if args.turns < 1 or any(n < 1 for n in args.calls or []):
        parser.error("--calls and --turns must be at least 1")
    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-bench-"))
    pace = PHONE_PACE if args.pace == "phone" else FAST_PACE
    stack, failed = BenchStack(data_dir, args.sqlite_pragma, pace), True
    naive: NaiveStack | None = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"starting the stack in {data_dir} ...", flush=True)
        try:
            stack.start()
            if args.naive:
                # Its free ports are chosen only now: the Temporal dev server takes random ones as it starts.
                naive = NaiveStack(data_dir / "naive", pace=pace)
                naive.start()
        except DevStackError as error:
            print(f"turn_latency: the stack did not start: {error} (logs: {data_dir / 'logs'})", file=sys.stderr)
            return 1
        report = asyncio.run(measure(stack, naive, args.calls or [1, 50], args.turns, args.silences))
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
            print(f"\nall numbers written to {args.json}")
        failed = False
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (DevStackError, TimeoutError, httpx.HTTPError) as error:
        print(f"turn_latency: {error}", file=sys.stderr)
        return 1
    finally:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not leave children running
            signal.signal(stop_signal, signal.SIG_IGN)
        print("stopping the stack ...", flush=True)
        stack.children.stop_all()
        if naive is not None:
            naive.children.stop_all()
        if failed or args.keep_data:
            print(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
