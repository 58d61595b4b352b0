"""A browser demo call's function calls, run by the server with the phone path's validated booking
code (`api/realtime_tools.py`): end to end over the call's control channel (real SDK, the fake's
WebRTC call, an aiortc "browser"), and each tool's behaviour through the runner the channel uses.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from activities.realtime_control import FunctionCall, RunTool, ToolReply
from api.realtime_tools import demo_tool_runner
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Appointment, Business
from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from simulator.fake_openai.server import FakeOpenAIServer
from tests.businesses import open_every_day, store_business
from tests.in_process import make_settings
from tests.records import fresh_number
from tests.test_fake_realtime_calls import Browser
from tests.test_realtime_session import SESSION, page_client, realtime_api
from tests.waiting import eventually

pytestmark = pytest.mark.database

ADMIN_KEY = "admin-key-for-realtime-tools-tests"


@pytest.fixture
def business(database_url: str) -> int:
    """A business of its own, open every day 9 to 5, so free times exist whenever the test runs."""
    return store_business(database_url, open_every_day(fresh_number()).model_copy(update={"name": "Tools Test Dental"}))


def runner(database_url: str, business_id: int, call_id: str) -> RunTool:
    """How the control channel of call `call_id` runs the business's tools."""
    with Session(get_engine(database_url)) as session:
        business = session.get(Business, business_id)
        assert business is not None
        config = BusinessConfig.model_validate(business.config)
    return demo_tool_runner(make_settings(DATABASE_URL=database_url), business_id, config, call_id)


async def run(tools: RunTool, name: str, arguments: dict | str, call_id: str = "call_1") -> ToolReply:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return await tools(FunctionCall(call_id=call_id, name=name, arguments=args))


def in_two_days_at_ten() -> str:
    day = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=2)
    return f"{day:%Y-%m-%d}T10:00"


def appointments(database_url: str, call_id: str) -> list[Appointment]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(Appointment).where(Appointment.call_id == call_id)).all())


async def test_the_server_runs_a_booking_over_the_control_channel_and_it_is_a_demo_booking(
    database_url: str, fake_realtime: FakeOpenAIServer, business: int
) -> None:
    start = in_two_days_at_ten()
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="book",
                    tool_call=FakeToolCall(
                        name="book_appointment", arguments={"service": "Cleaning", "start": start, "caller_name": "Ada"}
                    ),
                )
            ]
        )
    )
    browser = Browser()
    try:
        with realtime_api(database_url, fake_realtime, ADMIN_API_KEY=ADMIN_KEY) as url:
            async with page_client(url) as page:
                page.headers["Authorization"] = f"Bearer {ADMIN_KEY}"  # the business is not on the public demo
                created = await page.post(SESSION, json={"business_id": business, "sdp": await browser.offer()})
                assert created.status_code == 201, created.text
                session = created.json()
                await browser.answer(session["sdp"])
                await browser.next("session.created")
                # The visitor asks; the model calls book_appointment; the server runs it and the agent says it.
                browser.channel.send(
                    json.dumps(
                        {
                            "type": "conversation.item.create",
                            "item": {
                                "type": "message",
                                "role": "user",
                                "content": [{"type": "input_text", "text": "Please book a cleaning"}],
                            },
                        }
                    )
                )
                browser.channel.send(json.dumps({"type": "response.create"}))
                said = (await browser.next("response.output_audio_transcript.done"))["transcript"]
                assert said.startswith("Done: Booked a cleaning ") and "at 10 AM" in said
                [appointment] = await eventually(
                    lambda: appointments(database_url, f"realtime-{session['call_id']}"),
                    lambda found: len(found) == 1,
                    what="the demo booking",
                )
    finally:
        await browser.pc.close()
    # A demo call's booking is a sandbox: marked, expiring, holding no slot (tests/test_demo_bookings.py).
    assert (appointment.service, appointment.caller_name, appointment.business_id) == ("Cleaning", "Ada", business)
    assert appointment.is_demo and appointment.expires_at is not None
    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    output = next(
        e for e in call["client_events"] if e["type"] == "conversation.item.create" and e["item"]["type"] != "message"
    )
    assert output["item"]["output"].startswith("Booked a cleaning ")
    assert fake_realtime.fake.realtime.secret_requests == []


