"""The I/O of a sync with a business's own calendar: CalDAV through the `caldav` library (Google
Calendar, iCloud, Fastmail, Nextcloud, Radicale...), and the records of the link.

`workflows.calendar_sync` decides; each activity here does one thing. The caldav library blocks,
so each CalDAV request runs in a thread, bounded by CALDAV_TIMEOUT_SECONDS. The password is
unsealed here, inside the activity, and never enters a workflow's history.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from business.calendar_link import CalendarEntry
from business.calendar_sync_plan import BookingEntry
from business.config import BusinessConfig
from business.opening_hours import spoken_moment
from database.calendar_store import (
    CalendarCredentials,
    bookings_to_sync,
    calendar_credentials,
    event_gone,
    event_written,
    follow_calendar_cancel,
    follow_calendar_move,
    keep_busy_times,
    record_sync,
)
from database.engine import get_engine
from database.models import Business
from domain.vocabulary import CalendarChange, CalendarSyncOutcome

CALDAV_TIMEOUT_SECONDS = 15
# The error types the sync workflow tells apart: the first is retried (a few times), the others not.
CALENDAR_UNREACHABLE = "CalendarUnreachable"
CALENDAR_REFUSED = "CalendarRefused"
CALENDAR_NO_PASSWORD = "CalendarPasswordUnreadable"


class SyncStateRequest(BaseModel):
    business_id: int
    now: datetime


class SyncState(BaseModel):
    """What CloudGreet holds for a sync: None of it for a business whose calendar was unlinked."""

    business_id: int
    business: BusinessConfig
    bookings: list[BookingEntry]


class CalendarRead(BaseModel):
    business_id: int
    start: datetime
    end: datetime


class EventWrite(BaseModel):
    business_id: int
    business_name: str
    booking: BookingEntry


class EventDelete(BaseModel):
    business_id: int
    booking: BookingEntry


class BusyTimes(BaseModel):
    business_id: int
    busy: list[CalendarEntry]


class CalendarFollow(BaseModel):
    """A change the calendar made to a booking, for CloudGreet to follow."""

    business_id: int
    booking: BookingEntry
    change: CalendarChange
    to: CalendarEntry | None = None  # the event's new times, for a move
    now: datetime


class CallerNotice(BaseModel):
    """What to tell the caller of a booking the calendar changed: texted from `from_number`, or, for a
    business that cannot text, said in a call-back."""

    to: str
    from_number: str | None
    text: str
    reason: str


class SyncReport(BaseModel):
    business_id: int
    at: datetime
    outcome: CalendarSyncOutcome
    error: str | None = None
    events_seen: int | None = None
    waiting_writes: int = 0
    overlapping_bookings: int = 0


def _event_times(component, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """An event's start and end as UTC moments; an all-day event covers its days in the business's timezone."""
    start = component.get("dtstart")
    if start is None:
        return None
    end = component.get("dtend")
    starts = start.dt
    if end is not None:
        ends = end.dt
    elif component.get("duration") is not None:
        ends = starts + component.get("duration").dt
    else:
        ends = starts
    return _moment(starts, zone), _moment(ends, zone)


def _moment(value: date | datetime, zone: ZoneInfo) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), tzinfo=zone).astimezone(UTC)
    return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)


class CalendarSync:
    def __init__(self, database_url: str, secret_key: str | None) -> None:
        self._database_url = database_url
        self._secret_key = secret_key

    def _session(self) -> Session:
        return Session(get_engine(self._database_url))

    # --- CloudGreet's side -----------------------------------------------------------------------

    @activity.defn(name="calendar_sync_state")
    async def calendar_sync_state(self, request: SyncStateRequest) -> SyncState | None:
        return await asyncio.to_thread(self._sync_state, request)

    def _sync_state(self, request: SyncStateRequest) -> SyncState | None:
        from business.calendar_link import calendar_window

        with self._session() as session:
            if calendar_credentials(session, request.business_id, None) is None:
                return None
            business = session.get(Business, request.business_id)
            if business is None:
                return None
            start, _ = calendar_window(request.now)
            return SyncState(
                business_id=request.business_id,
                business=BusinessConfig.model_validate(business.config),
                bookings=bookings_to_sync(session, request.business_id, start),
            )

    @activity.defn(name="keep_calendar_busy_times")
    async def keep_calendar_busy_times(self, busy: BusyTimes) -> None:
        await asyncio.to_thread(self._with_session, keep_busy_times, busy.business_id, busy.busy)

    @activity.defn(name="follow_calendar")
    async def follow_calendar(self, follow: CalendarFollow) -> CallerNotice | None:
        """Moves or cancels the booking as the calendar did; what to tell its caller (None: nobody to tell)."""
        return await asyncio.to_thread(self._follow, follow)

    def _follow(self, follow: CalendarFollow) -> CallerNotice | None:
        with self._session() as session:
            business = session.get(Business, follow.business_id)
            if business is None:
                return None
            config = BusinessConfig.model_validate(business.config)
            booking = follow.booking
            if follow.change == CalendarChange.MOVED and follow.to is not None:
                appointment = follow_calendar_move(
                    session, config, booking.appointment_id, follow.to.starts_at, follow.to.ends_at
                )
                was = spoken_moment(config, booking.starts_at, follow.now)
                now_at = spoken_moment(config, follow.to.starts_at, follow.now)
                text = f"{config.name}: your {booking.service.lower()} {was} has been moved to {now_at}."
                reason = f"Your {booking.service.lower()} {was} was moved to {now_at}"
            else:
                appointment = follow_calendar_cancel(session, booking.appointment_id)
                was = spoken_moment(config, booking.starts_at, follow.now)
                text = f"{config.name}: sorry, your {booking.service.lower()} {was} has been cancelled."
                reason = f"Your {booking.service.lower()} {was} was cancelled"
            if appointment is None or not booking.caller_number:
                return None
            if config.phone_number:
                moved = follow.change == CalendarChange.MOVED
                text += f" Call us on {config.phone_number} {'if that time does not suit you' if moved else 'to book another time'}."
            return CallerNotice(to=booking.caller_number, from_number=config.sms_from_number, text=text, reason=reason)

    @activity.defn(name="record_calendar_sync")
    async def record_calendar_sync(self, report: SyncReport) -> None:
        await asyncio.to_thread(
            self._with_session,
            lambda session: record_sync(
                session,
                report.business_id,
                at=report.at,
                outcome=report.outcome,
                error=report.error,
                events_seen=report.events_seen,
                waiting_writes=report.waiting_writes,
                overlapping_bookings=report.overlapping_bookings,
            ),
        )

    def _with_session(self, write, *args) -> None:
        with self._session() as session:
            write(session, *args)

    # --- the calendar's side (CalDAV) ------------------------------------------------------------

    def _calendar(self, business_id: int):
        import caldav

        with self._session() as session:
            credentials: CalendarCredentials | None = calendar_credentials(session, business_id, self._secret_key)
        if credentials is None:
            raise ApplicationError("the calendar was unlinked", type=CALENDAR_REFUSED, non_retryable=True)
        if credentials.password is None:
            raise ApplicationError(
                "the stored password cannot be read: SECRET_KEY changed since it was entered",
                type=CALENDAR_NO_PASSWORD,
                non_retryable=True,
            )
        client = caldav.DAVClient(
            url=credentials.url,
            username=credentials.username,
            password=credentials.password,
            timeout=CALDAV_TIMEOUT_SECONDS,
        )
        if credentials.calendar_name:
            # A server's address (iCloud, Fastmail): the account's calendars are listed to find it by name.
            return client.principal().calendar(name=credentials.calendar_name)
        return client.calendar(url=credentials.url)

    async def _caldav(self, business_id: int, work):
        """Runs `work(calendar)` in a thread; the calendar's failures as errors the workflow tells apart."""
        from caldav.lib import error as caldav_error

        def run():
            return work(self._calendar(business_id))

        try:
            return await asyncio.to_thread(run)
        except ApplicationError:
            raise
        except (caldav_error.AuthorizationError, caldav_error.NotFoundError) as refused:
            raise ApplicationError(
                f"the calendar refused: {type(refused).__name__}", type=CALENDAR_REFUSED, non_retryable=True
            ) from None
        except Exception as failure:  # noqa: BLE001  (network, TLS, a server error: the calendar is down)
            # Only the kind and the first words: a server's error page could quote the request.
            detail = str(failure).splitlines()[0][:200] if str(failure) else ""
            raise ApplicationError(
                f"the calendar did not answer: {type(failure).__name__} {detail}".strip(), type=CALENDAR_UNREACHABLE
            ) from None

    @activity.defn(name="read_calendar")
    async def read_calendar(self, read: CalendarRead) -> list[CalendarEntry]:
        """Every event of the window that keeps the business busy (transparent "free" events do not)."""
        with self._session() as session:
            business = session.get(Business, read.business_id)
            zone = ZoneInfo(BusinessConfig.model_validate(business.config).timezone if business else "UTC")

        def events(calendar) -> list[CalendarEntry]:
            found = []
            for event in calendar.search(start=read.start, end=read.end, event=True, expand=True):
                for component in event.icalendar_instance.walk("VEVENT"):
                    if str(component.get("transp", "OPAQUE")).upper() == "TRANSPARENT":
                        continue
                    if str(component.get("status", "")).upper() == "CANCELLED":
                        continue
                    times = _event_times(component, zone)
                    if times and times[1] > times[0]:
                        found.append(
                            CalendarEntry(uid=str(component.get("uid", "")), starts_at=times[0], ends_at=times[1])
                        )
            return found

        return await self._caldav(read.business_id, events)

    @activity.defn(name="write_calendar_event")
    async def write_calendar_event(self, write: EventWrite) -> None:
        """Writes (or overwrites) the booking's event under its stable UID: a retry writes the same event."""
        booking = write.booking
        who = f" - {booking.caller_name}" if booking.caller_name else ""

        def save(calendar) -> None:
            calendar.save_event(
                dtstart=booking.starts_at,
                dtend=booking.ends_at,
                summary=f"{booking.service}{who}",
                description=f"Booked through CloudGreet for {write.business_name}."
                + (f" Caller: {booking.caller_number}." if booking.caller_number else ""),
                uid=booking.uid,
            )

        await self._caldav(write.business_id, save)
        await asyncio.to_thread(self._with_session, event_written, write.business_id, booking)

    @activity.defn(name="delete_calendar_event")
    async def delete_calendar_event(self, removal: EventDelete) -> None:
        """Deletes a cancelled booking's event; one already gone counts as deleted."""
        from caldav.lib import error as caldav_error

        def remove(calendar) -> None:
            with contextlib.suppress(caldav_error.NotFoundError):  # already gone: deleted all the same
                calendar.event_by_uid(removal.booking.uid).delete()

        await self._caldav(removal.business_id, remove)
        await asyncio.to_thread(self._with_session, event_gone, removal.booking.appointment_id)
