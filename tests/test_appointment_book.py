"""Booking, moving and cancelling against the real database (SQLite, or PostgreSQL with DATABASE_URL).

Every test stores a business of its own (its own phone number), so its slots never meet another
test's. `NOW` is fixed: Monday, January 6, 2031, 7:00 AM in New York.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from activities.appointments import AppointmentActivities
from business.booking_rules import check_slot
from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from database.appointment_book import MAX_BOOKINGS_PER_CALL, AppointmentBook
from database.engine import get_engine
from database.models import Appointment, AppointmentSlot, Business
from receptionist.appointment_requests import (
    BookingProof,
    BookingRequest,
    CancelRequest,
    FreeTimesRequest,
    MoveRequest,
    ToolOutcome,
)

pytestmark = pytest.mark.database

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2031, 1, 6, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Shop:
    """A business of the test's own, and shortcuts to the appointment book for it."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.book_of = AppointmentBook(database_url)
        self.config = BusinessConfig(
            name="Race Test Dental",
            business_type="dental office",
            phone_number=f"+1555{uuid.uuid4().int % 10**7:07d}",
            timezone="America/New_York",
            services=[
                Service(name="Cleaning", duration_minutes=30, price="$90"),
                Service(name="Checkup", duration_minutes=45, price="$120"),
                Service(name="Consult", duration_minutes=15),
            ],
            hours={day: OpeningHours(opens=time(9), closes=time(17)) for day in WEEKDAYS},
            closures=["2031-01-10"],
        )
        with Session(get_engine(database_url)) as session:
            business = Business(
                name=self.config.name, phone_number=self.config.phone_number, config=self.config.model_dump(mode="json")
            )
            session.add(business)
            session.commit()
            self.id = business.id
        self.caller = self.new_caller()
        self.call_id = f"call-{uuid.uuid4()}"

    @staticmethod
    def new_caller() -> str:
        return f"+1666{next(_numbers):03d}{uuid.uuid4().int % 10**4:04d}"

    def another_call(self) -> dict:
        """Another caller, on a call of their own."""
        return {"caller": self.new_caller(), "call_id": f"call-{uuid.uuid4()}"}

    def _common(self, caller: str | None, call_id: str | None) -> dict:
        return dict(
            business_id=self.id,
            business=self.config,
            call_id=call_id or self.call_id,
            caller_number=caller or self.caller,
            now=NOW,
        )

    def book(
        self,
        start: str,
        service: str = "Cleaning",
        *,
        key: str | None = None,
        caller: str | None = None,
        call_id: str | None = None,
        name: str | None = "Jane Doe",
    ) -> ToolOutcome:
        request = BookingRequest(
            **self._common(caller, call_id),
            idempotency_key=key or f"key-{uuid.uuid4()}",
            service=service,
            start=start,
            caller_name=name,
        )
        return self.book_of.book(request)

    def move(
        self,
        new_start: str,
        current_start: str | None = None,
        *,
        caller: str | None = None,
        call_id: str | None = None,
        key: str | None = None,
        proof: BookingProof | None = None,
    ) -> ToolOutcome:
        request = MoveRequest(
            **self._common(caller, call_id),
            current_start=current_start,
            new_start=new_start,
            idempotency_key=key or f"key-{uuid.uuid4()}",
            proof=proof or BookingProof(),
        )
        return self.book_of.move(request)

    def cancel(
        self,
        start: str | None = None,
        *,
        caller: str | None = None,
        call_id: str | None = None,
        key: str | None = None,
        proof: BookingProof | None = None,
    ) -> ToolOutcome:
        request = CancelRequest(
            **self._common(caller, call_id),
            idempotency_key=key or f"key-{uuid.uuid4()}",
            start=start,
            proof=proof or BookingProof(),
        )
        return self.book_of.cancel(request)

    def free(self, service: str, day: str | None = None) -> ToolOutcome:
        return self.book_of.find_free_times(FreeTimesRequest(**self._common(None, None), service=service, day=day))

    def appointments(self) -> list[Appointment]:
        with Session(get_engine(self.url)) as session:
            return list(
                session.exec(
                    select(Appointment).where(Appointment.business_id == self.id).order_by(Appointment.id)
                ).all()
            )

    def slots(self) -> list[datetime]:
        with Session(get_engine(self.url)) as session:
            rows = session.exec(select(AppointmentSlot.slot_start).where(AppointmentSlot.business_id == self.id)).all()
        return sorted(as_utc(r) for r in rows)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def offered_times(message: str) -> list[str]:
    """The machine-readable times a refusal or an availability answer offers, e.g. 2031-01-07T10:30."""
    return re.findall(r"\((\d{4}-\d\d-\d\dT\d\d:\d\d)\)", message)