async def test_availability_and_booking_use_the_validated_booking_code(business, database_url) -> None:
    tools = runner(database_url, business, "rtc_one")
    free = await run(tools, "check_availability", {"service": "cleaning"})
    assert free.output.startswith("Free times for a cleaning: ") and not free.end_call

    unknown = await run(tools, "check_availability", {"service": "tattoo"})
    assert unknown == ToolReply("We don't offer 'tattoo'. We offer: Cleaning, Checkup, Whitening.")

    start = in_two_days_at_ten()
    booking = {"service": "Cleaning", "start": start, "caller_name": "Ada"}
    booked = await run(tools, "book_appointment", booking, call_id="call_7")
    assert booked.output.startswith("Booked a cleaning ") and "at 10 AM" in booked.output

    # The same function call twice (a control channel joined again, say): one booking, the same answer.
    again = await run(tools, "book_appointment", booking, call_id="call_7")
    assert again == booked
    [appointment] = appointments(database_url, "realtime-rtc_one")
    assert appointment.idempotency_key == "realtime/rtc_one/call_7"
    assert (appointment.service, appointment.caller_name, appointment.business_id) == ("Cleaning", "Ada", business)

    # A demo call's booking is a sandbox: marked, expiring, and holding no slot, so another visitor
    # (or a real caller, tests/test_demo_bookings.py) may book the same time.
    assert appointment.is_demo and appointment.expires_at is not None
    other = runner(database_url, business, "rtc_two")
    also = await run(other, "book_appointment", booking | {"caller_name": "Bob"})
    assert also.output.startswith("Booked a cleaning "), also

    # The rules of the phone path hold: no booking outside the opening hours.
    night = await run(
        other, "book_appointment", booking | {"start": start.replace("T10:00", "T22:00")}, call_id="call_2"
    )
    assert not night.output.startswith("Booked")


async def test_only_this_calls_booking_can_be_moved_or_cancelled(business, database_url) -> None:
    mine = runner(database_url, business, "rtc_mine")
    start = in_two_days_at_ten()
    booked = await run(mine, "book_appointment", {"service": "Checkup", "start": start, "caller_name": "Ada"})
    assert booked.output.startswith("Booked a checkup"), booked

    stranger = runner(database_url, business, "rtc_stranger")
    refused = await run(stranger, "cancel_appointment", {"start": start})
    assert refused == ToolReply("I can't find an appointment for this caller at that time.")

    later = start.replace("T10:00", "T14:00")
    moved = await run(mine, "move_appointment", {"new_start": later}, call_id="call_2")
    assert "at 2 PM" in moved.output, moved
    cancelled = await run(mine, "cancel_appointment", {}, call_id="call_3")
    assert cancelled.output.startswith("Cancelled a checkup"), cancelled
    [appointment] = appointments(database_url, "realtime-rtc_mine")
    assert appointment.status == "cancelled"


async def test_escalation_messages_and_hanging_up_get_web_demo_answers(business, database_url) -> None:
    tools = runner(database_url, business, "rtc_words")
    escalated = await run(tools, "escalate_to_human", {"reason": "burst pipe", "emergency": True})
    assert not escalated.end_call
    assert (
        "browser demo" in escalated.output
        and "transfer them as an emergency to a person at Tools Test Dental" in escalated.output
    )
    message = await run(tools, "take_message", {"message": "Call me about my crown", "caller_name": "Ada"})
    assert "the message is not stored" in message.output and "would call back" in message.output

    ended = await run(tools, "end_call", {})
    assert ended.end_call is True and "goodbye" in ended.output


async def test_bad_function_calls_are_answered_with_what_is_wrong(business, database_url) -> None:
    """The model hears what was wrong (and may try again); nothing is done."""
    tools = runner(database_url, business, "rtc_bad")
    problems = {
        "unknown tool": await run(tools, "order_pizza", {}),
        "not JSON": await run(tools, "check_availability", "{service:"),
        "not an object": await run(tools, "check_availability", "[1, 2]"),
        "missing argument": await run(tools, "book_appointment", {"service": "Cleaning"}),
        "wrong type": await run(tools, "check_availability", {"service": 42}),
    }
    assert "unknown tool 'order_pizza'" in problems["unknown tool"].output.lower()
    assert problems["not JSON"].output.startswith("arguments of check_availability are not JSON")
    assert problems["missing argument"].output == "book_appointment needs start, caller_name"
    assert problems["wrong type"].output == "check_availability: service must be a string"
    assert not any(reply.end_call for reply in problems.values())
    assert appointments(database_url, "realtime-rtc_bad") == []
