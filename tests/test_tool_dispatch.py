"""One tool dispatcher for the phone and the browser: the same tool call is done, or refused, in the same words.

The phone's tool results are read where the call recorded them (the agent turn's tool calls); the
Realtime session's from the tools endpoint the page calls.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from activities.realtime_control import FunctionCall
from api.realtime_tools import demo_tool_runner
from database.engine import get_engine
from database.models import Appointment, ConversationTurn
from receptionist.appointment_requests import (
    BookingProof,
    BookingRequest,
    CancelRequest,
    CodeRequest,
    FreeTimesRequest,
    LookUpRequest,
    MoveRequest,
    ToolOutcome,
)
from receptionist.tool_dispatch import TakenMessage, ToolContext, dispatch_tool_call
from receptionist.tools import ToolCall
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.businesses import open_every_day, store_business
from tests.in_process import make_settings
from tests.records import fresh_number
from tests.test_phone_call import finished_workflow


def in_two_days_at(hour: int) -> str:
    day = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=2)
    return f"{day:%Y-%m-%d}T{hour:02d}:00"


def tool_results(database_url: str, call_id: str) -> list[str]:
    with Session(get_engine(database_url)) as session:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call_id, ConversationTurn.speaker == "agent")
            .order_by(ConversationTurn.turn_index)
        ).all()
    return [tool["result"] for turn in turns for tool in turn.tool_calls]


@pytest.mark.database
async def test_a_refused_booking_reads_the_same_on_the_phone_and_in_a_realtime_session(
    stack, fake_realtime, database_url
) -> None:
    number = fresh_number()
    business_id = store_business(database_url, open_every_day(number).model_copy(update={"name": "Dispatch Dental"}))
    at_night = {"service": "Cleaning", "start": in_two_days_at(22), "caller_name": "Ada"}
    nameless = {"service": "Cleaning", "start": in_two_days_at(10)}
    fake = stack.fake_llm.fake
    fake.set_behaviour(
        fake.behaviour.model_copy(
            update={
                "rules": [
                    FakeReplyRule(
                        contains="tonight", tool_call=FakeToolCall(name="book_appointment", arguments=at_night)
                    ),
                    FakeReplyRule(
                        contains="no name", tool_call=FakeToolCall(name="book_appointment", arguments=nameless)
                    ),
                ]
            }
        )
    )
    try:
        call = stack.simulator.place_call(
            CallScript(to_number=number, lines=["Book me a cleaning tonight", "A cleaning, no name"])
        )
        await stack.simulator.wait_ended(call, 90)
        await finished_workflow(stack, call)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    on_the_phone = tool_results(database_url, call.call_control_id)

    # The same function calls, run as the server runs a browser demo call's (over its control channel).
    tools = demo_tool_runner(
        make_settings(DATABASE_URL=database_url), business_id, open_every_day(number), "rtc_dispatch"
    )
    refused = await tools(FunctionCall("call_1", "book_appointment", json.dumps(at_night)))
    unfit = await tools(FunctionCall("call_2", "book_appointment", json.dumps(nameless)))

    assert refused.output.startswith("That's outside our opening hours that day (9 AM to 5 PM).")
    assert "The nearest free times:" in refused.output
    # A malformed call is the model's refusal, in the same words on both paths.
    assert on_the_phone == [refused.output, unfit.output]
    assert unfit.output == "book_appointment needs caller_name"
    with Session(get_engine(database_url)) as db:
        assert db.exec(select(Appointment).where(Appointment.business_id == business_id)).all() == []


class RecordingEffects:
    """Effects that remember what they were asked and answer like an empty appointment book."""

    def __init__(self) -> None:
        self.asked: list[object] = []

    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=False, message="There are no free times for a cleaning then.")

    async def book(self, request: BookingRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=True, message="Booked a cleaning tomorrow at 10 AM.", appointment_id=7)

    async def look_up(self, request: LookUpRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=False, message="That name and day don't match an appointment for this number.")

    async def move(self, request: MoveRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=False, message="I can't find a booked appointment for this caller at that time.")

    async def cancel(self, request: CancelRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=False, message="I can't find an appointment for this caller at that time.")

    async def text_code(self, request: CodeRequest) -> ToolOutcome:
        self.asked.append(request)
        return ToolOutcome(ok=True, message="A code is on its way.")

    async def escalate(self, reason: str, *, emergency: bool) -> str:
        self.asked.append(("escalate", reason, emergency))
        return "Transferring."

    async def take_message(self, message: TakenMessage) -> str:
        self.asked.append(message)
        return "Message taken."

    async def end_call(self) -> str:
        self.asked.append("end_call")
        return "Ending the call."


CONTEXT = ToolContext(
    business_id=1,
    business=open_every_day(),
    call_id="call-1",
    caller_number="+15555550142",
    now=datetime(2031, 1, 6, 12, tzinfo=UTC),
    idempotency_key="call-1/turn-1/round-0/tool-0",
)


def tool(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id="t", name=name, arguments=json.dumps(arguments))


async def test_a_booking_is_asked_of_the_book_with_the_calls_key_and_caller() -> None:
    effects = RecordingEffects()
    answer = await dispatch_tool_call(
        tool("book_appointment", service=" Cleaning ", start="2031-01-07T10:00", caller_name="Ada"), CONTEXT, effects
    )
    assert (answer.text, answer.ok, answer.appointment_id) == ("Booked a cleaning tomorrow at 10 AM.", True, 7)
    [request] = effects.asked
    assert isinstance(request, BookingRequest)
    assert (request.service, request.start, request.caller_name) == ("Cleaning", "2031-01-07T10:00", "Ada")
    assert (request.idempotency_key, request.caller_number, request.call_id) == (
        CONTEXT.idempotency_key,
        "+15555550142",
        "call-1",
    )


async def test_unfit_calls_and_a_fourth_action_in_a_round_are_refused_and_nothing_is_done() -> None:
    effects = RecordingEffects()
    refusals = [
        await dispatch_tool_call(tool("order_pizza"), CONTEXT, effects),
        await dispatch_tool_call(ToolCall(id="t", name="check_availability", arguments="{service:"), CONTEXT, effects),
        await dispatch_tool_call(tool("check_availability", service=42), CONTEXT, effects),
        await dispatch_tool_call(tool("cancel_appointment"), CONTEXT, effects, position=3),
    ]
    assert [a.text for a in refusals] == [
        "unknown tool 'order_pizza'; the tools are check_availability, book_appointment, look_up_appointment, "
        "move_appointment, cancel_appointment, text_booking_code, escalate_to_human, take_message, end_call",
        "arguments of check_availability are not JSON: Expecting property name enclosed in double quotes",
        "check_availability: service must be a string",
        "Refused: at most 3 actions at a time. Do one thing at a time.",
    ]
    assert [a.unfit for a in refusals] == [True, True, True, False]
    assert effects.asked == []


async def test_what_the_caller_said_to_prove_a_booking_is_theirs_goes_to_the_book_with_the_calls_key() -> None:
    effects = RecordingEffects()
    await dispatch_tool_call(tool("look_up_appointment", caller_name=" Kim Lee ", day="2031-01-07"), CONTEXT, effects)
    await dispatch_tool_call(tool("move_appointment", new_start="2031-01-08T10:00", code="481 516"), CONTEXT, effects)
    await dispatch_tool_call(tool("cancel_appointment", code="481516"), CONTEXT, effects)
    await dispatch_tool_call(tool("text_booking_code"), CONTEXT, effects)
    look_up, move, cancel, code = effects.asked
    assert isinstance(look_up, LookUpRequest) and isinstance(move, MoveRequest) and isinstance(cancel, CancelRequest)
    assert look_up.proof == BookingProof(caller_name="Kim Lee", day="2031-01-07")
    assert (move.proof, cancel.proof) == (BookingProof(code="481 516"), BookingProof(code="481516"))
    assert isinstance(code, CodeRequest)
    keys = {r.idempotency_key for r in (look_up, move, cancel, code)}
    assert keys == {CONTEXT.idempotency_key}
    assert code.caller_number == "+15555550142" and code.call_id == "call-1"


async def test_a_message_without_a_topic_is_about_what_it_says_escalation_and_the_goodbye() -> None:
    effects = RecordingEffects()
    taken = await dispatch_tool_call(tool("take_message", message="Call me about my crown"), CONTEXT, effects)
    ended = await dispatch_tool_call(tool("end_call"), CONTEXT, effects)
    escalated = await dispatch_tool_call(
        tool("escalate_to_human", reason="burst pipe", emergency=True), CONTEXT, effects
    )
    assert effects.asked == [
        TakenMessage(about="Call me about my crown", message="Call me about my crown", caller_name=None),
        "end_call",
        ("escalate", "burst pipe", True),
    ]
    assert (taken.text, ended.ends_call, escalated.ends_call) == ("Message taken.", True, False)


async def test_a_replayed_call_from_before_arguments_were_checked_runs_an_unfit_call_as_it_came() -> None:
    effects = RecordingEffects()
    answer = await dispatch_tool_call(tool("check_availability"), CONTEXT, effects, unchecked=True)
    [request] = effects.asked
    assert isinstance(request, FreeTimesRequest) and request.service == ""
    assert answer.text == "There are no free times for a cleaning then."