@pytest.fixture
def shop(database_url: str) -> Shop:
    return Shop(database_url)


# --- booking ---------------------------------------------------------------------------------------


def test_a_booking_stores_service_times_and_caller(shop: Shop) -> None:
    outcome = shop.book("2031-01-07T10:30", "checkup", name="Jane Doe")
    assert outcome.ok, outcome.message
    assert outcome.message == "Booked a checkup tomorrow at 10:30 AM."
    [appointment] = shop.appointments()
    assert appointment.id == outcome.appointment_id
    assert appointment.service == "Checkup"
    assert as_utc(appointment.starts_at) == utc("2031-01-07T15:30:00")
    assert as_utc(appointment.ends_at) == utc("2031-01-07T16:15:00")
    assert (appointment.caller_name, appointment.caller_number) == ("Jane Doe", shop.caller)
    assert appointment.call_id == shop.call_id and appointment.status == "booked"
    assert shop.slots() == [utc("2031-01-07T15:30:00"), utc("2031-01-07T15:45:00"), utc("2031-01-07T16:00:00")]


def test_the_same_idempotency_key_books_once(shop: Shop) -> None:
    first = shop.book("2031-01-07T11:00", key=f"{shop.call_id}/turn-3/round-0/tool-0")
    again = shop.book("2031-01-07T11:00", key=f"{shop.call_id}/turn-3/round-0/tool-0")
    assert first.ok and again.ok
    assert again.appointment_id == first.appointment_id
    assert again.message == first.message
    assert len(shop.appointments()) == 1
    assert shop.slots() == [utc("2031-01-07T16:00:00"), utc("2031-01-07T16:15:00")]


def test_a_taken_time_is_refused_with_free_alternatives(shop: Shop) -> None:
    assert shop.book("2031-01-07T14:00").ok
    other_caller = shop.new_caller()
    other_call = f"call-{uuid.uuid4()}"
    outcome = shop.book("2031-01-07T14:00", caller=other_caller, call_id=other_call)
    assert not outcome.ok and outcome.appointment_id is None
    assert outcome.message.startswith("Sorry, that time was just taken. The nearest free times:")
    offered = offered_times(outcome.message)
    # A cleaning at 1:45 would overlap 2:00; the nearest that fit are 1:30 and 2:30, then 1:15 (before 2:45).
    assert offered == ["2031-01-07T13:15", "2031-01-07T13:30", "2031-01-07T14:30"]
    taken = shop.book(offered[-1], caller=other_caller, call_id=other_call)  # the caller takes one
    assert taken.ok and taken.message == "Booked a cleaning tomorrow at 2:30 PM."
    assert len(shop.appointments()) == 2


def test_a_time_the_rules_refuse_comes_with_the_reason_and_alternatives(shop: Shop) -> None:
    outcome = shop.book("2031-01-07T16:45", "Checkup")
    assert not outcome.ok
    assert outcome.message.startswith(
        "A checkup takes 45 minutes, which would run past closing at 5 PM. The nearest free times:"
    )
    assert offered_times(outcome.message) == ["2031-01-07T15:45", "2031-01-07T16:00", "2031-01-07T16:15"]
    assert shop.appointments() == []


