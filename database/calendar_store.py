"""The records of a business's own calendar: its link (password sealed), the status of its sync, the
events written for bookings, and the busy times that block slots.

Blocking functions on a session: the sync's activities and the admin API run them in threads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import delete, false
from sqlmodel import Session, col, select

from business.calendar_link import CalendarEntry, CalendarLinkForm, busy_slot_units, event_uid
from business.calendar_sync_plan import BookingEntry
from business.config import BusinessConfig
from database.calendar_models import CalendarBusyTime, CalendarEvent, CalendarLink
from database.models import Appointment, AppointmentSlot
from database.utc import utcnow
from domain.vocabulary import AppointmentStatus, CalendarSyncOutcome
from runtime.sealed_secrets import seal, unseal

PASSWORD_PURPOSE = "calendar password"


class PasswordNeeded(ValueError):
    """A first link without a password: CalDAV servers of every provider ask for one."""


class CalendarCredentials(BaseModel):
    url: str
    calendar_name: str | None = None
    username: str
    password: str | None = Field(description="None: sealed under another SECRET_KEY, to be entered again")


class CalendarStatus(BaseModel):
    """A business's calendar link as the admin API and the configuration page show it: never the password."""

    url: str
    calendar_name: str | None
    username: str
    password_set: bool = Field(description="Always true: a link has a password. The password itself is never sent")
    last_sync_at: datetime | None = Field(description="When the last sync ran, whatever its outcome")
    last_synced_at: datetime | None = Field(description="When a sync last worked")
    last_outcome: CalendarSyncOutcome | None = Field(description="None: not synced yet")
    last_error: str | None
    events_seen: int | None = Field(description="Events in the calendar that the last sync that worked read")
    waiting_writes: int = Field(description="Bookings not yet in the calendar (written when it answers again)")
    overlapping_bookings: int = Field(
        description="Bookings that another event of the calendar overlaps (added there since): to settle with the callers"
    )
    summary: str = Field(description="The status in words")


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def save_link(session: Session, business_id: int, form: CalendarLinkForm, secret_key: str) -> CalendarLink:
    link = session.get(CalendarLink, business_id)
    if form.password is None and link is None:
        raise PasswordNeeded("the calendar's password (an app password) is needed to link it")
    if link is None:
        link = CalendarLink(business_id=business_id, url=form.url, username=form.username, sealed_password="")
    elif (link.url, link.calendar_name, link.username) != (form.url, form.calendar_name, form.username):
        # Another calendar: its events are written afresh, and the status starts over.
        session.exec(delete(CalendarEvent).where(col(CalendarEvent.business_id) == business_id))
        link.last_outcome, link.last_error, link.events_seen, link.last_synced_at = None, None, None, None
        link.overlapping_bookings = link.waiting_writes = 0
    if form.password is not None:
        link.sealed_password = seal(form.password.get_secret_value(), secret_key, PASSWORD_PURPOSE)
    link.url, link.calendar_name, link.username, link.updated_at = form.url, form.calendar_name, form.username, utcnow()
    session.add(link)
    session.commit()
    session.refresh(link)
    return link


def remove_link(session: Session, business_id: int) -> bool:
    link = session.get(CalendarLink, business_id)
    if link is None:
        return False
    session.exec(delete(CalendarBusyTime).where(col(CalendarBusyTime.business_id) == business_id))
    session.exec(delete(CalendarEvent).where(col(CalendarEvent.business_id) == business_id))
    session.delete(link)
    session.commit()
    return True


