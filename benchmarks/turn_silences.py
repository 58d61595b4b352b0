"""The silences a caller hears, with and without speculative replies: part of `cloudgreet bench turns`.

Callers talk at a phone's pace: an interim transcript every `INTERIM_SPACING_SECONDS` while they
talk, and the final one only after the endpointing silence the business asks Telnyx for (700 ms,
business/listening.py), as the simulator's `endpointing` models it. The fake LLM takes `LLM_MS` to
its first sentence. The same calls go to two businesses of the bench's database, alike but for
`reply_timing.speculate`, in the same run:

* last word -> first speak: the simulator's last interim transcript of a line to the first `speak`
  command after it (what the caller hears as silence);
* final -> first speak: the final transcript's webhook to that `speak`;
* LLM requests per turn: the fake LLM's requests during the run over the turns answered;
* longest silence per call: `call_metrics.longest_silence_ms`, as the workflow measured it.

Then one call to the speculating business with an LLM that hangs on every request: its longest
silence shows the filler and the offline responder taking over (goal: none over 1.5 s).
"""

from __future__ import annotations

import asyncio

import httpx
from sqlmodel import Session, select

from benchmarks.turn_latency import BenchStack, wait_finished
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Business, CallMetrics

LLM_MS = 400
INTERIM_SPACING_SECONDS = 0.15
DEMO_NUMBER = "+15555550100"
NO_SPECULATION_NUMBER = "+15555550101"
GOAL_FINAL_TO_SPEAK_P50_MS = 120
GOAL_REQUESTS_PER_TURN = 1.3
GOAL_LONGEST_SILENCE_HANGING_MS = 1500


def database_of(stack: BenchStack) -> str:
    """The bench stack's own database (`DevStack` puts it in its data dir; `BenchStack` names no other)."""
    return f"sqlite:///{stack.data_dir / 'cloudgreet.db'}"


def add_business_without_speculation(database_url: str) -> None:
    """The demo business again, on a number of its own, answering only final transcripts."""
    with Session(get_engine(database_url)) as session:
        demo = session.exec(select(Business).where(Business.phone_number == DEMO_NUMBER)).one()
        config = BusinessConfig.model_validate(demo.config)
        config = config.model_copy(
            update={
                "phone_number": NO_SPECULATION_NUMBER,
                "reply_timing": config.reply_timing.model_copy(update={"speculate": False}),
            }
        )
        if session.exec(select(Business).where(Business.phone_number == NO_SPECULATION_NUMBER)).first() is None:
            session.add(
                Business(name=config.name, phone_number=NO_SPECULATION_NUMBER, config=config.model_dump(mode="json"))
            )
            session.commit()


def caller_line(label: str, turn: int) -> str:
    return f"Turn {turn} of call {label}: do you have any openings for a cleaning next week?"


async def place(http: httpx.AsyncClient, number: str, labels: list[str], turns: int) -> list[str]:
    async def one(label: str) -> str:
        script = {
            "to_number": number,
            "lines": [caller_line(label, t) for t in range(1, turns + 1)],
            "endpointing": True,
            "interim_spacing_seconds": INTERIM_SPACING_SECONDS,
            "caller_pause_seconds": 0.8,
            "max_call_seconds": 60 + 15 * turns,
        }
        response = await http.post("/simulator/calls", json=script)
        response.raise_for_status()
        return response.json()["call_control_id"]

    return list(await asyncio.gather(*(one(label) for label in labels)))


def longest_silences(database_url: str, ids: list[str]) -> list[float]:
    with Session(get_engine(database_url)) as session:
        found = session.exec(select(CallMetrics).where(CallMetrics.call_id.in_(ids))).all()  # type: ignore[attr-defined]
        return [m.longest_silence_ms for m in found if m.longest_silence_ms is not None]


