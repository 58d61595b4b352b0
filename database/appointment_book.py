"""The appointment book: free times, booking, moving and cancelling, for every channel.

Every proposal is checked by `business.booking_rules` (never trusted as the LLM sent it); a
booking carries an idempotency key (the call and the tool call), and the unique slot rows
make the database refuse the second of two calls racing for one slot.

An appointment found by caller ID is told, moved or cancelled only with proof that it is the
caller's (`receptionist.booking_proof`): the name on it and its day, or a code texted to its number
(`database.booking_codes`).

A demo or test session's booking (`request.demo`) is a sandbox (`database.demo_bookings`): it is
checked against the real book like any other, but holds no slot, so it never keeps a real caller out.

A plain service with blocking methods: the appointment activities (the phone and web paths) run
it in a thread, and so does the Realtime tools endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from business.booking_rules import SlotCheck, check_slot, describe_starts, free_starts, parse_local_start, slot_units
from business.config import BusinessConfig, Service
from business.opening_hours import local_time, spoken_moment
from database.booking_codes import CodeToText, check_code, code_to_text
from database.calendar_store import busy_units
from database.demo_bookings import DEMO_BOOKING_LIFETIME, not_expired, prune_expired
from database.engine import get_engine
from database.models import Appointment, AppointmentSlot
from domain.vocabulary import AppointmentStatus
from receptionist.appointment_requests import (
    AppointmentRequest,
    BookingRequest,
    CancelRequest,
    CodeRequest,
    FreeTimesRequest,
    LookUpRequest,
    MoveRequest,
    ToolOutcome,
)
from receptionist.booking_proof import (
    APPOINTMENT_IS,
    ASK_CODE_TO_CANCEL,
    ASK_NAME_AND_DAY,
    CANNOT_TEXT,
    CHECK_NAME_AND_DAY,
    CODE_REFUSALS,
    CODE_SENT,
    NO_MATCH,
    NO_NUMBER,
    OFFER_CODE,
    TEXTED_ENOUGH,
    BookingAction,
    CodeCheck,
    digits_of,
    name_matches,
)

MAX_BOOKINGS_PER_CALL = 3
NOT_FOUND = {
    BookingAction.HEAR: "I can't find a booked appointment for this caller at that time.",
    BookingAction.MOVE: "I can't find a booked appointment for this caller at that time.",
    BookingAction.CANCEL: "I can't find an appointment for this caller at that time.",
}

# What a request needs to prove besides the caller ID: proven (an appointment), or what to tell the caller.
Proven = Appointment | ToolOutcome


@dataclass(frozen=True)
class CodeToSend:
    """A code to text, and where: the activity sends it; nothing of it goes into the workflow's history."""

    code: str
    to: str
    from_number: str


def as_utc(moment: datetime) -> datetime:
    """A stored moment as an aware UTC datetime: SQLite hands back naive ones, and every stored one is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _taken_slots(session: Session, business_id: int, now: datetime, business: BusinessConfig) -> set[datetime]:
    """Slots held by bookings, and those the business's own calendar keeps busy (a linked calendar)."""
    rows = session.exec(
        select(AppointmentSlot.slot_start).where(
            AppointmentSlot.business_id == business_id,
            AppointmentSlot.slot_start >= now - timedelta(days=1),
        )
    ).all()
    return {as_utc(r) for r in rows} | busy_units(session, business, business_id, now - timedelta(days=1))


def _calendar_busy(session: Session, request: AppointmentRequest, starts_at: datetime, ends_at: datetime) -> bool:
    """Whether the business's own calendar has something else then (its lunch, a day off)."""
    units = set(slot_units(request.business, starts_at, ends_at))
    return bool(units & busy_units(session, request.business, request.business_id, starts_at))


def _meets_real_booking(session: Session, request: AppointmentRequest, starts_at: datetime, ends_at: datetime) -> bool:
    """Whether a demo booking would fall on a real one: a demo sees the book as a caller finds it. (A real
    booking is refused by the slot rows themselves; a demo booking holds none, so it blocks nobody.)"""
    units = set(slot_units(request.business, starts_at, ends_at))
    return bool(units & _taken_slots(session, request.business_id, request.now, request.business))


