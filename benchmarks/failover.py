"""What a worker's death costs the callers: the extra silence of the turns it interrupts.

    python -m benchmarks.failover [--calls N] [--caller-pause S] [--chunk-delay-ms MS] [--json out.json]
    cloudgreet bench failover [same options]

It starts the stack of `cloudgreet dev --fake-llm` on free ports (as `cloudgreet bench turns`)
with a second worker process, places warm-up calls (not counted), then runs the same N calls of
two caller turns twice, one batch after the other:

1. the baseline: both workers stay up;
2. the kill: once the fake LLM has received every call's first caller line (every call is
   mid-turn: its reply is generating or speaking), one worker gets SIGKILL.

The silence of a turn is what the caller hears between their final words and the end of the
reply: from the final transcription to the first sentence starting to play, plus every gap
between one sentence ending and the next starting. A call's extra silence is the sum over its
turns of (silence with the kill - silence of the same call in the baseline). The calls the kill
touched are those with a workflow task on the killed worker, an activity attempted again, or a
timeout in their history; the others show the noise of the machine.

Sentences repeated: a sentence of the fake LLM's reply heard more than once in a turn. Turns
lost: a caller line with any sentence of its reply never heard before the caller spoke again.
The caller waits --caller-pause seconds of silence before taking a reply as finished, so a
failover gap shorter than that is measured rather than talked over.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from benchmarks.turn_latency import BenchStack, finished_history, percentiles, wait_finished
from cloudgreet.dev_stack import DevStackError

TURNS = 2
# Slow enough words that a reply is still generating or speaking when the worker dies.
CHUNK_DELAY_MS = 60.0


class FailoverStack(BenchStack):
    """The benchmark stack with a second worker; `kill_worker` SIGKILLs the first one."""

    def _announce(self, env: dict[str, str]) -> None:
        self.env = env
        self.children.start("worker-2", [sys.executable, "-m", "cloudgreet.cli", "worker"], env)
        super()._announce(env)

    def kill_worker(self) -> int:
        """SIGKILLs the worker `cloudgreet dev` started; its pid, which names it in the histories."""
        name, process = next(child for child in self.children.children if child[0] == "worker")
        self.children.children.remove((name, process))
        process.kill()
        process.wait()
        return process.pid


# --------------------------------------------------------------------------- calls


def caller_line(batch: str, call: int, turn: int) -> str:
    return f"Turn {turn} of call {batch}-{call}: what about cleanings?"


def expected_reply(line: str) -> list[str]:
    """The fake LLM's echo of a caller line, sentence by sentence."""
    return [f"Thanks for asking about {line.rstrip('.?!')}.", "I can help you with that."]


async def place_batch(http: httpx.AsyncClient, batch: str, calls: int, caller_pause: float) -> list[str]:
    async def place(call: int) -> str:
        script = {
            "lines": [caller_line(batch, call, t) for t in range(1, TURNS + 1)],
            "caller_pause_seconds": caller_pause,
            "max_call_seconds": 60 + 4 * caller_pause,
        }
        response = await http.post("/simulator/calls", json=script)
        response.raise_for_status()
        return response.json()["call_control_id"]

    return list(await asyncio.gather(*(place(call) for call in range(1, calls + 1))))


async def wait_mid_turn(http: httpx.AsyncClient, fake_llm_url: str, lines: list[str], timeout: float) -> None:
    """Until the fake LLM has received every one of `lines`: each of those calls is mid-turn."""
    deadline = time.monotonic() + timeout
    while True:
        requests = (await http.get(f"{fake_llm_url}/_fake/requests")).json()
        asked = {m.get("content") for r in requests for m in r.get("messages") or [] if m.get("role") == "user"}
        if all(line in asked for line in lines):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the calls did not all reach their first turn within {timeout:.0f}s")
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- what the callers heard


def turns_heard(call: dict) -> list[dict]:
    """Per caller line: the silence before and within its reply, and the sentences heard."""
    conversation = call["conversation"]
    caller_at = [line["at"] for line in conversation if line["speaker"] == "caller"]
    timings = {t["line_index"]: t for t in call["turn_timings"]}
    turns = []
    for index, script_line in enumerate(call["script"]["lines"]):
        begins = caller_at[index] if index < len(caller_at) else None
        ends = caller_at[index + 1] if index + 1 < len(caller_at) else float("inf")
        agent = [
            line
            for line in conversation
            if line["speaker"] == "agent" and begins is not None and begins <= line["at"] < ends
        ]
        timing = timings.get(index)
        silence = None
        if timing and agent:
            silence = agent[0]["at"] - timing["final_transcript_sent_at"]
            for before, after in itertools.pairwise(agent):
                silence += max(0.0, after["at"] - (before["ended_at"] or after["at"]))
        heard = [line["text"] for line in agent]
        expected = expected_reply(script_line["text"])
        turns.append(
            {
                "line": script_line["text"],
                "silence_s": silence,
                "heard": heard,
                "repeated": sum(count - 1 for count in Counter(heard).values()),
                "lost": not all(sentence in heard for sentence in expected),
            }
        )
    return turns


