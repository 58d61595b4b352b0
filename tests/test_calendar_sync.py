"""The business's own calendar, both ways, against a real CalDAV server (Radicale) started here.

A busy time there blocks the slots offered to a caller; a booking appears there as an event (once,
whatever the retries); an event moved or deleted there moves or cancels the booking, and the caller
is texted; with the calendar down callers still book, and the event is written when it is back;
the calendar's password is given back by no route or page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.worker import Replayer

from business.calendar_link import CalendarEntry, event_uid
from business.calendar_sync_plan import BookingEntry, plan_sync
from business.config import BusinessConfig
from database.appointment_book import AppointmentBook
from database.calendar_models import CalendarLink
from database.engine import get_engine
from database.models import Appointment, Business, Callback
from domain.vocabulary import AppointmentStatus
from receptionist.appointment_requests import BookingRequest
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.calendar_server import PASSWORD, USERNAME, CalendarServer
from tests.conftest import running_stack
from tests.in_process import ADMIN_KEY
from tests.test_phone_call import finished_workflow, spoken
from tests.waiting import eventually
from workflows.calendar_sync import CalendarSyncWorkflow
from workflows.callback import CallbackWorkflow

pytestmark = pytest.mark.database

BUSINESS = "+15555550181"
NEW_YORK = ZoneInfo("America/New_York")
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(NEW_YORK).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalendarServer]:
    server = CalendarServer(tmp_path_factory.mktemp("radicale"))
    server.start()
    server.make_calendar()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def calendar_stack(temporal, database_url, fake_llm, tmp_path_factory):
    """The phone path (offline brain), with the admin API on. Calendars are synced hourly by their schedules:
    a change in CloudGreet's book is synced at once by the appointment activities, one in the calendar
    when a test presses "Sync now" (as an owner who does not want to wait)."""
    extra = {"ADMIN_API_KEY": ADMIN_KEY, "CALENDAR_SYNC_SECONDS": "3600"}
    with running_stack(
        temporal, database_url, fake_llm, tmp_path_factory.mktemp("logs"), name="calendar", llm=False, extra_env=extra
    ) as the_stack:
        yield the_stack


@pytest.fixture(scope="module")
def business_id(calendar_stack, radicale) -> int:
    business_id = store_business(calendar_stack.database_url, open_every_day(BUSINESS))
    answer = httpx.put(
        f"{calendar_stack.api_url}/api/admin/businesses/{business_id}/calendar",
        json={"url": radicale.url, "username": USERNAME, "password": PASSWORD},
        headers=BEARER,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return business_id


def status(stack, business_id: int) -> dict:
    answer = httpx.get(f"{stack.api_url}/api/admin/businesses/{business_id}/calendar", headers=BEARER, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def sync_now(stack, business_id: int) -> None:
    answer = httpx.post(f"{stack.api_url}/api/admin/businesses/{business_id}/calendar/sync", headers=BEARER, timeout=10)
    assert answer.status_code == 202, answer.text


async def synced_after(stack, business_id: int, moment: datetime, outcome: str = "synced") -> dict:
    """The status once a sync that started after `moment` (asked for now) has ended with `outcome`."""
    await asyncio.to_thread(sync_now, stack, business_id)
    return await eventually(
        lambda: status(stack, business_id),
        lambda s: s["last_outcome"] == outcome and as_utc(datetime.fromisoformat(s["last_sync_at"])) > moment,
        timeout=60,
        what=f"a sync ending {outcome}",
    )


def appointment(stack, appointment_id: int) -> Appointment:
    with Session(get_engine(stack.database_url)) as session:
        return session.get(Appointment, appointment_id)


def book(stack, business_id: int, caller: str, name: str, start: str, key: str) -> int:
    """A booking as the book activity makes it (a caller's yes), straight into CloudGreet's table, and
    the sync the activity asks for."""
    with Session(get_engine(stack.database_url)) as session:
        config = BusinessConfig.model_validate(session.get(Business, business_id).config)
    outcome = AppointmentBook(stack.database_url).book(
        BookingRequest(
            business_id=business_id,
            business=config,
            call_id=f"call-{key}",
            caller_number=caller,
            now=datetime.now(UTC),
            idempotency_key=key,
            service="Cleaning",
            start=start,
            caller_name=name,
        )
    )
    assert outcome.ok and outcome.appointment_id, outcome.message
    sync_now(stack, business_id)
    return outcome.appointment_id


def texts_to(stack, number: str) -> list[str]:
    return [m.text for m in stack.simulator.simulator.messages if m.to_number == number]


# --- the plan: who wins --------------------------------------------------------------------------


def test_where_both_sides_moved_a_booking_the_calendar_wins() -> None:
    at = tomorrow_at(10)
    booking = BookingEntry(
        appointment_id=1,
        uid="u1",
        booked=True,
        starts_at=at + timedelta(hours=1),  # moved in CloudGreet...
        ends_at=at + timedelta(hours=1, minutes=30),
        service="Cleaning",
        event_starts_at=at,
        event_ends_at=at + timedelta(minutes=30),
    )
    there = CalendarEntry(uid="u1", starts_at=at + timedelta(hours=3), ends_at=at + timedelta(hours=3, minutes=30))
    plan = plan_sync([booking], [there])  # ... and in the calendar
    assert [m.to for m in plan.moved_by_calendar] == [there] and plan.write == []
    # Moved in CloudGreet only: written there.
    plan = plan_sync([booking], [CalendarEntry(uid="u1", starts_at=at, ends_at=at + timedelta(minutes=30))])
    assert plan.write == [booking] and plan.moved_by_calendar == []
    # Someone else's event is a busy time; ours is not.
    lunch = CalendarEntry(uid="lunch", starts_at=at, ends_at=at + timedelta(hours=1))
    assert plan_sync([booking], [lunch, there]).busy == [lunch]


# --- through the stack and Radicale --------------------------------------------------------------


async def test_a_busy_time_in_the_calendar_blocks_the_slots_offered_to_a_caller(calendar_stack, radicale, business_id):
    before = datetime.now(UTC)
    # A lunch kept every day for a week from tomorrow: each occurrence is a busy time (7 events seen).
    radicale.add_event("dentists-lunch", tomorrow_at(10), tomorrow_at(11, 30), "Lunch with the lab", daily=True)
    seen = await synced_after(calendar_stack, business_id, before)
    assert seen["events_seen"] >= 7

    caller = "+15555550182"
    script = CallScript(
        from_number=caller,
        to_number=BUSINESS,
        lines=["I'd like to book a cleaning tomorrow at 10:30 am", "My name is Dana", "Yes", "That's all, bye"],
    )
    call = calendar_stack.simulator.place_call(script)
    await calendar_stack.simulator.wait_ended(call, 90)
    await finished_workflow(calendar_stack, call)

    said = " ".join(spoken(call))
    assert "Sorry, that time is taken." in said
    # Nothing in 9:45-11:15 is offered: a cleaning there would overlap the lunch.
    assert "The nearest free times: tomorrow at 9:15 AM; tomorrow at 9:30 AM; tomorrow at 11:30 AM." in said
    with Session(get_engine(calendar_stack.database_url)) as session:
        booked = session.exec(select(Appointment).where(Appointment.caller_number == caller)).all()
    assert all(not (tomorrow_at(10) <= as_utc(a.starts_at) < tomorrow_at(11, 30)) for a in booked)


async def test_a_booking_made_in_a_call_appears_in_the_calendar_once(calendar_stack, radicale, business_id):
    caller = "+15555550183"
    script = CallScript(
        from_number=caller,
        to_number=BUSINESS,
        lines=["I'd like to book a cleaning tomorrow at 2 pm", "My name is Robin", "Yes", "That's all, bye"],
    )
    call = calendar_stack.simulator.place_call(script)
    await calendar_stack.simulator.wait_ended(call, 90)
    await finished_workflow(calendar_stack, call)
    with Session(get_engine(calendar_stack.database_url)) as session:
        [booked] = session.exec(select(Appointment).where(Appointment.caller_number == caller)).all()

    uid = event_uid(business_id, booked.id)
    starts, ends, summary = (await eventually(radicale.events, lambda events: uid in events, timeout=60))[uid]
    assert (as_utc(starts), as_utc(ends)) == (tomorrow_at(14), tomorrow_at(14, 30))
    assert summary == "Cleaning - Robin"
    # Later syncs (and retried writes) overwrite the same event: never a second one.
    await synced_after(calendar_stack, business_id, datetime.now(UTC))
    assert radicale.event_count(uid) == 1
    assert status(calendar_stack, business_id)["waiting_writes"] == 0

    # A meeting put over it in the calendar does not cancel it: the owner is shown it, to settle with the caller.
    radicale.add_event("staff-meeting", tomorrow_at(14), tomorrow_at(15), "Staff meeting")
    after = await synced_after(calendar_stack, business_id, datetime.now(UTC))
    assert after["overlapping_bookings"] == 1 and "1 booking(s) overlap other events" in after["summary"]
    assert appointment(calendar_stack, booked.id).status == AppointmentStatus.BOOKED


async def test_an_event_moved_in_the_calendar_moves_the_booking_and_the_caller_is_texted(
    calendar_stack, radicale, business_id
):
    caller = "+15555550184"
    appointment_id = book(
        calendar_stack,
        business_id,
        caller,
        "Sam",
        tomorrow_at(12).astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M"),
        "calendar-move",
    )
    uid = event_uid(business_id, appointment_id)
    await eventually(radicale.events, lambda events: uid in events, timeout=60, what="the booking's event")

    radicale.move_event(uid, tomorrow_at(15), tomorrow_at(15, 30))  # the dentist drags it in their calendar
    sync_now(calendar_stack, business_id)

    moved = await eventually(
        lambda: appointment(calendar_stack, appointment_id),
        lambda a: as_utc(a.starts_at) == tomorrow_at(15),
        timeout=60,
        what="the booking at the calendar's time",
    )
    assert as_utc(moved.ends_at) == tomorrow_at(15, 30) and moved.status == AppointmentStatus.BOOKED
    [text] = await eventually(lambda: texts_to(calendar_stack, caller), bool, timeout=30, what="the caller's text")
    assert "your cleaning tomorrow at 12 PM has been moved to tomorrow at 3 PM" in text
    # The slot it left is free again, the one it holds now is not.
    assert radicale.event_count(uid) == 1


async def test_an_event_deleted_in_the_calendar_cancels_the_booking_and_the_caller_is_texted(
    calendar_stack, radicale, business_id
):
    caller = "+15555550185"
    appointment_id = book(
        calendar_stack,
        business_id,
        caller,
        "Lee",
        tomorrow_at(16).astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M"),
        "calendar-delete",
    )
    uid = event_uid(business_id, appointment_id)
    await eventually(radicale.events, lambda events: uid in events, timeout=60, what="the booking's event")

    radicale.delete_event(uid)
    sync_now(calendar_stack, business_id)

    await eventually(
        lambda: appointment(calendar_stack, appointment_id),
        lambda a: a.status == AppointmentStatus.CANCELLED,
        timeout=60,
        what="the booking cancelled",
    )
    [text] = await eventually(lambda: texts_to(calendar_stack, caller), bool, timeout=30, what="the caller's text")
    assert "your cleaning tomorrow at 4 PM has been cancelled" in text


async def test_a_caller_of_a_business_that_cannot_text_is_promised_a_call_back(calendar_stack, radicale):
    no_texts = store_business(
        calendar_stack.database_url, open_every_day("+15555550188").model_copy(update={"sms_from_number": None})
    )
    async with httpx.AsyncClient(base_url=calendar_stack.api_url, headers=BEARER, timeout=30) as api:
        linked = await api.put(
            f"/api/admin/businesses/{no_texts}/calendar",
            json={"url": radicale.url, "username": USERNAME, "password": PASSWORD},
        )
    assert linked.status_code == 200, linked.text
    caller = "+12125550189"  # a number a call-back may dial (555-01xx of area code 555 is nowhere)
    start = tomorrow_at(13).astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M")
    appointment_id = book(calendar_stack, no_texts, caller, "Ari", start, "calendar-no-texts")
    uid = event_uid(no_texts, appointment_id)
    await eventually(radicale.events, lambda events: uid in events, timeout=60, what="the booking's event")

    radicale.delete_event(uid)
    sync_now(calendar_stack, no_texts)

    def callbacks() -> list[Callback]:
        with Session(get_engine(calendar_stack.database_url)) as session:
            return list(session.exec(select(Callback).where(Callback.caller_number == caller)).all())

    [callback] = await eventually(callbacks, bool, timeout=60, what="a call-back promised")
    assert callback.business_id == no_texts and callback.reason == "Your cleaning tomorrow at 1 PM was cancelled"
    assert appointment(calendar_stack, appointment_id).status == AppointmentStatus.CANCELLED
    assert texts_to(calendar_stack, caller) == []

    # Unlinked: no more syncs (its schedule is gone), and nothing of the link is left to show.
    async with httpx.AsyncClient(base_url=calendar_stack.api_url, headers=BEARER, timeout=30) as api:
        assert (await api.delete(f"/api/admin/businesses/{no_texts}/calendar")).status_code == 204
        assert (await api.get(f"/api/admin/businesses/{no_texts}/calendar")).status_code == 404
    with pytest.raises(RPCError):
        await calendar_stack.temporal_client.get_schedule_handle(f"calendar-sync-{no_texts}").describe()


async def test_with_the_calendar_down_callers_book_and_the_event_is_written_when_it_is_back(
    calendar_stack, radicale, business_id
):
    radicale.stop()
    try:
        before = datetime.now(UTC)
        appointment_id = book(
            calendar_stack,
            business_id,
            "+15555550186",
            "Kim",
            tomorrow_at(9).astimezone(NEW_YORK).strftime("%Y-%m-%dT%H:%M"),
            "calendar-down",
        )
        down = await synced_after(calendar_stack, business_id, before, outcome="unreachable")
        assert down["waiting_writes"] >= 1
        assert "written to the calendar when it answers again" in down["summary"]
        assert down["last_error"]
        assert appointment(calendar_stack, appointment_id).status == AppointmentStatus.BOOKED
    finally:
        radicale.start()

    # The next sync (the schedule's, here asked for now) finds it back and writes what waited.
    back = await synced_after(calendar_stack, business_id, datetime.now(UTC))
    assert back["waiting_writes"] == 0 and back["last_error"] is None
    assert event_uid(business_id, appointment_id) in radicale.events()


async def test_a_calendar_is_found_by_its_name_on_the_server(calendar_stack, radicale, business_id):
    """iCloud and Fastmail give a server's address; the account's calendar is found by the name it shows."""
    other = store_business(calendar_stack.database_url, open_every_day("+15555550187"))
    radicale.add_event("team-meeting", tomorrow_at(8), tomorrow_at(8, 30), "Team meeting")
    async with httpx.AsyncClient(base_url=calendar_stack.api_url, headers=BEARER, timeout=30) as api:
        answer = await api.put(
            f"/api/admin/businesses/{other}/calendar",
            json={"url": radicale.server_url, "calendar_name": "Practice", "username": USERNAME, "password": PASSWORD},
        )
    assert answer.status_code == 200, answer.text
    found = await synced_after(calendar_stack, other, datetime.now(UTC) - timedelta(seconds=1))
    assert found["events_seen"] >= 1 and found["calendar_name"] == "Practice"
    # Its schedule syncs it every CALENDAR_SYNC_SECONDS, whoever presses "Sync now" or not.
    schedule = await calendar_stack.temporal_client.get_schedule_handle(f"calendar-sync-{other}").describe()
    assert [i.every for i in schedule.schedule.spec.intervals] == [timedelta(hours=1)]


async def test_the_calendar_password_is_never_given_back(calendar_stack, radicale, business_id):
    api = calendar_stack.api_url
    link = f"/api/admin/businesses/{business_id}/calendar"
    async with httpx.AsyncClient(base_url=api, headers=BEARER, timeout=30) as client:
        answers = [
            await client.get(link),
            # No password: the stored one is kept.
            await client.put(link, json={"url": radicale.url, "username": USERNAME}),
            await client.put(link, json={"url": "not a url", "username": USERNAME, "password": PASSWORD}),
            await client.put(
                link, json={"url": radicale.url.replace("//", f"//{USERNAME}:{PASSWORD}@"), "username": USERNAME}
            ),
            await client.put(link, json={"url": radicale.url, "username": USERNAME, "password": PASSWORD + "x" * 600}),
            await client.post(f"{link}/sync"),
            await client.get(f"/api/admin/businesses/{business_id}/config"),
            await client.get("/openapi.json"),
        ]
    assert [a.status_code for a in answers] == [200, 200, 422, 422, 422, 202, 200, 200]
    assert answers[1].json()["password_set"] is True
    await synced_after(calendar_stack, business_id, datetime.now(UTC))
    async with httpx.AsyncClient(base_url=api, headers={"Origin": api}, timeout=30) as browser:
        logged_in = await browser.post("/admin/login", data={"api_key": ADMIN_KEY}, follow_redirects=True)
        assert logged_in.status_code == 200
        page = await browser.get(f"/admin/businesses/{business_id}/config")
        assert page.status_code == 200 and 'id="calendar"' in page.text and radicale.url in page.text
        assert "In sync" in page.text
        answers.append(page)
        # The page's own form and buttons work too: saved without a password, the stored one is kept...
        saved = await browser.post(
            f"/admin/businesses/{business_id}/calendar", data={"url": radicale.url, "username": USERNAME}
        )
        assert saved.status_code == 303 and saved.headers["location"].endswith("/config#calendar")
        # ... and "Sync now" runs a sync and comes back to the page.
        before = datetime.now(UTC)
        synced = await browser.post(f"/admin/businesses/{business_id}/calendar/sync")
        assert synced.status_code == 303 and synced.headers["location"].endswith("/config#calendar")
        await synced_after(calendar_stack, business_id, before)
    for answer in answers:
        assert PASSWORD not in answer.text
    # At rest it is sealed, and the sync still reads it: the calendar answers.
    with Session(get_engine(calendar_stack.database_url)) as session:
        assert PASSWORD not in session.get(CalendarLink, business_id).sealed_password
    await synced_after(calendar_stack, business_id, datetime.now(UTC))


async def test_the_syncs_replay_deterministically(calendar_stack, radicale, business_id):
    """Every sync the schedule ran for this business (moves, cancellations, texts, a calendar down) replays
    on this code: what the workflow decides comes only from its activities' answers."""
    await synced_after(calendar_stack, business_id, datetime.now(UTC))
    schedule = await calendar_stack.temporal_client.get_schedule_handle(f"calendar-sync-{business_id}").describe()
    runs = [a.action for a in schedule.info.recent_actions]
    assert runs
    histories = []
    for run in runs:
        handle = calendar_stack.temporal_client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id)
        await handle.result()
        histories.append(await handle.fetch_history())
    replayer = Replayer(workflows=[CalendarSyncWorkflow, CallbackWorkflow], data_converter=pydantic_data_converter)
    for history in histories:
        await replayer.replay_workflow(history)
