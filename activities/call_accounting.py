"""What a finished call adds to the Prometheus counters: its outcome, its deepest fallback, and
the bookings, escalations and call-backs it made.

Counted once, when the call is first closed (a retried close_call finds it closed already),
from the rows the call left in the database, so the counters agree with the records.
"""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from database.models import Appointment, Call, Callback, Escalation
from domain.vocabulary import AppointmentStatus
from runtime import metrics


def count_finished_call(session: Session, call: Call) -> None:
    metrics.call_finished(call.outcome, call.fallback_level)
    booked = session.exec(
        select(func.count())
        .select_from(Appointment)
        .where(Appointment.call_id == call.id, Appointment.status == AppointmentStatus.BOOKED)
    ).one()
    if booked:
        metrics.booking_made(booked)
    for escalation in session.exec(select(Escalation).where(Escalation.call_id == call.id)).all():
        metrics.escalation_attempted(escalation.status)
    promised = session.exec(select(func.count()).select_from(Callback).where(col(Callback.call_id) == call.id)).one()
    if promised:
        metrics.callback_promised(promised)
    if call.callback_id is not None:
        metrics.callback_made()
