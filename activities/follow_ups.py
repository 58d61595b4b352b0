"""The promises made to callers, on record: escalations with every transfer attempt, and call-backs.

Each write is keyed by an idempotency key built from the workflow, so a retried activity or a
replayed workflow records nothing twice.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from business.config import BusinessConfig
from business.opening_hours import next_opening, spoken_moment
from database.engine import get_engine
from database.models import Call, Callback, Escalation


class EscalationOpening(BaseModel):
    idempotency_key: str
    business_id: int
    call_id: str
    reason: str


class TransferAttempt(BaseModel):
    escalation_id: int
    attempt: int
    number: str
    outcome: str  # answered, no_answer, busy, failed, caller_hung_up
    at: datetime


class CallbackRequest(BaseModel):
    idempotency_key: str
    business_id: int
    business: BusinessConfig
    call_id: str | None
    caller_number: str
    caller_name: str | None = None
    reason: str
    message: str | None = None
    urgent: bool = False
    now: datetime
    workflow_id: str


class ScheduledCallback(BaseModel):
    """A stored call-back and how its workflow should keep it."""

    callback_id: int
    due_at: datetime
    spoken_when: str
    from_number: str
    max_attempts: int
    retry_spacing_seconds: float
    ring_seconds: int


URGENT_CALLBACK_DELAY = timedelta(minutes=2)


def callback_due(business: BusinessConfig, now: datetime, urgent: bool) -> datetime:
    """Urgent: in a couple of minutes, whatever the hour. Otherwise: when the business next opens."""
    if urgent:
        return now + URGENT_CALLBACK_DELAY
    return next_opening(business, now) or now + URGENT_CALLBACK_DELAY


class CallbackUpdate(BaseModel):
    callback_id: int
    status: str


class PendingCallbacksQuery(BaseModel):
    business_id: int
    caller_number: str


class FollowUps:
    def __init__(
        self,
        database_url: str,
        *,
        callback_max_attempts: int = 3,
        callback_retry_spacing_seconds: float = 600,
        ring_seconds: int = 30,
    ) -> None:
        self._database_url = database_url
        self._callback_max_attempts = callback_max_attempts
        self._callback_retry_spacing_seconds = callback_retry_spacing_seconds
        self._ring_seconds = ring_seconds

    def _session(self) -> Session:
        return Session(get_engine(self._database_url))

    @activity.defn(name="open_escalation")
    async def open_escalation(self, opening: EscalationOpening) -> int:
        return await asyncio.to_thread(self._open_escalation, opening)

    def _open_escalation(self, opening: EscalationOpening) -> int:
        with self._session() as session:
            found = session.exec(select(Escalation).where(Escalation.idempotency_key == opening.idempotency_key)).first()
            if found:
                return found.id
            escalation = Escalation(
                business_id=opening.business_id,
                call_id=opening.call_id,
                reason=opening.reason,
                idempotency_key=opening.idempotency_key,
            )
            session.add(escalation)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return session.exec(select(Escalation.id).where(Escalation.idempotency_key == opening.idempotency_key)).one()
            return escalation.id

    @activity.defn(name="record_transfer_attempt")
    async def record_transfer_attempt(self, attempt: TransferAttempt) -> None:
        await asyncio.to_thread(self._record_transfer_attempt, attempt)

    def _record_transfer_attempt(self, attempt: TransferAttempt) -> None:
        with self._session() as session:
            escalation = session.get(Escalation, attempt.escalation_id)
            if escalation is None or any(a.get("attempt") == attempt.attempt for a in escalation.attempts):
                return
            escalation.attempts = [*escalation.attempts, attempt.model_dump(mode="json")]
            if attempt.outcome == "answered":
                escalation.status = "connected"
            escalation.updated_at = datetime.now(timezone.utc)
            session.add(escalation)
            session.commit()

    @activity.defn(name="close_escalation")
    async def close_escalation(self, escalation_id: int, status: str) -> None:
        await asyncio.to_thread(self._close_escalation, escalation_id, status)

    def _close_escalation(self, escalation_id: int, status: str) -> None:
        with self._session() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is not None:
                escalation.status = status
                escalation.updated_at = datetime.now(timezone.utc)
                session.add(escalation)
                session.commit()

    @activity.defn(name="schedule_callback")
    async def schedule_callback(self, request: CallbackRequest) -> ScheduledCallback:
        return await asyncio.to_thread(self._schedule_callback, request)

    def _schedule_callback(self, request: CallbackRequest) -> ScheduledCallback:
        with self._session() as session:
            callback = session.exec(select(Callback).where(Callback.idempotency_key == request.idempotency_key)).first()
            if callback is None:
                callback = Callback(
                    business_id=request.business_id,
                    call_id=request.call_id,
                    caller_number=request.caller_number,
                    caller_name=request.caller_name,
                    reason=request.reason,
                    message=request.message,
                    urgent=request.urgent,
                    due_at=callback_due(request.business, request.now, request.urgent),
                    workflow_id=request.workflow_id,
                    idempotency_key=request.idempotency_key,
                )
                session.add(callback)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    callback = session.exec(select(Callback).where(Callback.idempotency_key == request.idempotency_key)).one()
            due_at = callback.due_at if callback.due_at.tzinfo else callback.due_at.replace(tzinfo=timezone.utc)
            when = "in a few minutes" if request.urgent else spoken_moment(request.business, due_at, request.now)
            return ScheduledCallback(
                callback_id=callback.id,
                due_at=due_at,
                spoken_when=when,
                from_number=request.business.phone_number or "",
                max_attempts=self._callback_max_attempts,
                retry_spacing_seconds=self._callback_retry_spacing_seconds,
                ring_seconds=self._ring_seconds,
            )

    @activity.defn(name="update_callback")
    async def update_callback(self, update: CallbackUpdate) -> None:
        await asyncio.to_thread(self._update_callback, update)

    def _update_callback(self, update: CallbackUpdate) -> None:
        with self._session() as session:
            callback = session.get(Callback, update.callback_id)
            if callback is None:
                return
            callback.status = update.status
            if update.status in ("done", "fulfilled", "voicemail", "failed"):
                callback.completed_at = datetime.now(timezone.utc)
            session.add(callback)
            session.commit()

    @activity.defn(name="begin_callback_attempt")
    async def begin_callback_attempt(self, callback_id: int, attempt: int) -> bool:
        """Marks the call-back as being dialled; False when it no longer needs making."""
        return await asyncio.to_thread(self._begin_callback_attempt, callback_id, attempt)

    def _begin_callback_attempt(self, callback_id: int, attempt: int) -> bool:
        with self._session() as session:
            callback = session.get(Callback, callback_id)
            if callback is None or callback.status not in ("pending", "dialing"):
                return False
            callback.status = "dialing"
            callback.attempts = max(callback.attempts, attempt)
            session.add(callback)
            session.commit()
            return True

    @activity.defn(name="claim_pending_callbacks")
    async def claim_pending_callbacks(self, query: PendingCallbacksQuery) -> list[str]:
        """The caller called in: their pending call-backs are fulfilled. Returns the workflows to tell."""
        return await asyncio.to_thread(self._claim_pending_callbacks, query)

    def _claim_pending_callbacks(self, query: PendingCallbacksQuery) -> list[str]:
        with self._session() as session:
            pending = session.exec(
                select(Callback).where(
                    Callback.business_id == query.business_id,
                    Callback.caller_number == query.caller_number,
                    Callback.status == "pending",
                )
            ).all()
            for callback in pending:
                callback.status = "fulfilled"
                callback.completed_at = datetime.now(timezone.utc)
                session.add(callback)
            session.commit()
            return [c.workflow_id for c in pending if c.workflow_id]

    @activity.defn(name="set_fallback_level")
    async def set_fallback_level(self, call_id: str, level: str) -> None:
        await asyncio.to_thread(self._set_fallback_level, call_id, level)

    def _set_fallback_level(self, call_id: str, level: str) -> None:
        with self._session() as session:
            call = session.get(Call, call_id)
            if call is not None:
                call.fallback_level = level
                session.add(call)
                session.commit()
