"""Receptionist skills through the real stack: booking, hours, escalation, the fallback ladder.

Calls are placed by the Telnyx simulator from the scenario files the project keeps in
`scenarios/`; what the caller heard comes from the simulator's record, what was done from
the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment, Call, Callback, ConversationTurn, ErrorLog, Escalation
from simulator.call_script import CallScript, load_call_script
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.businesses import closed_now, open_every_day, store_business
from tests.test_llm_outage import llm_answers_again
from tests.test_phone_call import finished_workflow, spoken
from tests.waiting import eventually
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module", autouse=True)
def businesses(database_url: str) -> None:
    store_business(database_url, open_every_day())
    store_business(database_url, closed_now())


def scenario(name: str, **changes) -> CallScript:
    return load_call_script(SCENARIOS / f"{name}.yaml").model_copy(update=changes)


async def place(stack, script: CallScript, timeout: float = 90):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, timeout)
    await finished_workflow(stack, call)
    return call


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(NEW_YORK).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def appointments_of(stack, caller: str) -> list[Appointment]:
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(
            select(Appointment).where(Appointment.caller_number == caller).order_by(Appointment.id)
        ).all()


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def the_call(stack, call) -> Call:
    with Session(get_engine(stack.database_url)) as session:
        return session.get(Call, call.call_control_id)


# --- booking ---------------------------------------------------------------------------------------


async def test_booking_over_several_turns_reads_back_then_books(offline_stack):
    call = await place(offline_stack, scenario("book-a-cleaning"))
    said = " ".join(spoken(call))
    assert "Just to confirm: a cleaning tomorrow at 10:30 AM, under the name Sam. Shall I book it?" in said
    assert "All set. Booked a cleaning tomorrow at 10:30 AM." in said
    [appointment] = appointments_of(offline_stack, "+15555550161")
    assert appointment.service == "Cleaning"
    assert appointment.caller_name == "Sam"
    assert as_utc(appointment.starts_at) == tomorrow_at(10, 30)
    assert as_utc(appointment.ends_at) == tomorrow_at(11)
    assert the_call(offline_stack, call).outcome == "booked"
    [text] = [m for m in offline_stack.simulator.simulator.messages if m.to_number == "+15555550161"]
    assert "Booked a cleaning tomorrow at 10:30 AM." in text.text and text.from_number == "+15555550111"


async def test_a_refused_time_offers_alternatives_and_one_is_booked(offline_stack):
    call = await place(offline_stack, scenario("refused-time-then-alternative"))
    said = " ".join(spoken(call))
    assert "would run past closing at 5 PM" in said
    assert "The nearest free times: tomorrow at 3:30 PM; tomorrow at 3:45 PM; tomorrow at 4 PM." in said
    [appointment] = appointments_of(offline_stack, "+15555550162")
    assert appointment.service == "Whitening"
    assert as_utc(appointment.starts_at) == tomorrow_at(16)


async def test_an_appointment_is_moved_then_cancelled_in_later_calls(offline_stack):
    caller = "+15555550166"
    book = CallScript(
        from_number=caller,
        to_number="+15555550111",
        lines=["I'd like to book a checkup tomorrow at 9 am", "My name is Kim", "Yes", "Bye"],
    )
    await place(offline_stack, book)
    [booked] = appointments_of(offline_stack, caller)
    assert as_utc(booked.starts_at) == tomorrow_at(9)

    # Caller ID is no proof (tests/test_caller_identity.py): the name on the booking and its day move it...
    move = CallScript(
        from_number=caller,
        to_number="+15555550111",
        lines=["I need to reschedule my appointment to tomorrow at 11 am", "Kim", "Tomorrow", "Yes please", "Bye"],
    )
    call = await place(offline_stack, move)
    assert "Just to confirm: moving your appointment to tomorrow at 11 AM." in " ".join(spoken(call))
    [moved] = appointments_of(offline_stack, caller)
    assert moved.id == booked.id and as_utc(moved.starts_at) == tomorrow_at(11) and moved.status == "booked"

    # ... and a code texted to its number cancels it.
    cancel = CallScript(
        from_number=caller,
        to_number="+15555550111",
        lines=["Please cancel my appointment", "Yes", "It's {texted_code}", "Bye"],
    )
    call = await place(offline_stack, cancel)
    assert "Cancelled a checkup tomorrow at 11 AM." in " ".join(spoken(call))
    [cancelled] = appointments_of(offline_stack, caller)
    assert cancelled.status == "cancelled"


async def test_two_calls_racing_for_one_slot_exactly_one_gets_it(offline_stack):
    lines = ["I'd like to book a cleaning tomorrow at 2 pm", "My name is Robin", "Yes", "Bye"]
    scripts = [
        CallScript(from_number=number, to_number="+15555550111", lines=lines)
        for number in ("+15555550167", "+15555550168")
    ]
    calls = [offline_stack.simulator.place_call(script) for script in scripts]
    for call in calls:
        await offline_stack.simulator.wait_ended(call, 90)
    booked = appointments_of(offline_stack, "+15555550167") + appointments_of(offline_stack, "+15555550168")
    assert [as_utc(a.starts_at) for a in booked] == [tomorrow_at(14)], "exactly one booking of the slot"
    loser = next(c for c in calls if c.from_number != booked[0].caller_number)
    assert "Sorry, that time was just taken." in " ".join(spoken(loser))
    assert "The nearest free times" in " ".join(spoken(loser))


async def test_bad_tool_arguments_from_the_llm_are_refused_cleanly(stack):
    fake = stack.fake_llm.fake
    nonsense = FakeToolCall(
        name="book_appointment", arguments={"service": "Massage", "start": "next blursday", "caller_name": "Q"}
    )
    bad_date = FakeToolCall(
        name="book_appointment", arguments={"service": "Cleaning", "start": "2026-02-30T10:00", "caller_name": "Q"}
    )
    fake.set_behaviour(
        fake.behaviour.model_copy(
            update={
                "rules": [
                    FakeReplyRule(contains="massage", tool_call=nonsense),
                    FakeReplyRule(contains="thirtieth", tool_call=bad_date),
                ]
            }
        )
    )
    try:
        script = CallScript(
            from_number="+15555550169", to_number="+15555550111", lines=["Book me a massage", "February thirtieth then"]
        )
        call = await place(stack, script)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    said = " ".join(spoken(call))
    assert "We don't offer 'Massage'. We offer: Cleaning, Checkup, Whitening." in said
    assert "is not a date and time such as" in said
    assert appointments_of(stack, "+15555550169") == []


async def test_a_request_to_book_fifty_slots_is_refused_not_obeyed(stack):
    fake = stack.fake_llm.fake
    start = (datetime.now(NEW_YORK).date() + timedelta(days=2)).isoformat() + "T09:00"
    greedy = FakeToolCall(
        name="book_appointment", arguments={"service": "Cleaning", "start": start, "caller_name": "Greedy"}, repeat=50
    )
    fake.set_behaviour(fake.behaviour.model_copy(update={"rules": [FakeReplyRule(contains="fifty", tool_call=greedy)]}))
    try:
        call = await place(
            stack, CallScript(from_number="+15555550172", to_number="+15555550111", lines=["Book me fifty cleanings"])
        )
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    booked = appointments_of(stack, "+15555550172")
    assert len(booked) <= 1, "one slot at most: the same time can only be held once"
    with Session(get_engine(stack.database_url)) as session:
        [turn] = session.exec(
            select(ConversationTurn).where(
                ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == "agent"
            )
        ).all()
    results = [tool["result"] for tool in turn.tool_calls]
    assert sum(result.startswith("Refused: at most 3 actions at a time") for result in results) >= 47


# --- business hours -------------------------------------------------------------------------------


async def test_after_hours_the_caller_hears_so_and_a_call_back_is_promised(offline_stack):
    call = await place(offline_stack, scenario("after-hours-message"))
    said = spoken(call)
    assert said[0].startswith("Thank you for calling Closed Now Dental. We're closed right now. We open again")
    with Session(get_engine(offline_stack.database_url)) as session:
        [callback] = session.exec(select(Callback).where(Callback.caller_number == "+12015550165")).all()
    assert callback.status == "pending"
    assert "call me back about a filling" in callback.message
    opens = as_utc(callback.due_at).astimezone(NEW_YORK)
    assert (opens.hour, opens.minute) == (9, 0) and opens.date() > datetime.now(NEW_YORK).date()
    assert any("A call-back is scheduled for" in line or "call-back" in line for line in said)
    handle = offline_stack.temporal_client.get_workflow_handle(callback.workflow_id)
    assert (await handle.describe()).status.name == "RUNNING", "the promise is kept by a waiting workflow"
    await handle.terminate("test over")


# --- escalation -----------------------------------------------------------------------------------


async def test_an_emergency_is_transferred_to_the_first_on_call_number_that_answers(offline_stack):
    call = await place(offline_stack, scenario("emergency-transfer-answered"))
    said = spoken(call)
    assert said[1] == "That sounds like an emergency. I'm getting someone on the line for you right now."
    assert "Please hold while I connect you." in said
    assert [(t.to, t.outcome) for t in call.transfers] == [("+15555550199", "answered")]
    with Session(get_engine(offline_stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
    assert escalation.status == "connected"
    assert [(a["number"], a["outcome"]) for a in escalation.attempts] == [("+15555550199", "answered")]
    record = the_call(offline_stack, call)
    assert record.outcome == "escalated" and record.fallback_level == "escalation"


async def test_nobody_on_call_answers_so_a_message_and_an_urgent_call_back(offline_stack):
    call = await place(offline_stack, scenario("emergency-nobody-answers"))
    said = " ".join(spoken(call))
    assert [(t.to, t.outcome) for t in call.transfers] == [("+15555550199", "no_answer"), ("+15555550198", "busy")]
    assert "nobody could take your call right now" in said
    assert "We'll call you back in a few minutes. Goodbye!" in said
    with Session(get_engine(offline_stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
        [callback] = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
    assert escalation.status == "nobody_answered"
    assert [a["outcome"] for a in escalation.attempts] == ["no_answer", "busy"]
    assert callback.urgent and "knocked out" in callback.message
    assert the_call(offline_stack, call).fallback_level == "callback_promise"
    owner_texts = [m for m in offline_stack.simulator.simulator.messages if m.to_number == "+15555550190"]
    assert len(owner_texts) == 1 and "+12015550164" in owner_texts[0].text
    await offline_stack.temporal_client.get_workflow_handle(callback.workflow_id).terminate("test over")


async def test_an_emergency_after_hours_still_reaches_a_person(offline_stack):
    script = scenario("emergency-transfer-answered", to_number="+15555550112", from_number="+15555550170")
    call = await place(offline_stack, script)
    assert spoken(call)[0].startswith("Thank you for calling Closed Now Dental. We're closed right now.")
    assert [(t.to, t.outcome) for t in call.transfers] == [("+15555550199", "answered")]


# --- the fallback ladder --------------------------------------------------------------------------


async def test_the_llm_failing_mid_call_hands_over_to_the_offline_responder_without_a_transfer(stack):
    fake = stack.fake_llm.fake
    script = CallScript(
        from_number="+15555550171",
        to_number="+15555550111",
        lines=["Hello there", "What are your opening hours?", "How much is a cleaning?"],
    )
    fake.clear_requests()
    call = stack.simulator.place_call(script)
    try:
        # The first turn is the LLM's; then it goes down for good.
        await eventually(
            lambda: len([r for r in fake.requests if r.stream and r.status_code == 200]),
            lambda n: n >= 1,
            what="first LLM reply",
        )
        fake.set_behaviour(fake.behaviour.model_copy(update={"fail_always": True}))
        await offline_stack_wait(stack, call)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"fail_always": False}))
    said = spoken(call)
    assert "Thanks for asking about Hello there." in said
    assert "Our hours are Monday to Sunday 9 AM to 5 PM." in " ".join(said)
    assert "A cleaning takes 30 minutes and costs $90." in " ".join(said)
    assert "Please hold while I connect you." not in said, "the offline responder met both needs: no transfer"
    assert not call.transfers
    with Session(get_engine(stack.database_url)) as session:
        errors = session.exec(select(ErrorLog).where(ErrorLog.call_id == call.call_control_id)).all()
        turns = session.exec(
            select(ConversationTurn).where(
                ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == "agent"
            )
        ).all()
    assert [e.source for e in errors].count("reply.llm") == 2
    assert all("LLM" in e.message or "500" in e.message for e in errors if e.source == "reply.llm")
    assert [t.brain for t in sorted(turns, key=lambda t: t.turn_index)] == ["llm", "offline", "offline"]
    assert the_call(stack, call).fallback_level == "offline"
    summary = await stack.temporal_client.get_workflow_handle_for(
        CallWorkflow.run, call_workflow_id(call.call_control_id)
    ).result()
    assert summary.fallback_level == "offline"
    await llm_answers_again(stack)


async def test_two_turns_the_offline_responder_cannot_understand_climb_to_a_person(offline_stack):
    script = CallScript(
        from_number="+15555550172",
        to_number="+15555550111",
        lines=["What are your opening hours?", "purple monkey dishwasher", "flibber jabber wocky"],
    )
    call = await place(offline_stack, script)
    said = spoken(call)
    assert "Our hours are Monday to Sunday 9 AM to 5 PM." in " ".join(said)
    assert "Please hold while I connect you." in said, "two turns not understood: a person helps"
    assert [t.to for t in call.transfers][:1] == ["+15555550199"]
    assert the_call(offline_stack, call).fallback_level == "escalation"


async def offline_stack_wait(stack, call) -> None:
    await stack.simulator.wait_ended(call, 90)
