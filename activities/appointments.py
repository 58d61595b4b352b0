"""Booking, moving and cancelling appointments, and finding free times.

Every proposal is checked by `business.booking_rules` (never trusted as the LLM sent it); a
booking carries an idempotency key (the call and the tool call), and the unique slot rows
make the database refuse the second of two calls racing for one slot.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from business.booking_rules import check_slot, describe_starts, free_starts, parse_local_start, slot_units
from business.config import BusinessConfig
from business.opening_hours import spoken_moment
from database.engine import get_engine
from database.models import Appointment, AppointmentSlot

MAX_BOOKINGS_PER_CALL = 3


class ToolOutcome(BaseModel):
    """What a tool did, in words the LLM (or the offline responder) can say to the caller."""

    ok: bool
    message: str
    appointment_id: int | None = None


class AppointmentRequest(BaseModel):
    business_id: int
    business: BusinessConfig
    call_id: str | None = None
    caller_number: str | None = None
    now: datetime


class FreeTimesRequest(AppointmentRequest):
    service: str
    day: str | None = None  # YYYY-MM-DD in the business's timezone


class BookingRequest(AppointmentRequest):
    idempotency_key: str
    service: str
    start: str
    caller_name: str | None = None


class MoveRequest(AppointmentRequest):
    current_start: str | None = None
    new_start: str


class CancelRequest(AppointmentRequest):
    idempotency_key: str
    start: str | None = None


def _taken_slots(session: Session, business_id: int, now: datetime) -> set[datetime]:
    rows = session.exec(
        select(AppointmentSlot.slot_start).where(
            AppointmentSlot.business_id == business_id,
            AppointmentSlot.slot_start >= now - timedelta(days=1),
        )
    ).all()
    return {_utc(r) for r in rows}


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored one is UTC.
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _readback(request: AppointmentRequest, appointment: Appointment) -> str:
    when = spoken_moment(request.business, _utc(appointment.starts_at), request.now)
    return f"a {appointment.service.lower()} {when}"


class AppointmentBook:
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url

    def _session(self) -> Session:
        return Session(get_engine(self._database_url))

    @activity.defn(name="find_free_times")
    async def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._find_free_times, request)

    def _find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
        service = request.business.find_service(request.service)
        if service is None:
            offered = ", ".join(s.name for s in request.business.services)
            return ToolOutcome(ok=False, message=f"We don't offer {request.service!r}. We offer: {offered}.")
        on_day = None
        if request.day:
            try:
                on_day = parse_local_start(request.business, f"{request.day}T12:00")
            except ValueError:
                return ToolOutcome(ok=False, message=f"{request.day!r} is not a date such as 2026-12-01.")
        with self._session() as session:
            taken = _taken_slots(session, request.business_id, request.now)
        starts = free_starts(request.business, service, request.now, taken, on_day=on_day)
        if not starts:
            return ToolOutcome(ok=False, message=f"There are no free times for a {service.name.lower()} then.")
        return ToolOutcome(ok=True, message=f"Free times for a {service.name.lower()}: {describe_starts(request.business, starts, request.now)}.")

    @activity.defn(name="book_appointment")
    async def book_appointment(self, request: BookingRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._book, request)

    def _book(self, request: BookingRequest) -> ToolOutcome:
        with self._session() as session:
            earlier = self._already_booked(session, request)
            if earlier:
                return earlier
            booked_in_call = session.exec(
                select(Appointment.id).where(Appointment.call_id == request.call_id, Appointment.status == "booked")
            ).all()
            if request.call_id and len(booked_in_call) >= MAX_BOOKINGS_PER_CALL:
                return ToolOutcome(ok=False, message=f"At most {MAX_BOOKINGS_PER_CALL} appointments can be booked in one call.")
            check = check_slot(request.business, request.service, request.start, request.now)
            if not check.ok:
                return self._refused(session, request, check.reason or "That time can't be booked.", check.starts_at)
            appointment = Appointment(
                business_id=request.business_id,
                call_id=request.call_id,
                service=check.service.name,
                starts_at=check.starts_at.astimezone(timezone.utc),
                ends_at=check.ends_at.astimezone(timezone.utc),
                caller_name=request.caller_name,
                caller_number=request.caller_number,
                idempotency_key=request.idempotency_key,
            )
            try:
                session.add(appointment)
                session.flush()
                for unit in slot_units(request.business, check.starts_at, check.ends_at):
                    session.add(AppointmentSlot(business_id=request.business_id, slot_start=unit, appointment_id=appointment.id))
                session.commit()
            except IntegrityError:
                session.rollback()
                # Either our own retry got there first (same key), or another call took the slot.
                return self._already_booked(session, request) or self._refused(
                    session, request, "Sorry, that time was just taken.", check.starts_at
                )
            return ToolOutcome(ok=True, message=f"Booked {_readback(request, appointment)}.", appointment_id=appointment.id)

    def _already_booked(self, session: Session, request: BookingRequest) -> ToolOutcome | None:
        earlier = session.exec(select(Appointment).where(Appointment.idempotency_key == request.idempotency_key)).first()
        if earlier is None:
            return None
        return ToolOutcome(ok=True, message=f"Booked {_readback(request, earlier)}.", appointment_id=earlier.id)

    def _refused(self, session: Session, request: AppointmentRequest, reason: str, near: datetime | None, service_name: str | None = None) -> ToolOutcome:
        service = request.business.find_service(service_name or getattr(request, "service", "")) if request.business.services else None
        if service is None:
            return ToolOutcome(ok=False, message=reason)
        taken = _taken_slots(session, request.business_id, request.now)
        starts = free_starts(request.business, service, request.now, taken, near=near)
        if not starts:
            return ToolOutcome(ok=False, message=f"{reason} There are no free times in the next weeks.")
        return ToolOutcome(ok=False, message=f"{reason} The nearest free times: {describe_starts(request.business, starts, request.now)}.")

    @activity.defn(name="move_appointment")
    async def move_appointment(self, request: MoveRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._move, request)

    def _move(self, request: MoveRequest) -> ToolOutcome:
        with self._session() as session:
            appointment = self._callers_appointment(session, request, request.current_start)
            if appointment is None and request.current_start:
                # A retry of a move that went through: the appointment is already at the new time.
                appointment = self._callers_appointment(session, request, request.new_start)
            if appointment is None:
                return ToolOutcome(ok=False, message="I can't find a booked appointment for this caller at that time.")
            check = check_slot(request.business, appointment.service, request.new_start, request.now)
            if check.ok and _utc(appointment.starts_at) == check.starts_at.astimezone(timezone.utc):
                return ToolOutcome(ok=True, message=f"Moved to {_readback(request, appointment)}.", appointment_id=appointment.id)
            if not check.ok:
                return self._refused(session, request, check.reason or "That time can't be booked.", check.starts_at, appointment.service)
            try:
                session.exec(delete(AppointmentSlot).where(AppointmentSlot.appointment_id == appointment.id))
                for unit in slot_units(request.business, check.starts_at, check.ends_at):
                    session.add(AppointmentSlot(business_id=request.business_id, slot_start=unit, appointment_id=appointment.id))
                appointment.starts_at = check.starts_at.astimezone(timezone.utc)
                appointment.ends_at = check.ends_at.astimezone(timezone.utc)
                appointment.updated_at = datetime.now(timezone.utc)
                session.add(appointment)
                session.commit()
            except IntegrityError:
                session.rollback()
                return self._refused(session, request, "Sorry, that time is taken.", check.starts_at, appointment.service)
            return ToolOutcome(ok=True, message=f"Moved to {_readback(request, appointment)}.", appointment_id=appointment.id)

    @activity.defn(name="cancel_appointment")
    async def cancel_appointment(self, request: CancelRequest) -> ToolOutcome:
        return await asyncio.to_thread(self._cancel, request)

    def _cancel(self, request: CancelRequest) -> ToolOutcome:
        with self._session() as session:
            # A retry of this very cancellation finds what it cancelled, not the caller's next appointment.
            appointment = session.exec(select(Appointment).where(Appointment.cancel_key == request.idempotency_key)).first()
            appointment = appointment or self._callers_appointment(session, request, request.start, include_cancelled=bool(request.start))
            if appointment is None:
                return ToolOutcome(ok=False, message="I can't find an appointment for this caller at that time.")
            if appointment.status != "cancelled":
                session.exec(delete(AppointmentSlot).where(AppointmentSlot.appointment_id == appointment.id))
                appointment.status = "cancelled"
                appointment.cancel_key = request.idempotency_key
                appointment.updated_at = datetime.now(timezone.utc)
                session.add(appointment)
                session.commit()
            return ToolOutcome(ok=True, message=f"Cancelled {_readback(request, appointment)}.", appointment_id=appointment.id)

    def _callers_appointment(
        self, session: Session, request: AppointmentRequest, start: str | None, include_cancelled: bool = False
    ) -> Appointment | None:
        """The caller's future appointment at `start`, or their next one when no time is given."""
        # Without a phone number (a web visitor) only what this very conversation booked is theirs.
        whose = (
            Appointment.caller_number == request.caller_number
            if request.caller_number
            else Appointment.call_id == request.call_id
        )
        query = select(Appointment).where(
            Appointment.business_id == request.business_id,
            whose,
            Appointment.starts_at > request.now,
        )
        if not include_cancelled:
            query = query.where(Appointment.status == "booked")
        if start:
            try:
                moment = parse_local_start(request.business, start).astimezone(timezone.utc)
            except ValueError:
                return None
            query = query.where(Appointment.starts_at == moment)
        return session.exec(query.order_by(Appointment.status, Appointment.starts_at)).first()
