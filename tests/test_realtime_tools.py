"""`POST /api/ai/realtime-tools/{business_id}`: a Realtime session's function calls run by the
project with the phone path's validated booking code, and everything wrong refused clearly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment
from simulator.fake_openai.server import FakeOpenAIServer
from tests.businesses import open_every_day, store_business
from tests.records import fresh_number
from tests.test_realtime_session import SESSION, page_client, realtime_api

pytestmark = pytest.mark.database

SECRET_ONE = "first-signing-key-0123456789-abcdefghijklmn"
SECRET_TWO = "second-signing-key-0123456789-abcdefghijklm"


@pytest.fixture
async def api(database_url: str, fake_realtime: FakeOpenAIServer) -> AsyncIterator[httpx.AsyncClient]:
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as client:
            yield client


@pytest.fixture
def business(database_url: str) -> int:
    """A business of its own, open every day 9 to 5, so free times exist whenever the test runs."""
    return store_business(database_url, open_every_day(fresh_number()).model_copy(update={"name": "Tools Test Dental"}))


async def open_session(api: httpx.AsyncClient, business_id: int) -> dict:
    response = await api.post(SESSION, json={"business_id": business_id})
    assert response.status_code == 201, response.text
    return response.json()


async def run(
    api: httpx.AsyncClient, session: dict, name: str, arguments: dict | str, call_id: str = "call_1"
) -> httpx.Response:
    return await api.post(
        session["tools_url"],
        json={
            "session_token": session["tools_token"],
            "call_id": call_id,
            "name": name,
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    )


def in_two_days_at_ten() -> str:
    day = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=2)
    return f"{day:%Y-%m-%d}T10:00"


def appointments(database_url: str, call_id: str) -> list[Appointment]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(Appointment).where(Appointment.call_id == call_id)).all())


async def test_availability_and_booking_use_the_validated_booking_code(api, business, database_url) -> None:
    session = await open_session(api, business)
    free = await run(api, session, "check_availability", {"service": "cleaning"})
    assert free.status_code == 200, free.text
    assert free.json()["ok"] is True
    assert free.json()["output"].startswith("Free times for a cleaning: ")

    unknown = await run(api, session, "check_availability", {"service": "tattoo"})
    assert unknown.json() == {
        "output": "We don't offer 'tattoo'. We offer: Cleaning, Checkup, Whitening.",
        "ok": False,
        "end_session": False,
        "appointment_id": None,
    }

    start = in_two_days_at_ten()
    booked = await run(
        api,
        session,
        "book_appointment",
        {"service": "Cleaning", "start": start, "caller_name": "Ada"},
        call_id="call_7",
    )
    assert booked.json()["ok"] is True, booked.text
    assert booked.json()["output"].startswith("Booked a cleaning ") and "at 10 AM" in booked.json()["output"]

    # The page sent the same function call twice (a retry): one booking, the same answer.
    again = await run(
        api,
        session,
        "book_appointment",
        {"service": "Cleaning", "start": start, "caller_name": "Ada"},
        call_id="call_7",
    )
    assert again.json() == booked.json()
    [appointment] = appointments(database_url, f"realtime-{session['session_id']}")
    assert appointment.id == booked.json()["appointment_id"]
    assert appointment.idempotency_key == f"realtime/{session['session_id']}/call_7"
    assert (appointment.service, appointment.caller_name, appointment.business_id) == ("Cleaning", "Ada", business)

    # A demo session's booking is a sandbox: marked, expiring, and holding no slot, so another visitor
    # (or a real caller, tests/test_demo_bookings.py) may book the same time.
    assert appointment.is_demo and appointment.expires_at is not None
    other = await open_session(api, business)
    also = await run(api, other, "book_appointment", {"service": "Cleaning", "start": start, "caller_name": "Bob"})
    assert also.json()["ok"] is True, also.text

    # The rules of the phone path hold: no booking outside the opening hours.
    night = await run(
        api,
        other,
        "book_appointment",
        {"service": "Cleaning", "start": start.replace("T10:00", "T22:00"), "caller_name": "Bob"},
        call_id="call_2",
    )
    assert night.json()["ok"] is False


async def test_only_this_sessions_booking_can_be_moved_or_cancelled(api, business, database_url) -> None:
    mine = await open_session(api, business)
    start = in_two_days_at_ten()
    booked = await run(api, mine, "book_appointment", {"service": "Checkup", "start": start, "caller_name": "Ada"})
    assert booked.json()["ok"] is True, booked.text

    stranger = await open_session(api, business)
    refused = await run(api, stranger, "cancel_appointment", {"start": start})
    assert refused.json() == {
        "output": "I can't find an appointment for this caller at that time.",
        "ok": False,
        "end_session": False,
        "appointment_id": None,
    }

    later = start.replace("T10:00", "T14:00")
    moved = await run(api, mine, "move_appointment", {"new_start": later}, call_id="call_2")
    assert moved.json()["ok"] is True and "at 2 PM" in moved.json()["output"], moved.text
    cancelled = await run(api, mine, "cancel_appointment", {}, call_id="call_3")
    assert cancelled.json()["ok"] is True and cancelled.json()["output"].startswith("Cancelled a checkup"), (
        cancelled.text
    )
    [appointment] = appointments(database_url, f"realtime-{mine['session_id']}")
    assert appointment.status == "cancelled"


async def test_escalation_messages_and_hanging_up_get_web_demo_answers(api, business) -> None:
    session = await open_session(api, business)
    escalated = (await run(api, session, "escalate_to_human", {"reason": "burst pipe", "emergency": True})).json()
    assert escalated["ok"] is True and escalated["end_session"] is False
    assert (
        "browser demo" in escalated["output"]
        and "transfer them as an emergency to a person at Tools Test Dental" in escalated["output"]
    )

    message = (
        await run(api, session, "take_message", {"message": "Call me about my crown", "caller_name": "Ada"})
    ).json()
    assert "the message is not stored" in message["output"] and "would call back" in message["output"]

    ended = (await run(api, session, "end_call", {})).json()
    assert ended["end_session"] is True and "goodbye" in ended["output"]


async def test_bad_function_calls_get_clear_errors(api, business, database_url) -> None:
    session = await open_session(api, business)
    problems = {
        "unknown tool": await run(api, session, "order_pizza", {}),
        "not JSON": await run(api, session, "check_availability", "{service:"),
        "not an object": await run(api, session, "check_availability", "[1, 2]"),
        "missing argument": await run(api, session, "book_appointment", {"service": "Cleaning"}),
        "wrong type": await run(api, session, "check_availability", {"service": 42}),
    }
    assert {name: r.status_code for name, r in problems.items()} == dict.fromkeys(problems, 422)
    assert "unknown tool 'order_pizza'" in problems["unknown tool"].json()["detail"]
    assert problems["not JSON"].json()["detail"].startswith("arguments of check_availability are not JSON")
    assert problems["missing argument"].json()["detail"] == "book_appointment needs start, caller_name"
    assert problems["wrong type"].json()["detail"] == "check_availability: service must be a string"

    body = {"session_token": session["tools_token"], "call_id": "call_1", "name": "end_call", "arguments": "{}"}
    forged = await api.post(session["tools_url"], json=body | {"session_token": session["tools_token"][:-4] + "AAAA"})
    assert forged.status_code == 403 and forged.json()["detail"] == "session_token is not one this API issued"
    dental = await open_session(api, store_business(database_url, open_every_day(fresh_number())))
    other_business = await api.post(dental["tools_url"], json=body)
    assert other_business.status_code == 403 and "belongs to business" in other_business.json()["detail"]
    assert (await api.post("/api/ai/realtime-tools/999999", json=body)).status_code == 403  # token for another business
    bad_call_id = await api.post(session["tools_url"], json=body | {"call_id": "call 1; drop"})
    assert bad_call_id.status_code == 422
    async with page_client(str(api.base_url).rstrip("/"), origin="https://evil.example") as evil:
        assert (await evil.post(session["tools_url"], json=body)).status_code == 403
    assert appointments(database_url, f"realtime-{session['session_id']}") == []


async def test_the_tools_token_is_signed_with_the_secret_key_not_the_openai_key(
    database_url: str, fake_realtime: FakeOpenAIServer, business: int
) -> None:
    with realtime_api(database_url, fake_realtime, SECRET_KEY=SECRET_ONE, OPENAI_API_KEY="openai-key-one") as url:
        async with page_client(url) as first_api:
            session = await open_session(first_api, business)
    end_call = {"session_token": session["tools_token"], "call_id": "call_1", "name": "end_call", "arguments": "{}"}

    def replica(**settings: object):
        return realtime_api(database_url, fake_realtime, **settings)

    # Another replica with the same SECRET_KEY accepts it, whatever its OpenAI key, even none.
    for openai_key in ("openai-key-two", None):
        with replica(SECRET_KEY=SECRET_ONE, OPENAI_API_KEY=openai_key) as url:
            async with page_client(url) as other_api:
                accepted = await other_api.post(session["tools_url"], json=end_call)
        assert accepted.status_code == 200, (openai_key, accepted.text)
        assert accepted.json()["end_session"] is True

    # A new SECRET_KEY (with the very same OpenAI key) refuses every token of the old one.
    with replica(SECRET_KEY=SECRET_TWO, OPENAI_API_KEY="openai-key-one") as url:
        async with page_client(url) as rotated_api:
            refused = await rotated_api.post(session["tools_url"], json=end_call)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "session_token is not one this API issued"

    # Without SECRET_KEY nothing is signed: no tools, and no session that would need a token.
    with replica(SECRET_KEY=None) as url:
        async with page_client(url) as unsigned_api:
            no_tools = await unsigned_api.post(session["tools_url"], json=end_call)
            no_session = await unsigned_api.post(SESSION, json={"business_id": business})
    assert no_tools.status_code == no_session.status_code == 503
    assert "SECRET_KEY" in no_tools.json()["detail"] and "SECRET_KEY" in no_session.json()["detail"]
    assert len(fake_realtime.fake.realtime.secret_requests) == 1  # only the first API asked OpenAI for a session