def touched_by_kill(events: list, killed_pid: int) -> bool:
    """Whether the kill reached this call: a workflow task on the killed worker, an activity's
    second attempt, or a timeout in its history."""
    timed_out = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    }
    for event in events:
        if event.event_type in timed_out:
            return True
        started = event.workflow_task_started_event_attributes
        if event.HasField("workflow_task_started_event_attributes") and started.identity.startswith(f"{killed_pid}@"):
            return True
        attempt = event.activity_task_started_event_attributes.attempt
        if event.HasField("activity_task_started_event_attributes") and attempt > 1:
            return True
    return False


def workflow_task_seconds(events: list) -> list[float]:
    """How long each completed workflow task took, started to completed: what the workflow task
    timeout (workflows.call_options.CALL_WORKFLOW_TASK_TIMEOUT) must leave room for."""
    started = {
        e.event_id: e.event_time.ToDatetime() for e in events if e.HasField("workflow_task_started_event_attributes")
    }
    return [
        (
            e.event_time.ToDatetime() - started[e.workflow_task_completed_event_attributes.started_event_id]
        ).total_seconds()
        for e in events
        if e.HasField("workflow_task_completed_event_attributes")
        and e.workflow_task_completed_event_attributes.started_event_id in started
    ]


def call_silences(call: dict) -> tuple[float | None, list[dict]]:
    turns = turns_heard(call)
    silences = [t["silence_s"] for t in turns]
    return (None if any(s is None for s in silences) else sum(silences)), turns  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the run


async def measure(stack: FailoverStack, calls: int, caller_pause: float, chunk_delay_ms: float) -> dict:
    temporal = await Client.connect(f"127.0.0.1:{stack.ports.temporal}")
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        behaviour = (await http.get(f"{stack.fake_llm_url}/_fake/behaviour")).json()
        behaviour["chunk_delay_ms"] = chunk_delay_ms
        (await http.put(f"{stack.fake_llm_url}/_fake/behaviour", json=behaviour)).raise_for_status()
        call_seconds = 90 + 6 * caller_pause
        print("warm-up calls (not counted), one per worker or so ...", flush=True)
        await wait_finished(http, stack, await place_batch(http, "warmup", 4, 0.3), call_seconds)

        print(f"baseline: {calls} calls of {TURNS} turns, both workers up ...", flush=True)
        baseline = await wait_finished(http, stack, await place_batch(http, "base", calls, caller_pause), call_seconds)

        print(f"kill: {calls} calls of {TURNS} turns, one worker SIGKILLed mid-turn ...", flush=True)
        ids = await place_batch(http, "kill", calls, caller_pause)
        await wait_mid_turn(http, stack.fake_llm_url, [caller_line("kill", c, 1) for c in range(1, calls + 1)], 60)
        killed_at, killed_pid = time.time(), stack.kill_worker()
        print(f"  worker (pid {killed_pid}) killed", flush=True)
        killed = await wait_finished(http, stack, ids, call_seconds)
        histories = [await finished_history(temporal, call_id) for call_id in ids]
        touched = [touched_by_kill(events, killed_pid) for events in histories]
        task_seconds = [s for events in histories for s in workflow_task_seconds(events)]

    results = []
    for index, (base_call, kill_call) in enumerate(zip(baseline, killed, strict=True)):
        base_silence, base_turns = call_silences(base_call)
        kill_silence, kill_turns = call_silences(kill_call)
        results.append(
            {
                "call": index + 1,
                "touched_by_kill": touched[index],
                "baseline_silence_s": base_silence,
                "kill_silence_s": kill_silence,
                "extra_silence_s": None
                if base_silence is None or kill_silence is None
                else kill_silence - base_silence,
                "baseline_turns": base_turns,
                "kill_turns": kill_turns,
            }
        )
    return {
        "settings": {
            "calls": calls,
            "turns_per_call": TURNS,
            "caller_pause_seconds": caller_pause,
            "fake_llm_chunk_delay_ms": chunk_delay_ms,
            **stack.pace,
        },
        "killed_at": killed_at,
        "workflow_task_seconds": percentiles(task_seconds),
        "calls": results,
    }