def test_an_unknown_service_is_refused(shop: Shop) -> None:
    outcome = shop.book("2031-01-07T10:00", "Massage")
    assert not outcome.ok
    assert outcome.message == "We don't offer 'Massage'. We offer: Cleaning, Checkup, Consult."
    assert shop.appointments() == [] and shop.slots() == []


@pytest.mark.parametrize("nonsense", ["next blursday", "2031-02-30T10:00", ""])
def test_a_nonsense_date_is_refused(shop: Shop, nonsense: str) -> None:
    outcome = shop.book(nonsense)
    assert not outcome.ok
    assert "is not a date and time such as" in outcome.message
    assert offered_times(outcome.message)[0] == "2031-01-06T09:00"  # the earliest free times instead
    assert shop.appointments() == []


def test_a_past_or_closed_time_is_refused(shop: Shop) -> None:
    assert shop.book("2031-01-06T06:00").message.startswith("That time has already passed.")
    assert shop.book("2031-01-10T10:00").message.startswith("We're closed on Friday, January 10.")
    assert shop.appointments() == []


def test_no_more_than_the_limit_of_bookings_in_one_call(shop: Shop) -> None:
    # An LLM asking for 50 slots gets MAX_BOOKINGS_PER_CALL of them.
    outcomes = [
        shop.book(f"2031-01-08T{9 + i // 4:02d}:{i % 4 * 15:02d}", "Consult", key=f"{shop.call_id}/{i}")
        for i in range(50)
    ]
    assert [o.ok for o in outcomes[:MAX_BOOKINGS_PER_CALL]] == [True] * MAX_BOOKINGS_PER_CALL
    assert not any(o.ok for o in outcomes[MAX_BOOKINGS_PER_CALL:])
    assert (
        outcomes[MAX_BOOKINGS_PER_CALL].message
        == f"At most {MAX_BOOKINGS_PER_CALL} appointments can be booked in one call."
    )
    assert len(shop.appointments()) == MAX_BOOKINGS_PER_CALL
    # A retry of one that was booked still answers as booked, and another call may book.
    assert shop.book("2031-01-08T09:00", "Consult", key=f"{shop.call_id}/0").ok
    assert shop.book("2031-01-09T09:00", **shop.another_call()).ok


# --- moving ----------------------------------------------------------------------------------------


def test_an_appointment_moves_to_a_free_time_and_frees_the_old_one(shop: Shop) -> None:
    booked = shop.book("2031-01-07T10:00")
    moved = shop.move("2031-01-07T14:00", "2031-01-07T10:00")
    assert moved.ok, moved.message
    assert moved.message == "Moved to a cleaning tomorrow at 2 PM."
    assert moved.appointment_id == booked.appointment_id
    [appointment] = shop.appointments()
    assert as_utc(appointment.starts_at) == utc("2031-01-07T19:00:00")
    assert as_utc(appointment.ends_at) == utc("2031-01-07T19:30:00")
    assert shop.slots() == [utc("2031-01-07T19:00:00"), utc("2031-01-07T19:15:00")]
    assert shop.book("2031-01-07T10:00", **shop.another_call()).ok  # the old time is free again


def test_moving_onto_its_own_time_partly_works(shop: Shop) -> None:
    shop.book("2031-01-07T10:00", "Checkup")  # holds 10:00, 10:15, 10:30
    moved = shop.move("2031-01-07T10:15")  # overlaps itself: fine
    assert moved.ok, moved.message
    assert shop.slots() == [utc("2031-01-07T15:15:00"), utc("2031-01-07T15:30:00"), utc("2031-01-07T15:45:00")]


