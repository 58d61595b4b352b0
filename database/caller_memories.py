"""A business's memory of its returning callers: reading it at a call's start, writing a call's summary
at its end, forgetting one caller on request, and forgetting everything older than the business keeps."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from business.config import BusinessConfig
from business.opening_hours import local_time, spoken_moment
from database.models import Appointment, Callback, CallerMemory, ConversationTurn
from domain.vocabulary import AppointmentStatus, Speaker
from receptionist.caller_memory import REMEMBERED_CALLS, CallFacts, RememberedCall, ReturningCaller


def returning_caller(
    session: Session, business_id: int, config: BusinessConfig, caller_number: str | None, now: datetime
) -> ReturningCaller | None:
    """What the business remembers of this caller; None when it remembers nothing, or is told not to."""
    if not config.remember_callers or not caller_number:
        return None
    kept_since = now - timedelta(days=config.caller_memory_days)
    memories = session.exec(
        select(CallerMemory)
        .where(
            CallerMemory.business_id == business_id,
            CallerMemory.caller_number == caller_number,
            CallerMemory.created_at >= kept_since,
        )
        .order_by(col(CallerMemory.created_at).desc())
        .limit(REMEMBERED_CALLS)
    ).all()
    upcoming = session.exec(
        select(Appointment)
        .where(
            Appointment.business_id == business_id,
            Appointment.caller_number == caller_number,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.starts_at > now,
        )
        .order_by(col(Appointment.starts_at))
        .limit(1)
    ).first()
    if not memories and upcoming is None:
        return None
    calls = [
        RememberedCall(called_at=m.created_at, summary=m.summary, facts=CallFacts.model_validate(m.facts))
        for m in memories
    ]
    name = next((call.facts.name for call in calls if call.facts.name), None)
    if name is None and upcoming is not None:
        name = upcoming.caller_name
    return ReturningCaller(
        name=name,
        upcoming=f"{upcoming.service.lower()} {spoken_moment(config, upcoming.starts_at, now)}" if upcoming else None,
        upcoming_start=f"{local_time(config, upcoming.starts_at):%Y-%m-%dT%H:%M}" if upcoming else None,
        calls=calls,
    )


class CallRecordsForMemory:
    """A finished call as its memory is made of it: what the caller said, booked and was promised."""

    def __init__(self, session: Session, call_id: str, config: BusinessConfig, now: datetime) -> None:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call_id, ConversationTurn.speaker == Speaker.CALLER)
            .order_by(col(ConversationTurn.turn_index))
        ).all()
        bookings = session.exec(
            select(Appointment).where(Appointment.call_id == call_id).order_by(col(Appointment.id))
        ).all()
        callbacks = session.exec(select(Callback).where(Callback.call_id == call_id).order_by(col(Callback.id))).all()
        self.caller_lines = [turn.text for turn in turns]
        self.booked = [
            f"{b.service} {spoken_moment(config, b.starts_at, now)}"
            for b in bookings
            if b.status == AppointmentStatus.BOOKED
        ]
        self.promised = [c.reason or "a call-back" for c in callbacks]
        self.booked_name = next((b.caller_name for b in bookings if b.caller_name), None)


def already_remembered(session: Session, call_id: str) -> bool:
    return session.exec(select(CallerMemory.id).where(CallerMemory.call_id == call_id)).first() is not None


def remember_call(
    session: Session,
    *,
    business_id: int,
    caller_number: str,
    call_id: str,
    summary: str,
    facts: CallFacts,
    now: datetime,
    keep_days: int,
) -> None:
    """Keeps the call's summary (once: a retried close changes nothing), and forgets what is past keeping."""
    session.exec(
        delete(CallerMemory).where(
            col(CallerMemory.business_id) == business_id, col(CallerMemory.created_at) < now - timedelta(days=keep_days)
        )
    )
    session.add(
        CallerMemory(
            business_id=business_id,
            caller_number=caller_number,
            call_id=call_id,
            summary=summary,
            facts=facts.model_dump(mode="json"),
            created_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another attempt kept it first


def forget_caller(session: Session, caller_number: str, business_id: int | None = None) -> int:
    """Deletes every summary of this caller's calls (of one business, or all); how many there were."""
    statement = delete(CallerMemory).where(col(CallerMemory.caller_number) == caller_number)
    if business_id is not None:
        statement = statement.where(col(CallerMemory.business_id) == business_id)
    result = session.exec(statement)
    session.commit()
    return int(result.rowcount or 0)