def summary_of(link: CalendarLink) -> str:
    waiting = f" {link.waiting_writes} booking(s) wait to be written there." if link.waiting_writes else ""
    match link.last_outcome:
        case None:
            return "Linked; not synced yet."
        case CalendarSyncOutcome.SYNCED:
            overlaps = (
                f" {link.overlapping_bookings} booking(s) overlap other events in the calendar: check them with the callers."
                if link.overlapping_bookings
                else ""
            )
            return f"In sync: {link.events_seen or 0} event(s) seen.{waiting}{overlaps}"
        case CalendarSyncOutcome.UNREACHABLE:
            return (
                "The calendar does not answer: callers still book on CloudGreet's table, and the bookings are "
                f"written to the calendar when it answers again.{waiting}"
            )
        case CalendarSyncOutcome.REFUSED:
            return f"The calendar refused the username, password or URL: check the link.{waiting}"
        case CalendarSyncOutcome.NO_PASSWORD:
            return f"The stored password cannot be read (SECRET_KEY changed): enter it again.{waiting}"


def link_status(session: Session, business_id: int) -> CalendarStatus | None:
    link = session.get(CalendarLink, business_id)
    if link is None:
        return None
    return CalendarStatus(
        url=link.url,
        calendar_name=link.calendar_name,
        username=link.username,
        password_set=bool(link.sealed_password),
        last_sync_at=link.last_sync_at,
        last_synced_at=link.last_synced_at,
        last_outcome=link.last_outcome,
        last_error=link.last_error,
        events_seen=link.events_seen,
        waiting_writes=link.waiting_writes,
        overlapping_bookings=link.overlapping_bookings,
        summary=summary_of(link),
    )


def linked_businesses(session: Session) -> list[int]:
    return list(session.exec(select(CalendarLink.business_id)).all())


def calendar_credentials(session: Session, business_id: int, secret_key: str | None) -> CalendarCredentials | None:
    link = session.get(CalendarLink, business_id)
    if link is None:
        return None
    password = unseal(link.sealed_password, secret_key, PASSWORD_PURPOSE) if secret_key else None
    return CalendarCredentials(
        url=link.url, calendar_name=link.calendar_name, username=link.username, password=password
    )


def busy_units(session: Session, config: BusinessConfig, business_id: int, since: datetime) -> set[datetime]:
    """The grid slots the calendar's busy times block (none for a business without a linked calendar)."""
    rows = session.exec(
        select(CalendarBusyTime.starts_at, CalendarBusyTime.ends_at).where(
            CalendarBusyTime.business_id == business_id, CalendarBusyTime.ends_at > since
        )
    ).all()
    return busy_slot_units(config, [(as_utc(s), as_utc(e)) for s, e in rows])


def bookings_to_sync(session: Session, business_id: int, since: datetime) -> list[BookingEntry]:
    """The bookings from `since` on, and the cancelled ones whose event is still in the calendar."""
    rows = session.exec(
        select(Appointment, CalendarEvent)
        .join(CalendarEvent, col(CalendarEvent.appointment_id) == col(Appointment.id), isouter=True)
        # A demo session's booking is a sandbox: the business's real calendar never sees it.
        .where(Appointment.business_id == business_id, Appointment.ends_at > since, col(Appointment.is_demo) == false())
        .order_by(col(Appointment.id))
    ).all()
    bookings = []
    for appointment, event in rows:
        live_event = event if event is not None and event.deleted_at is None else None
        booked = appointment.status == AppointmentStatus.BOOKED
        if not booked and live_event is None:
            continue
        assert appointment.id is not None
        bookings.append(
            BookingEntry(
                appointment_id=appointment.id,
                uid=event_uid(business_id, appointment.id),
                booked=booked,
                starts_at=as_utc(appointment.starts_at),
                ends_at=as_utc(appointment.ends_at),
                service=appointment.service,
                caller_name=appointment.caller_name,
                caller_number=appointment.caller_number,
                event_starts_at=as_utc(live_event.starts_at) if live_event else None,
                event_ends_at=as_utc(live_event.ends_at) if live_event else None,
            )
        )
    return bookings