def test_a_move_to_a_taken_time_is_refused_with_alternatives(shop: Shop) -> None:
    mine = shop.book("2031-01-07T10:00")
    shop.book("2031-01-07T14:00", **shop.another_call())
    outcome = shop.move("2031-01-07T14:00")
    assert not outcome.ok
    assert outcome.message.startswith("Sorry, that time is taken. The nearest free times:")
    assert "2031-01-07T14:00" not in offered_times(outcome.message)
    assert offered_times(outcome.message)
    appointment = next(a for a in shop.appointments() if a.id == mine.appointment_id)
    assert as_utc(appointment.starts_at) == utc("2031-01-07T15:00:00"), (
        "a refused move leaves the appointment where it was"
    )
    assert utc("2031-01-07T15:00:00") in shop.slots()


def test_a_move_the_rules_refuse_keeps_the_appointment(shop: Shop) -> None:
    shop.book("2031-01-07T10:00")
    outcome = shop.move("2031-01-07T20:00")
    assert not outcome.ok and "outside our opening hours" in outcome.message
    assert as_utc(shop.appointments()[0].starts_at) == utc("2031-01-07T15:00:00")


def test_moving_to_the_same_time_is_idempotent(shop: Shop) -> None:
    booked = shop.book("2031-01-07T10:00")
    for _ in range(2):
        outcome = shop.move("2031-01-07T10:00")
        assert outcome.ok and outcome.appointment_id == booked.appointment_id
    assert shop.slots() == [utc("2031-01-07T15:00:00"), utc("2031-01-07T15:15:00")]


def test_a_retried_move_answers_as_moved(shop: Shop) -> None:
    # The activity's first attempt moved it; the retry (same request) must not say it can't find it.
    booked = shop.book("2031-01-07T10:00")
    first = shop.move("2031-01-07T14:00", "2031-01-07T10:00", key="call-x/turn-2/tool-0")
    retry = shop.move("2031-01-07T14:00", "2031-01-07T10:00", key="call-x/turn-2/tool-0")
    assert first.ok and retry.ok, retry.message
    assert retry.appointment_id == booked.appointment_id
    assert shop.slots() == [utc("2031-01-07T19:00:00"), utc("2031-01-07T19:15:00")]


def test_nothing_to_move_for_a_caller_without_an_appointment(shop: Shop) -> None:
    shop.book("2031-01-07T10:00")
    outcome = shop.move("2031-01-07T14:00", caller=shop.new_caller())
    # The same answer as to a caller who has one and did not prove it: a spoofer learns nothing from it.
    assert not outcome.ok and outcome.message.startswith("For your privacy, I need the name")


# --- cancelling ------------------------------------------------------------------------------------


def test_a_cancelled_appointment_frees_its_slot(shop: Shop) -> None:
    booked = shop.book("2031-01-07T10:00")
    outcome = shop.cancel("2031-01-07T10:00")
    assert outcome.ok and outcome.appointment_id == booked.appointment_id
    assert outcome.message == "Cancelled a cleaning tomorrow at 10 AM."
    assert [a.status for a in shop.appointments()] == ["cancelled"]
    assert shop.slots() == []
    again = shop.book("2031-01-07T10:00", **shop.another_call())
    assert again.ok, again.message


def test_cancelling_twice_is_fine(shop: Shop) -> None:
    booked = shop.book("2031-01-07T10:00")
    first, second = shop.cancel("2031-01-07T10:00"), shop.cancel("2031-01-07T10:00")
    assert first.ok and second.ok
    assert first.appointment_id == second.appointment_id == booked.appointment_id
    assert [a.status for a in shop.appointments()] == ["cancelled"]


def test_cancel_without_a_time_cancels_the_next_one(shop: Shop) -> None:
    later = shop.book("2031-01-09T10:00")
    sooner = shop.book("2031-01-07T10:00")
    outcome = shop.cancel()
    assert outcome.ok and outcome.appointment_id == sooner.appointment_id
    statuses = {a.id: a.status for a in shop.appointments()}
    assert statuses == {sooner.appointment_id: "cancelled", later.appointment_id: "booked"}


def test_nothing_to_cancel_for_another_caller(shop: Shop) -> None:
    shop.book("2031-01-07T10:00")
    assert not shop.cancel(caller=shop.new_caller()).ok
    assert [a.status for a in shop.appointments()] == ["booked"]