async def one_variant(stack: BenchStack, http: httpx.AsyncClient, number: str, calls: int, turns: int) -> dict:
    await http.delete(f"{stack.fake_llm_url}/_fake/requests")
    labels = [f"{number[-3:]}-{i}" for i in range(1, calls + 1)]
    ids = await place(http, number, labels, turns)
    records = await wait_finished(http, stack, ids, 90 + 20 * turns)
    requests = (await http.get(f"{stack.fake_llm_url}/_fake/requests")).json()
    last_word, final = [], []
    for call in records:
        for timing in call["turn_timings"]:
            if timing["first_speak_received_at"] is None:
                continue
            final.append((timing["first_speak_received_at"] - timing["final_transcript_sent_at"]) * 1000)
            if timing.get("last_word_at") is not None:
                last_word.append((timing["first_speak_received_at"] - timing["last_word_at"]) * 1000)
    answered = max(len(final), 1)
    await asyncio.sleep(1.0)  # the calls' records are written as their workflows close
    return {
        "last_word_to_speak_ms": last_word,
        "final_to_speak_ms": final,
        "llm_requests": len(requests),
        "llm_requests_per_turn": len(requests) / answered,
        "longest_silence_ms_per_call": longest_silences(database_of(stack), ids),
        "turns": len(final),
    }


async def measure_silences(stack: BenchStack, calls: int, turns: int) -> dict:
    add_business_without_speculation(database_of(stack))
    async with httpx.AsyncClient(base_url=stack.simulator_url, timeout=30) as http:
        behaviour = (await http.get(f"{stack.fake_llm_url}/_fake/behaviour")).json()
        slow = {**behaviour, "first_token_delay_ms": LLM_MS}
        await http.put(f"{stack.fake_llm_url}/_fake/behaviour", json=slow)
        try:
            print(f"silences: {calls} call(s) of {turns} turns with speculation, then without ...", flush=True)
            with_speculation = await one_variant(stack, http, DEMO_NUMBER, calls, turns)
            without = await one_variant(stack, http, NO_SPECULATION_NUMBER, calls, turns)
            print("silences: one call with an LLM that hangs ...", flush=True)
            await http.put(
                f"{stack.fake_llm_url}/_fake/behaviour", json={**slow, "hang_next": 1000, "hang_seconds": 30}
            )
            hanging = await one_variant(stack, http, DEMO_NUMBER, 1, min(turns, 3))
        finally:
            await http.put(f"{stack.fake_llm_url}/_fake/behaviour", json=behaviour)
    return {
        "llm_ms": LLM_MS,
        "interim_spacing_seconds": INTERIM_SPACING_SECONDS,
        "with_speculation": with_speculation,
        "without_speculation": without,
        "hanging_llm": hanging,
    }


def print_silences(report: dict, percentiles) -> None:
    print(
        f"\nSilences per caller turn, ms (LLM {report['llm_ms']} ms to its first sentence, 700 ms endpointing, "
        f"an interim every {report['interim_spacing_seconds'] * 1000:.0f} ms)"
    )
    print(
        f"{'':24} {'last word->speak p50':>21} {'p90':>7} {'final->speak p50':>17} {'p90':>7} {'req/turn':>9} {'longest silence/call max':>25}"
    )
    rows = [
        ("with speculation", report["with_speculation"]),
        ("without speculation", report["without_speculation"]),
        ("LLM hanging", report["hanging_llm"]),
    ]
    for name, row in rows:
        word, final = percentiles(row["last_word_to_speak_ms"]), percentiles(row["final_to_speak_ms"])
        silences = row["longest_silence_ms_per_call"]
        print(
            f"{name:24} {word.get('p50', float('nan')):21.0f} {word.get('p90', float('nan')):7.0f} "
            f"{final.get('p50', float('nan')):17.0f} {final.get('p90', float('nan')):7.0f} "
            f"{row['llm_requests_per_turn']:9.2f} {max(silences) if silences else float('nan'):25.0f}"
        )
    ours = report["with_speculation"]
    final_p50 = percentiles(ours["final_to_speak_ms"]).get("p50", float("inf"))
    hanging = report["hanging_llm"]["longest_silence_ms_per_call"]
    goals = [
        (f"final -> first speak p50 <= {GOAL_FINAL_TO_SPEAK_P50_MS} ms", final_p50 <= GOAL_FINAL_TO_SPEAK_P50_MS),
        (f"LLM requests per turn <= {GOAL_REQUESTS_PER_TURN}", ours["llm_requests_per_turn"] <= GOAL_REQUESTS_PER_TURN),
        (
            f"no silence over {GOAL_LONGEST_SILENCE_HANGING_MS} ms with a hanging LLM",
            bool(hanging) and max(hanging) <= GOAL_LONGEST_SILENCE_HANGING_MS,
        ),
    ]
    for goal, met in goals:
        print(f"      {goal}: {'MET' if met else 'NOT MET'}")
