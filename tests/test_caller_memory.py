"""Memory of returning callers: every call ends with a summary and its facts, a returning caller is
greeted by name with what is pending, both brains get the last summaries, and a caller can be
forgotten (admin API, CLI) or never remembered (a business setting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment, CallerMemory, ConversationTurn
from domain.vocabulary import AppointmentStatus, Speaker
from receptionist.booking_proof import ASK_CODE_TO_CANCEL
from receptionist.caller_memory import CallFacts, ReturningCaller, caller_name_in, extractive_summary, welcome_back
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeReplyRule
from tests.businesses import open_every_day, store_business
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.records import add_business, fresh_number
from tests.test_phone_call import finished_workflow, place, spoken

pytestmark = pytest.mark.database
ROOT = Path(__file__).resolve().parent.parent
LLM_SUMMARY = "Dana Reyes asked whether the business does whitening; nothing was booked."


@pytest.mark.parametrize(
    ("said", "name"),
    [
        (["Hi, my name is Dana Reyes and I need a cleaning"], "Dana Reyes"),
        (["Hello", "this is Sam calling about my sink"], "Sam"),
        (["It's Priya Nair, I called yesterday"], "Priya Nair"),
        (["I'm calling about my appointment", "I'm not sure"], None),
        (["do you do whitening?"], None),
    ],
)
def test_a_name_is_taken_from_how_callers_give_it(said: list[str], name: str | None) -> None:
    assert caller_name_in(said) == name


def test_the_extractive_summary_says_who_why_and_what_was_done() -> None:
    facts = CallFacts(name="Dana Reyes", reason="I need a cleaning", booked=["Cleaning Tuesday at 10 AM"])
    assert extractive_summary(facts) == 'Dana Reyes called: "I need a cleaning". Booked: Cleaning Tuesday at 10 AM.'
    assert extractive_summary(CallFacts(reason="What time do you open?")).endswith("Nothing was booked or promised.")


def test_only_a_caller_with_a_known_name_is_welcomed_back() -> None:
    from business.config import BusinessConfig

    config = BusinessConfig(name="Bright Smile Dental")
    usual = "Thank you for calling Bright Smile Dental. How can I help you today?"
    assert welcome_back(config, None, usual) == usual
    assert welcome_back(config, ReturningCaller(name=None, upcoming="cleaning Tuesday at 10 AM"), usual) == usual
    assert (
        welcome_back(config, ReturningCaller(name="Dana Reyes", upcoming="cleaning Tuesday at 10 AM"), usual)
        == "Hi Dana, welcome back to Bright Smile Dental. Is this about your upcoming appointment?"
    )


def memories_of(database_url: str, number: str) -> list[CallerMemory]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(CallerMemory).where(CallerMemory.caller_number == number)).all())


async def test_a_returning_caller_is_welcomed_by_name_with_their_next_appointment(offline_stack) -> None:
    business_id, config = add_business(offline_stack.database_url, "Welcome Back Plumbing", remember_callers=True)
    number = "+15555550191"
    first = await place(
        offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=["Hi, this is Dana Reyes."])
    )
    await finished_workflow(offline_stack, first)
    [memory] = memories_of(offline_stack.database_url, number)
    assert memory.facts["name"] == "Dana Reyes"
    assert memory.summary.startswith('Dana Reyes called: "Hi, this is Dana Reyes."')  # no LLM: extractive

    tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    with Session(get_engine(offline_stack.database_url)) as session:
        session.add(
            Appointment(
                business_id=business_id,
                service="Drain cleaning",
                starts_at=tomorrow,
                ends_at=tomorrow + timedelta(hours=1),
                caller_name="Dana Reyes",
                caller_number=number,
                idempotency_key=f"memory-test-{number}",
            )
        )
        session.commit()
    again = await place(offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=[]))
    greeting = spoken(again)[0]
    # Caller ID can be forged: the greeting says there is an appointment, never its service or time.
    assert greeting == "Hi Dana, welcome back to Welcome Back Plumbing. Is this about your upcoming appointment?"

    stranger = await place(offline_stack, CallScript(to_number=config.phone_number, from_number="+15555550192"))
    assert spoken(stranger)[0] == config.greeting_text()


async def test_the_offline_brain_books_a_returning_caller_under_their_name_and_cancel_it_means_their_booking(
    offline_stack,
) -> None:
    config = open_every_day(fresh_number(), remember_callers=True)
    store_business(offline_stack.database_url, config)
    number = fresh_number()
    first = await place(
        offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=["Hi, this is Dana Reyes."])
    )
    await finished_workflow(offline_stack, first)

    booking = await place(
        offline_stack,
        CallScript(
            to_number=config.phone_number,
            from_number=number,
            lines=["I'd like to book a cleaning tomorrow at 10 am", "Yes"],
        ),
    )
    await finished_workflow(offline_stack, booking)
    said = " ".join(spoken(booking))
    assert "your name" not in said, "the remembered name is not asked again"
    assert "under the name Dana Reyes. Shall I book it?" in said, said
    with Session(get_engine(offline_stack.database_url)) as session:
        [booked] = session.exec(select(Appointment).where(Appointment.call_id == booking.call_control_id)).all()
    assert (booked.caller_name, booked.caller_number) == ("Dana Reyes", number)

    cancelling = await place(
        offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=["I need to cancel it"])
    )
    await finished_workflow(offline_stack, cancelling)
    with Session(get_engine(offline_stack.database_url)) as session:
        [turn] = session.exec(
            select(ConversationTurn).where(
                ConversationTurn.call_id == cancelling.call_control_id, ConversationTurn.speaker == Speaker.AGENT
            )
        ).all()
        status = session.get(Appointment, booked.id).status
    [tool] = turn.tool_calls
    # "It" is the booking the business remembers; the caller must still prove it is theirs.
    starts = booked.starts_at.replace(tzinfo=UTC).astimezone(ZoneInfo(config.timezone))
    assert (tool["name"], json.loads(tool["arguments"])) == (
        "cancel_appointment",
        {"start": f"{starts:%Y-%m-%dT%H:%M}"},
    )
    assert ASK_CODE_TO_CANCEL in " ".join(spoken(cancelling))
    assert status == AppointmentStatus.BOOKED


async def test_the_llm_summarises_the_call_and_is_given_the_summary_next_time(stack) -> None:
    _, config = add_business(stack.database_url, "Memory Lane Dental", remember_callers=True)
    number = "+15555550193"
    fake = stack.fake_llm.fake
    before = fake.behaviour
    fake.set_behaviour(
        before.model_copy(update={"rules": [FakeReplyRule(contains="What the caller said", reply=LLM_SUMMARY)]})
    )
    try:
        first = await place(
            stack,
            CallScript(
                to_number=config.phone_number, from_number=number, lines=["My name is Dana Reyes, do you do whitening?"]
            ),
        )
        await finished_workflow(stack, first)
        [memory] = memories_of(stack.database_url, number)
        assert memory.summary == LLM_SUMMARY

        fake.clear_requests()
        again = await place(stack, CallScript(to_number=config.phone_number, from_number=number, lines=["Hello again"]))
        await finished_workflow(stack, again)
    finally:
        fake.set_behaviour(before)
    assert spoken(again)[0] == "Hi Dana, welcome back to Memory Lane Dental. How can I help you today?"
    [reply_request] = [r for r in fake.requests if r.stream]
    notes = [m["content"] for m in reply_request.messages if m["role"] == "system"]
    assert any(LLM_SUMMARY in note and "called before (Dana Reyes)" in note for note in notes), notes
    # The conversation and the tools reach the LLM whole (they travel in `extra_body`, past the SDK's walk).
    assert {"book_appointment", "take_message"} <= {tool["function"]["name"] for tool in reply_request.tools}
    assert reply_request.messages[-1] == {"role": "user", "content": "Hello again"}


async def test_a_caller_can_be_forgotten_and_a_business_can_remember_nobody(offline_stack) -> None:
    _, config = add_business(offline_stack.database_url, "Forgetful Florist", remember_callers=True)
    number = "+15555550194"
    call = await place(
        offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=["This is Ana Lima."])
    )
    await finished_workflow(offline_stack, call)
    assert len(memories_of(offline_stack.database_url, number)) == 1

    settings = make_settings(DATABASE_URL=offline_stack.database_url, ADMIN_API_KEY=ADMIN_KEY)
    with served_api(settings) as api:
        async with httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
            forgotten = await admin.delete(f"/api/admin/callers/{number}/memory")
            bad = await admin.delete("/api/admin/callers/5550100/memory")
    assert forgotten.status_code == 200 and forgotten.json()["forgotten_calls"] == 1
    assert bad.status_code == 422
    assert memories_of(offline_stack.database_url, number) == []
    again = await place(offline_stack, CallScript(to_number=config.phone_number, from_number=number, lines=[]))
    assert spoken(again)[0] == config.greeting_text()

    _, private = add_business(offline_stack.database_url, "Discreet Clinic", remember_callers=False)
    other = "+15555550195"
    call = await place(
        offline_stack, CallScript(to_number=private.phone_number, from_number=other, lines=["This is Ana Lima."])
    )
    await finished_workflow(offline_stack, call)
    assert memories_of(offline_stack.database_url, other) == []


def test_the_command_line_forgets_a_caller(database_url: str) -> None:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "ADMIN_"))}
    env = {**kept, "DATABASE_URL": database_url, "NO_COLOR": "1"}
    run = [sys.executable, "-m", "cloudgreet.cli", "callers", "forget"]
    done = subprocess.run([*run, "+15555550196"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Forgot 0 call summaries of +15555550196." in done.stdout
    refused = subprocess.run([*run, "555-0196"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "E.164" in refused.stderr
