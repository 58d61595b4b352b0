"""The LLM down: the calls are answered by the offline responder and go on, and nobody is transferred for it.

The fake OpenAI server's outage is a window of its own clock (`FakeOpenAI.begin_outage`): every chat
request in it fails with 500, or hangs until the window closes. Calls arrive through the minute and
after it, as real traffic would; which of their turns the LLM answered is read from the fake's own
log (a request it answered), so the test holds however the machine's load shifts the calls in time.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import Session, select

from business.listening import DEFAULT_FILLER
from database.engine import get_engine
from database.models import Call, ConversationTurn
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import text_of
from simulator.fake_openai.outage import OutageRequest
from tests.test_long_calls import agent_lines
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, place
from tests.waiting import eventually

OUTAGE_SECONDS = 60
CALL_SPACING_SECONDS = 8
CALLS = 10  # the last ones after the outage: the LLM answers again


def asked_about(record, line: str) -> bool:
    users = [text_of(m.get("content")) for m in record.messages or [] if m.get("role") == "user"]
    return bool(users) and users[-1] == line


async def llm_answers_again(stack) -> None:
    """Calls until one is answered by the LLM: the worker has stopped remembering the outage."""
    fake = stack.fake_llm.fake
    tries = iter(range(1000))

    async def answered_by_the_llm() -> bool:
        line = f"Are you back, try {next(tries)}?"
        await place(stack, CallScript(from_number="+15555550299", lines=[line]))
        return any(r.status_code == 200 for r in fake.requests if asked_about(r, line))

    await eventually(answered_by_the_llm, bool, timeout=90, what="the LLM answering calls again")


@pytest.mark.parametrize("kind", ["fail", "hang"])
async def test_an_outage_is_invisible_to_a_caller_whose_questions_the_offline_responder_answers(stack, kind):
    fake = stack.fake_llm.fake
    lines = [f"How much is a cleaning? ({kind})", f"And what are your hours on Friday? ({kind})"]
    fake.clear_requests()
    fake.begin_outage(OutageRequest(seconds=OUTAGE_SECONDS, kind=kind))
    try:
        call = await place(stack, CallScript(from_number="+15555550298", lines=lines), timeout=90)
    finally:
        fake.end_outage()
    try:
        heard = " ".join(agent_lines(call))
        assert "Would you like to book?" in heard and "a cleaning takes" in heard.lower(), heard
        assert "Our hours are" in heard, heard
        assert not call.transfers and "transfer" not in [c.action for c in call.commands], "nobody was transferred"
        summary = await finished_workflow(stack, call)
        assert summary.fallback_level == "offline" and summary.caller_turns == 2
        asked = [len([r for r in fake.requests if asked_about(r, line)]) for line in lines]
        assert asked[0] >= 1 and all(r.during_outage for r in fake.requests if asked_about(r, lines[0]))
        # With fillers, a turn gives the LLM one try: the circuit opens after the failures of a turn or two
        # (tests/test_llm_circuit.py), so the second turn asks it once at most.
        assert asked[1] <= 1, f"the second turn asked the LLM at most once: {asked}"
    finally:
        await llm_answers_again(stack)


@pytest.mark.parametrize("kind", ["fail", "hang"])
async def test_a_minute_without_the_llm_every_caller_is_answered_and_the_calls_go_on(stack, kind):
    fake = stack.fake_llm.fake
    fake.clear_requests()
    lines = [f"Caller {n} of the {kind} minute: what are your opening hours?" for n in range(CALLS)]
    calls = []
    fake.begin_outage(OutageRequest(seconds=OUTAGE_SECONDS, kind=kind))
    began = time.monotonic()
    try:
        for n, line in enumerate(lines):
            # Traffic through the minute and past it, one call every few seconds.
            await asyncio.sleep(max(0.0, began + n * CALL_SPACING_SECONDS - time.monotonic()))
            calls.append(stack.simulator.place_call(CallScript(from_number=f"+155555502{n:02d}", lines=[line])))
        for call in calls:
            await stack.simulator.wait_ended(call, 90)
    finally:
        fake.end_outage()

    answered_by = {}
    with Session(get_engine(stack.database_url)) as session:
        for call, line in zip(calls, lines, strict=True):
            summary = await finished_workflow(stack, call)
            assert summary.status == "ended" and summary.caller_turns == 1, line
            assert call.hangup_source == "caller", "the caller heard the answer and said goodbye"
            # A turn the LLM keeps waiting opens with the filler, once; the turn's record is its answer.
            heard = agent_lines(call)
            assert heard.count(DEFAULT_FILLER) <= 1
            heard = [line for line in heard if line != DEFAULT_FILLER]
            assert heard[0] == GREETING
            (turn_said,) = session.exec(
                select(ConversationTurn).where(
                    ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == "agent"
                )
            ).all()
            assert turn_said.text == " ".join(heard[1:]), "the record holds what the caller heard, once"
            record = session.get(Call, call.call_control_id)
            assert record.status == "ended"

            llm_answered = any(r.status_code == 200 for r in fake.requests if asked_about(r, line))
            if llm_answered:
                assert heard[1:] == fake_reply(line)
                assert record.fallback_level == "llm"
            else:
                assert all(r.during_outage for r in fake.requests if asked_about(r, line))
                assert heard[1:] and heard[1:] != fake_reply(line), "the offline responder answered"
                assert record.fallback_level == "offline"
            answered_by[line] = "llm" if llm_answered else "offline"

    brains = list(answered_by.values())
    assert brains.count("offline") >= 3, f"the calls of the outage were answered offline: {brains}"
    assert brains[-1] == "llm", f"after the outage the LLM answers again: {brains}"