# --- free times ------------------------------------------------------------------------------------


def test_free_times_on_a_day_skip_what_is_taken(shop: Shop) -> None:
    before = shop.free("Cleaning", "2031-01-07")
    assert before.ok
    assert before.message.startswith("Free times for a cleaning: tomorrow at 9 AM (2031-01-07T09:00);")
    shop.book("2031-01-07T09:00")
    after = shop.free("cleaning", "2031-01-07")
    assert offered_times(after.message) == ["2031-01-07T09:30", "2031-01-07T09:45", "2031-01-07T10:00"]


def test_free_times_without_a_day_are_the_earliest(shop: Shop) -> None:
    outcome = shop.free("Checkup")
    assert offered_times(outcome.message) == ["2031-01-06T09:00", "2031-01-06T09:15", "2031-01-06T09:30"]


def test_free_times_refuse_an_unknown_service_a_bad_day_and_a_closed_day(shop: Shop) -> None:
    assert shop.free("Massage").message.startswith("We don't offer 'Massage'.")
    bad = shop.free("Cleaning", "someday")
    assert not bad.ok and "is not a date" in bad.message
    closed = shop.free("Cleaning", "2031-01-10")
    assert not closed.ok and closed.message == "There are no free times for a cleaning then."


async def test_the_activities_are_plain_coroutines_when_called_directly(shop: Shop) -> None:
    activities = AppointmentActivities(shop.url)
    outcome = await activities.book_appointment(
        BookingRequest(
            business_id=shop.id,
            business=shop.config,
            call_id=shop.call_id,
            caller_number=shop.caller,
            now=NOW,
            idempotency_key=f"key-{uuid.uuid4()}",
            service="Consult",
            start="2031-01-07T12:00",
            caller_name="Al",
        )
    )
    assert outcome.ok
    free = await activities.find_free_times(
        FreeTimesRequest(business_id=shop.id, business=shop.config, now=NOW, service="Consult", day="2031-01-07")
    )
    assert "2031-01-07T12:00" not in free.message


# --- two calls racing for one slot -----------------------------------------------------------------