def _accepted(check: SlotCheck) -> tuple[Service, datetime, datetime]:
    """The service and times of a slot the booking rules accepted; an accepted check names all three."""
    if not (check.ok and check.service and check.starts_at and check.ends_at):
        raise ValueError("only an accepted slot has a service and times")
    return check.service, check.starts_at, check.ends_at


def _hold_slots(
    session: Session, request: AppointmentRequest, appointment: Appointment, starts_at: datetime, ends_at: datetime
) -> None:
    """The slot rows of the appointment: the database refuses a second appointment in any of them."""
    if appointment.id is None:
        raise ValueError("an appointment holds slots once it is stored")
    for unit in slot_units(request.business, starts_at, ends_at):
        session.add(AppointmentSlot(business_id=request.business_id, slot_start=unit, appointment_id=appointment.id))


def _readback(request: AppointmentRequest, appointment: Appointment) -> str:
    when = spoken_moment(request.business, as_utc(appointment.starts_at), request.now)
    return f"a {appointment.service.lower()} {when}"


class AppointmentBook:
    def __init__(self, database_url: str, demo_lifetime: timedelta = DEMO_BOOKING_LIFETIME) -> None:
        self._database_url = database_url
        self._demo_lifetime = demo_lifetime

    def _session(self) -> Session:
        return Session(get_engine(self._database_url))

    def find_free_times(self, request: FreeTimesRequest) -> ToolOutcome:
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
            taken = _taken_slots(session, request.business_id, request.now, request.business)
        starts = free_starts(request.business, service, request.now, taken, on_day=on_day)
        if not starts:
            return ToolOutcome(ok=False, message=f"There are no free times for a {service.name.lower()} then.")
        return ToolOutcome(
            ok=True,
            message=f"Free times for a {service.name.lower()}: {describe_starts(request.business, starts, request.now)}.",
        )

    def book(self, request: BookingRequest) -> ToolOutcome:
        with self._session() as session:
            earlier = self._already_booked(session, request)
            if earlier:
                return earlier
            booked_in_call = session.exec(
                select(Appointment.id).where(
                    Appointment.call_id == request.call_id, Appointment.status == AppointmentStatus.BOOKED
                )
            ).all()
            if request.call_id and len(booked_in_call) >= MAX_BOOKINGS_PER_CALL:
                return ToolOutcome(
                    ok=False, message=f"At most {MAX_BOOKINGS_PER_CALL} appointments can be booked in one call."
                )
            check = check_slot(request.business, request.service, request.start, request.now)
            if not check.ok:
                reason = check.reason or "That time can't be booked."
                return self._refused(session, request, reason, check.starts_at, request.service)
            service, starts_at, ends_at = _accepted(check)
            if _calendar_busy(session, request, starts_at, ends_at) or (
                request.demo and _meets_real_booking(session, request, starts_at, ends_at)
            ):
                return self._refused(session, request, "Sorry, that time is taken.", starts_at, request.service)
            if request.demo:
                prune_expired(session, request.business_id, request.now)
            appointment = Appointment(
                business_id=request.business_id,
                call_id=request.call_id,
                service=service.name,
                starts_at=starts_at.astimezone(UTC),
                ends_at=ends_at.astimezone(UTC),
                caller_name=request.caller_name,
                caller_number=request.caller_number,
                idempotency_key=request.idempotency_key,
                is_demo=request.demo,
                expires_at=request.now.astimezone(UTC) + self._demo_lifetime if request.demo else None,
            )
            try:
                session.add(appointment)
                session.flush()
                if not request.demo:
                    _hold_slots(session, request, appointment, starts_at, ends_at)
                session.commit()
            except IntegrityError:
                session.rollback()
                # Either our own retry got there first (same key), or another call took the slot.
                return self._already_booked(session, request) or self._refused(
                    session, request, "Sorry, that time was just taken.", starts_at, request.service
                )
            return ToolOutcome(
                ok=True, message=f"Booked {_readback(request, appointment)}.", appointment_id=appointment.id
            )

    def _already_booked(self, session: Session, request: BookingRequest) -> ToolOutcome | None:
        earlier = session.exec(
            select(Appointment).where(Appointment.idempotency_key == request.idempotency_key)
        ).first()
        if earlier is None:
            return None
        return ToolOutcome(ok=True, message=f"Booked {_readback(request, earlier)}.", appointment_id=earlier.id)

    def _refused(
        self, session: Session, request: AppointmentRequest, reason: str, near: datetime | None, service_name: str
    ) -> ToolOutcome:
        """The refusal, with the nearest free times of the service when there are any."""
        service = request.business.find_service(service_name) if request.business.services else None
        if service is None:
            return ToolOutcome(ok=False, message=reason)
        taken = _taken_slots(session, request.business_id, request.now, request.business)
        starts = free_starts(request.business, service, request.now, taken, near=near)
        if not starts:
            return ToolOutcome(ok=False, message=f"{reason} There are no free times in the next weeks.")
        return ToolOutcome(
            ok=False,
            message=f"{reason} The nearest free times: {describe_starts(request.business, starts, request.now)}.",
        )

    def look_up(self, request: LookUpRequest) -> ToolOutcome:
        with self._session() as session:
            found = self._proven(session, request, BookingAction.HEAR, None, key=request.idempotency_key)
            if isinstance(found, ToolOutcome):
                return found
            name = f", under the name {found.caller_name}" if found.caller_name else ""
            return ToolOutcome(
                ok=True, message=f"{APPOINTMENT_IS} {_readback(request, found)}{name}.", appointment_id=found.id
            )

    def move(self, request: MoveRequest) -> ToolOutcome:
        with self._session() as session:
            # A retry of a move that went through: the appointment is already at the new time.
            appointment = (
                session.exec(select(Appointment).where(Appointment.moved_key == request.idempotency_key)).first()
                if request.idempotency_key
                else None
            )
            found = appointment or self._proven(
                session, request, BookingAction.MOVE, request.current_start, key=request.idempotency_key
            )
            if isinstance(found, ToolOutcome) and not request.caller_number and request.current_start:
                found = self._proven(session, request, BookingAction.MOVE, request.new_start)  # a web retry
            if isinstance(found, ToolOutcome):
                return found
            appointment = found
            check = check_slot(request.business, appointment.service, request.new_start, request.now)
            if not check.ok:
                reason = check.reason or "That time can't be booked."
                return self._refused(session, request, reason, check.starts_at, appointment.service)
            _, starts_at, ends_at = _accepted(check)
            if as_utc(appointment.starts_at) != starts_at.astimezone(UTC) and (
                _calendar_busy(session, request, starts_at, ends_at)
                or (appointment.is_demo and _meets_real_booking(session, request, starts_at, ends_at))
            ):
                return self._refused(session, request, "Sorry, that time is taken.", starts_at, appointment.service)
            if as_utc(appointment.starts_at) == starts_at.astimezone(UTC):
                return ToolOutcome(
                    ok=True, message=f"Moved to {_readback(request, appointment)}.", appointment_id=appointment.id
                )
            try:
                session.exec(delete(AppointmentSlot).where(col(AppointmentSlot.appointment_id) == appointment.id))
                if not appointment.is_demo:
                    _hold_slots(session, request, appointment, starts_at, ends_at)
                appointment.starts_at = starts_at.astimezone(UTC)
                appointment.ends_at = ends_at.astimezone(UTC)
                appointment.moved_key = request.idempotency_key
                appointment.updated_at = datetime.now(UTC)
                session.add(appointment)
                session.commit()
            except IntegrityError:
                session.rollback()
                return self._refused(session, request, "Sorry, that time is taken.", starts_at, appointment.service)
            return ToolOutcome(
                ok=True, message=f"Moved to {_readback(request, appointment)}.", appointment_id=appointment.id
            )

    def cancel(self, request: CancelRequest) -> ToolOutcome:
        with self._session() as session:
            # A retry of this very cancellation finds what it cancelled, not the caller's next appointment.
            appointment = session.exec(
                select(Appointment).where(Appointment.cancel_key == request.idempotency_key)
            ).first()
            found = appointment or self._proven(
                session,
                request,
                BookingAction.CANCEL,
                request.start,
                key=request.idempotency_key,
                include_cancelled=bool(request.start),
            )
            if isinstance(found, ToolOutcome):
                return found
            appointment = found
            if appointment.status != AppointmentStatus.CANCELLED:
                session.exec(delete(AppointmentSlot).where(col(AppointmentSlot.appointment_id) == appointment.id))
                appointment.status = AppointmentStatus.CANCELLED
                appointment.cancel_key = request.idempotency_key
                appointment.updated_at = datetime.now(UTC)
                session.add(appointment)
                session.commit()
            return ToolOutcome(
                ok=True, message=f"Cancelled {_readback(request, appointment)}.", appointment_id=appointment.id
            )

    def code_to_send(self, request: CodeRequest) -> CodeToSend | ToolOutcome:
        """A code for the caller to read back, when the number has a booking to prove; the caller
        hears the same whether or not it has, and nobody is texted for a number without one."""
        if not request.caller_number:
            return ToolOutcome(ok=False, message=NO_NUMBER)
        from_number = request.business.sms_from_number
        if not from_number:
            return ToolOutcome(ok=False, message=CANNOT_TEXT)
        with self._session() as session:
            if not self._callers_appointments(session, request, None):
                return ToolOutcome(ok=True, message=CODE_SENT)
            code = code_to_text(session, request)
        if isinstance(code, CodeToText):
            return CodeToSend(code=code.code, to=code.to, from_number=from_number)
        if code is None:
            return ToolOutcome(ok=True, message=TEXTED_ENOUGH)
        return ToolOutcome(ok=False, message=CODE_REFUSALS[code])

    def _proven(
        self,
        session: Session,
        request: LookUpRequest | MoveRequest | CancelRequest,
        action: BookingAction,
        start: str | None,
        *,
        key: str | None = None,
        include_cancelled: bool = False,
    ) -> Proven:
        """The caller's appointment at `start` (or their next one), if the request proves it is theirs;
        otherwise what the caller must say next, the same whether or not there is one."""
        candidates = self._callers_appointments(session, request, start, include_cancelled)
        if not request.caller_number:
            # A web visitor: only what this very conversation booked is theirs, and it was found by that.
            return candidates[0] if candidates else ToolOutcome(ok=False, message=NOT_FOUND[action])
        proof = request.proof
        if candidates and candidates[0].call_id == request.call_id and not proof.given:
            return candidates[0]  # booked in this very call
        can_text = bool(request.business.sms_from_number)
        on_day = self._on_day(request, candidates, proof.day)
        if isinstance(on_day, ToolOutcome):
            return on_day
        if proof.code:
            check = check_code(session, request, digits_of(proof.code), key)
            if check != CodeCheck.MATCHED:
                return ToolOutcome(ok=False, message=CODE_REFUSALS[check])
            # The caller holds the booking's phone: now "there is none" may be said.
            return on_day[0] if on_day else ToolOutcome(ok=False, message=NOT_FOUND[action])
        if action == BookingAction.CANCEL and can_text:
            return ToolOutcome(ok=False, message=ASK_CODE_TO_CANCEL)
        if not (proof.caller_name and proof.day):
            return ToolOutcome(ok=False, message=ASK_NAME_AND_DAY)
        names = [a.caller_name for a in on_day]
        for appointment in on_day:
            if name_matches(proof.caller_name, appointment.caller_name, names):
                return appointment
        return ToolOutcome(ok=False, message=f"{NO_MATCH} {OFFER_CODE if can_text else CHECK_NAME_AND_DAY}")

    @staticmethod
    def _on_day(
        request: AppointmentRequest, candidates: list[Appointment], day: str | None
    ) -> list[Appointment] | ToolOutcome:
        """The candidates on the day the caller said (in the business's timezone); all of them without one."""
        if not day:
            return candidates
        try:
            said = date.fromisoformat(day)
        except ValueError:
            return ToolOutcome(ok=False, message=f"{day!r} is not a date such as 2026-12-01.")
        return [a for a in candidates if local_time(request.business, as_utc(a.starts_at)).date() == said]

    def _callers_appointments(
        self, session: Session, request: AppointmentRequest, start: str | None, include_cancelled: bool = False
    ) -> list[Appointment]:
        """The caller's future appointments at `start`, or all of them, the next one first."""
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
            not_expired(request.now),
        )
        if not include_cancelled:
            query = query.where(Appointment.status == AppointmentStatus.BOOKED)
        if start:
            try:
                moment = parse_local_start(request.business, start).astimezone(UTC)
            except ValueError:
                return []
            query = query.where(Appointment.starts_at == moment)
        return list(session.exec(query.order_by(col(Appointment.status), col(Appointment.starts_at))).all())