def event_written(session: Session, business_id: int, booking: BookingEntry) -> None:
    """The calendar has the booking's event at the booking's times."""
    event = session.get(CalendarEvent, booking.appointment_id) or CalendarEvent(
        appointment_id=booking.appointment_id,
        business_id=business_id,
        uid=booking.uid,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
    )
    event.starts_at, event.ends_at, event.deleted_at, event.updated_at = (
        booking.starts_at,
        booking.ends_at,
        None,
        utcnow(),
    )
    session.add(event)
    session.commit()


def event_gone(session: Session, appointment_id: int) -> None:
    event = session.get(CalendarEvent, appointment_id)
    if event is not None and event.deleted_at is None:
        event.deleted_at = event.updated_at = utcnow()
        session.add(event)
        session.commit()


def keep_busy_times(session: Session, business_id: int, busy: list[CalendarEntry]) -> None:
    """The calendar's busy times now, replacing what the last sync saw."""
    session.exec(delete(CalendarBusyTime).where(col(CalendarBusyTime.business_id) == business_id))
    for entry in busy:
        session.add(CalendarBusyTime(business_id=business_id, starts_at=entry.starts_at, ends_at=entry.ends_at))
    session.commit()


def follow_calendar_move(
    session: Session, config: BusinessConfig, appointment_id: int, starts_at: datetime, ends_at: datetime
) -> Appointment | None:
    """The booking moved to where the calendar has it (the calendar wins, booking rules or not). It holds
    the slots there that no other booking holds; None if it is no longer booked."""
    from business.booking_rules import slot_units

    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        return None
    if (as_utc(appointment.starts_at), as_utc(appointment.ends_at)) != (starts_at, ends_at):
        session.exec(delete(AppointmentSlot).where(col(AppointmentSlot.appointment_id) == appointment_id))
        units = slot_units(config, starts_at, ends_at)
        held = {
            as_utc(s)
            for s in session.exec(
                select(AppointmentSlot.slot_start).where(
                    AppointmentSlot.business_id == appointment.business_id,
                    col(AppointmentSlot.slot_start).in_(units),
                )
            ).all()
        }
        for unit in units:
            if unit not in held:
                session.add(
                    AppointmentSlot(business_id=appointment.business_id, slot_start=unit, appointment_id=appointment_id)
                )
        appointment.starts_at, appointment.ends_at, appointment.updated_at = starts_at, ends_at, utcnow()
        session.add(appointment)
    event = session.get(CalendarEvent, appointment_id)
    if event is not None:
        event.starts_at, event.ends_at, event.updated_at = starts_at, ends_at, utcnow()
        session.add(event)
    session.commit()
    session.refresh(appointment)
    return appointment


def follow_calendar_cancel(session: Session, appointment_id: int) -> Appointment | None:
    """The booking cancelled, as its event was deleted in the calendar; None if it was not booked."""
    appointment = session.get(Appointment, appointment_id)
    event = session.get(CalendarEvent, appointment_id)
    if event is not None and event.deleted_at is None:
        event.deleted_at = event.updated_at = utcnow()
        session.add(event)
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        session.commit()
        return None
    session.exec(delete(AppointmentSlot).where(col(AppointmentSlot.appointment_id) == appointment_id))
    appointment.status, appointment.updated_at = AppointmentStatus.CANCELLED, utcnow()
    session.add(appointment)
    session.commit()
    session.refresh(appointment)
    return appointment


def record_sync(
    session: Session,
    business_id: int,
    *,
    at: datetime,
    outcome: CalendarSyncOutcome,
    error: str | None,
    events_seen: int | None,
    waiting_writes: int,
    overlapping_bookings: int = 0,
) -> None:
    link = session.get(CalendarLink, business_id)
    if link is None:
        return  # unlinked while it ran
    link.last_sync_at, link.last_outcome, link.last_error, link.waiting_writes = at, outcome, error, waiting_writes
    if outcome == CalendarSyncOutcome.SYNCED:
        link.last_synced_at, link.events_seen, link.overlapping_bookings = at, events_seen, overlapping_bookings
    session.add(link)
    session.commit()
