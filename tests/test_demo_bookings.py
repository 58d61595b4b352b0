"""Demo bookings are a sandbox: what a demo or test session books never takes a real caller's slot,
is shown as a demo booking, never reaches the business's calendar, and is gone once it expires.

Through the real stack: the web channel (the demo's fallback) and a phone call placed by the Telnyx
simulator, both answered by the offline responder on the dev Temporal server, against one database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from database.appointment_book import AppointmentBook
from database.calendar_store import bookings_to_sync
from database.engine import get_engine
from database.models import Appointment
from receptionist.appointment_requests import BookingRequest
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.in_process import ADMIN_KEY
from tests.records import fresh_number
from tests.test_phone_call import spoken
from tests.test_receptionist_skills import as_utc, place, tomorrow_at
from tests.web_visitors import WebVisitor, loopback_client, web_api

pytestmark = pytest.mark.database

BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}
BOOK_A_CHECKUP = ["I'd like to book a checkup tomorrow at 2 pm", "My name is Kim", "Yes"]


@pytest.fixture(scope="module")
def api_url(offline_stack):
    with web_api(offline_stack, ADMIN_API_KEY=ADMIN_KEY) as url:
        yield url


def bookings_of(database_url: str, business_id: int) -> list[Appointment]:
    with Session(get_engine(database_url)) as session:
        query = select(Appointment).where(Appointment.business_id == business_id).order_by(Appointment.id)
        return list(session.exec(query).all())


async def test_a_demo_booking_keeps_no_caller_out_is_shown_as_demo_and_expires(api_url, offline_stack):
    number = fresh_number()
    business_id = store_business(offline_stack.database_url, open_every_day(number))
    async with loopback_client(api_url) as http:
        visitor = WebVisitor(http)
        assert (await visitor.start(business_id)).status_code == 201
        replies = [(await visitor.reply_to(words))["reply"] for words in BOOK_A_CHECKUP]
        assert "Booked a checkup tomorrow at 2 PM" in replies[-1]
        await visitor.hang_up()

        [demo] = bookings_of(offline_stack.database_url, business_id)
        assert demo.is_demo and as_utc(demo.starts_at) == tomorrow_at(14)
        assert timedelta(hours=23) < as_utc(demo.expires_at) - datetime.now(UTC) <= timedelta(hours=24)

        # A real caller asks for the very same time: it is theirs, and confirmed by text.
        caller = fresh_number()
        call = await place(
            offline_stack, CallScript(from_number=caller, to_number=number, lines=[*BOOK_A_CHECKUP, "Bye"])
        )
        assert "All set. Booked a checkup tomorrow at 2 PM." in " ".join(spoken(call))
        demo, real = bookings_of(offline_stack.database_url, business_id)
        assert not real.is_demo and real.expires_at is None and real.caller_number == caller
        assert as_utc(real.starts_at) == as_utc(demo.starts_at)
        texted = [m.to_number for m in offline_stack.simulator.simulator.messages if m.from_number == number]
        assert texted == [caller], "only the real booking is confirmed by text"

        # The admin API shows the demo booking as one, with its expiry.
        detail = (await http.get(f"/api/admin/calls/{visitor.call_id}", headers=BEARER)).json()
        [shown] = detail["bookings"]
        assert (shown["id"], shown["is_demo"]) == (demo.id, True) and shown["expires_at"]
        page = await http.get(f"/admin/calls/{visitor.call_id}", headers=BEARER)
        assert "(demo booking)" in page.text

        # The calendar sync sees the real booking only.
        with Session(get_engine(offline_stack.database_url)) as session:
            synced = bookings_to_sync(session, business_id, datetime.now(UTC))
        assert [b.appointment_id for b in synced] == [real.id]

        # Its day is over (as if 24 hours had passed): no listing shows it any more...
        with Session(get_engine(offline_stack.database_url)) as session:
            expired = session.get(Appointment, demo.id)
            expired.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(expired)
            session.commit()
        detail = (await http.get(f"/api/admin/calls/{visitor.call_id}", headers=BEARER)).json()
        assert detail["bookings"] == []

    # ... and the next demo booking of the business prunes it.
    config = open_every_day(number)
    again = AppointmentBook(offline_stack.database_url).book(
        BookingRequest(
            business_id=business_id,
            business=config,
            call_id="realtime-another-demo",
            now=datetime.now(UTC),
            demo=True,
            idempotency_key="realtime/another-demo/call_1",
            service="Checkup",
            start=f"{tomorrow_at(15).astimezone(ZoneInfo(config.timezone)):%Y-%m-%dT%H:%M}",
        )
    )
    assert again.ok, again.message
    left = bookings_of(offline_stack.database_url, business_id)
    assert [a.id for a in left] == [real.id, again.appointment_id]