def test_two_calls_racing_for_one_slot_exactly_one_wins(shop: Shop) -> None:
    rounds = 20
    barrier = threading.Barrier(2)

    def book_at_the_same_moment(start: str, caller: str) -> ToolOutcome:
        barrier.wait()
        return shop.book(start, "Consult", caller=caller, call_id=f"call-{caller}", key=f"race-{uuid.uuid4()}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        for index in range(rounds):
            moment = datetime(2031, 1, 8, 9, tzinfo=NEW_YORK) + timedelta(minutes=15 * index)
            start = f"{moment:%Y-%m-%dT%H:%M}"
            futures = [pool.submit(book_at_the_same_moment, start, shop.new_caller()) for _ in range(2)]
            outcomes = [future.result(timeout=60) for future in futures]
            winners = [o for o in outcomes if o.ok]
            assert len(winners) == 1, (start, [o.message for o in outcomes])
            [loser] = [o for o in outcomes if not o.ok]
            assert loser.message.startswith("Sorry, that time was just taken."), loser.message
            assert start not in offered_times(loser.message)

    appointments = shop.appointments()
    assert len(appointments) == rounds, "the loser's appointment row was rolled back"
    assert sorted(as_utc(a.starts_at) for a in appointments) == [
        utc("2031-01-08T14:00:00") + timedelta(minutes=15 * i) for i in range(rounds)
    ]
    assert len(shop.slots()) == rounds == len(set(shop.slots()))


def test_the_same_booking_retried_concurrently_books_once(shop: Shop) -> None:
    barrier = threading.Barrier(2)
    key = f"{shop.call_id}/turn-1/round-0/tool-0"

    def book() -> ToolOutcome:
        barrier.wait()
        return shop.book("2031-01-07T11:00", key=key)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [f.result(timeout=60) for f in [pool.submit(book) for _ in range(2)]]
    assert all(o.ok for o in outcomes), [o.message for o in outcomes]
    assert outcomes[0].appointment_id == outcomes[1].appointment_id
    assert len(shop.appointments()) == 1


def test_the_database_itself_refuses_a_second_row_for_one_slot(shop: Shop) -> None:
    first = shop.book("2031-01-07T10:00", "Consult")
    second = shop.book("2031-01-07T11:00", "Consult")
    with Session(get_engine(shop.url)) as session:
        session.add(
            AppointmentSlot(
                business_id=shop.id, slot_start=utc("2031-01-07T15:00:00"), appointment_id=second.appointment_id
            )
        )
        with pytest.raises(IntegrityError):
            session.commit()
    with Session(get_engine(shop.url)) as session:
        # The same instant written in New York time is the same slot.
        same_instant = datetime(2031, 1, 7, 10, tzinfo=NEW_YORK)
        session.add(AppointmentSlot(business_id=shop.id, slot_start=same_instant, appointment_id=second.appointment_id))
        with pytest.raises(IntegrityError):
            session.commit()
    assert shop.slots() == [utc("2031-01-07T15:00:00"), utc("2031-01-07T16:00:00")]
    assert first.appointment_id != second.appointment_id


def test_another_business_may_hold_the_same_moment(shop: Shop, database_url: str) -> None:
    neighbour = Shop(database_url)
    assert shop.book("2031-01-07T10:00").ok
    assert neighbour.book("2031-01-07T10:00").ok
    assert shop.slots() == neighbour.slots()


def test_every_offered_time_is_accepted_by_the_rules(shop: Shop) -> None:
    shop.book("2031-01-07T09:00")
    for start in offered_times(shop.free("Checkup", "2031-01-07").message):
        assert check_slot(shop.config, "Checkup", start, NOW).ok


def test_a_retried_cancellation_without_a_time_cancels_one_appointment_not_the_next(shop):
    caller = shop.new_caller()
    shop.book("2031-01-07T10:00", caller=caller)
    shop.book("2031-01-08T10:00", caller=caller)
    first = shop.cancel(caller=caller, key="call-x/turn-2/tool-0")
    retry = shop.cancel(caller=caller, key="call-x/turn-2/tool-0")
    assert first.ok and retry.ok and first.appointment_id == retry.appointment_id
    statuses = sorted(a.status for a in shop.appointments() if a.caller_number == caller)
    assert statuses == ["booked", "cancelled"]


# --- demo bookings ---------------------------------------------------------------------------------


def test_a_demo_booking_sees_real_bookings_but_holds_no_slot_even_when_moved(shop: Shop) -> None:
    shop.book("2031-01-07T10:00")  # a real caller's
    demo = dict(business_id=shop.id, business=shop.config, call_id="realtime-demo", now=NOW, demo=True)

    def demo_book(start: str) -> ToolOutcome:
        return shop.book_of.book(
            BookingRequest(**demo, idempotency_key=f"key-{uuid.uuid4()}", service="Cleaning", start=start)
        )

    taken = demo_book("2031-01-07T10:00")
    assert taken.message.startswith("Sorry, that time is taken. The nearest free times:"), "a demo sees the real book"
    assert demo_book("2031-01-07T11:00").ok
    moved = shop.book_of.move(MoveRequest(**demo, new_start="2031-01-07T14:00", idempotency_key=f"key-{uuid.uuid4()}"))
    assert moved.ok, moved.message
    assert shop.slots() == [utc("2031-01-07T15:00:00"), utc("2031-01-07T15:15:00")], "only the real booking's"
    assert shop.book("2031-01-07T14:00", **shop.another_call()).ok, "the demo keeps no real caller out"
    real, sandboxed, _ = shop.appointments()
    assert (real.is_demo, sandboxed.is_demo) == (False, True)
    assert as_utc(sandboxed.expires_at) == NOW + timedelta(hours=24)