def summary(report: dict) -> dict:
    calls = report["calls"]
    touched = [c for c in calls if c["touched_by_kill"]]
    untouched = [c for c in calls if not c["touched_by_kill"]]

    def extras(group: list[dict]) -> list[float]:
        return [c["extra_silence_s"] for c in group if c["extra_silence_s"] is not None]

    turns = [t for c in calls for t in c["kill_turns"]]
    base_turns = [t for c in calls for t in c["baseline_turns"]]
    return {
        "touched_calls": len(touched),
        "extra_silence_touched_s": percentiles(extras(touched)),
        "extra_silence_untouched_s": percentiles(extras(untouched)),
        "sentences_repeated": sum(t["repeated"] for t in turns),
        "turns_lost": sum(t["lost"] for t in turns),
        "turns": len(turns),
        "baseline_sentences_repeated": sum(t["repeated"] for t in base_turns),
        "baseline_turns_lost": sum(t["lost"] for t in base_turns),
    }


def print_report(report: dict) -> None:
    s = summary(report)
    settings = report["settings"]
    print(
        f"\nFailover: {settings['calls']} calls of {settings['turns_per_call']} turns, two workers, "
        f"one SIGKILLed while every call was mid-turn"
    )
    print(f"{'call':>4} {'touched':>7} {'baseline s':>10} {'with kill s':>11} {'extra s':>8}   extra per turn s")

    def cell(value: float | None, width: int) -> str:
        return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"

    for c in report["calls"]:
        per_turn = [
            cell(kill["silence_s"] - base["silence_s"], 5)
            if kill["silence_s"] is not None and base["silence_s"] is not None
            else cell(None, 5)
            for base, kill in zip(c["baseline_turns"], c["kill_turns"], strict=True)
        ]
        print(
            f"{c['call']:>4} {'yes' if c['touched_by_kill'] else 'no':>7} {cell(c['baseline_silence_s'], 10)} "
            f"{cell(c['kill_silence_s'], 11)} {cell(c['extra_silence_s'], 8)}   {' '.join(per_turn)}"
        )
    touched, untouched = s["extra_silence_touched_s"], s["extra_silence_untouched_s"]

    def figures(p: dict) -> str:
        return f"p50 {p['p50']:.2f} s, max {p['max']:.2f} s over {p['count']} calls" if p["count"] else "no calls"

    print(f"\nextra silence, calls the kill touched:   {figures(touched)}")
    print(f"extra silence, calls it did not touch:   {figures(untouched)}  (the machine's noise)")
    print(f"sentences repeated: {s['sentences_repeated']}   (baseline: {s['baseline_sentences_repeated']})")
    print(f"turns lost:         {s['turns_lost']} of {s['turns']}   (baseline: {s['baseline_turns_lost']})")
    tasks = report["workflow_task_seconds"]
    print(
        f"workflow tasks of the calls with the kill, started to completed: "
        f"p50 {tasks['p50'] * 1000:.0f} ms, p99 {tasks['p99'] * 1000:.0f} ms, max {tasks['max'] * 1000:.0f} ms"
    )


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack like Ctrl-C does


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="failover", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10, help="concurrent calls of each batch (default 10)")
    parser.add_argument(
        "--caller-pause",
        type=float,
        default=15.0,
        help="seconds of silence a caller waits before taking a reply as finished (default 15)",
    )
    parser.add_argument(
        "--chunk-delay-ms",
        type=float,
        default=CHUNK_DELAY_MS,
        help=f"the fake LLM's delay between words (default {CHUNK_DELAY_MS:.0f})",
    )
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir (databases, logs)")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    data_dir = Path(tempfile.mkdtemp(prefix="cloudgreet-failover-"))
    stack, failed = FailoverStack(data_dir), True
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"starting the stack in {data_dir} ...", flush=True)
        try:
            stack.start()
        except DevStackError as error:
            print(f"failover: the stack did not start: {error} (logs: {data_dir / 'logs'})", file=sys.stderr)
            return 1
        report = asyncio.run(measure(stack, args.calls, args.caller_pause, args.chunk_delay_ms))
        report["summary"] = summary(report)
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
        print(f"failover: {error}", file=sys.stderr)
        return 1
    finally:
        for stop_signal in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not leave children running
            signal.signal(stop_signal, signal.SIG_IGN)
        print("stopping the stack ...", flush=True)
        stack.children.stop_all()
        if failed or args.keep_data:
            print(f"data and logs kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
