"""The promises made to callers, on record: escalations with every transfer attempt, and call-backs.

Each write is keyed by an idempotency key built from the workflow, so a retried activity or a
replayed workflow records nothing twice.

A call-back dials the caller from the business's line, so it is promised only to a valid number
in a country the business calls back, and within the caps: per call, per number a day, per
business an hour (the settings, lowered by the business's configuration if it likes). The caps
are counted in the transaction that writes the call-back, under a lock
(`database.callback_limits`), so calls racing each other cannot all pass. A refusal is on the
call's error log, and answered with what the caller may be told instead of a promise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity

from business.callback_numbers import DialableNumber, callback_countries, check_number
from business.config import BusinessConfig
from business.opening_hours import next_opening
from database.callback_limits import lock_callback_scheduling, pending_callback_for, promised_callbacks
from database.engine import get_engine
from database.models import Call, Callback, ErrorLog, Escalation
from database.utc import utcnow
from domain.vocabulary import (
    CallbackRefusal,
    CallbackStatus,
    EscalationStatus,
    FallbackLevel,
    TransferOutcome,
    TransferStep,
)
from receptionist.unasked_words import IN_A_FEW_MINUTES, moment_in, words_in
from runtime import metrics


class EscalationOpening(BaseModel):
    idempotency_key: str
    business_id: int
    call_id: str
    reason: str


class TransferStepTaken(BaseModel):
    step: TransferStep
    at: datetime


class TransferAttempt(BaseModel):
    escalation_id: int
    attempt: int
    number: str
    outcome: TransferOutcome
    at: datetime
    steps: list[TransferStepTaken] = Field(default_factory=list)  # a warm transfer's, in order


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
    # The call's language: when the call-back is due is said in it (`spoken_when`).
    language: str | None = None


class ScheduledCallback(BaseModel):
    """A stored call-back and how its workflow should keep it; or, refused, why none was promised."""

    callback_id: int | None  # None: refused
    due_at: datetime | None
    # When it is due, in words; refused, when the one already promised to this caller is ("" if none).
    spoken_when: str
    from_number: str
    max_attempts: int
    retry_spacing_seconds: float
    ring_seconds: int
    refusal: CallbackRefusal | None = None
    # The number to dial, in E.164, and the countries the business calls back, checked again at the dial.
    caller_number: str | None = None
    callback_countries: list[str] | None = None


@dataclass(frozen=True)
class CallbackCaps:
    """The service's caps on call-backs (settings); a business may only lower them."""

    per_call: int = 2
    per_caller_per_day: int = 3
    per_business_per_hour: int = 20

    def for_business(self, business: BusinessConfig) -> CallbackCaps:
        def lowered(cap: int, own: int | None) -> int:
            return cap if own is None else min(cap, own)

        return CallbackCaps(
            per_call=lowered(self.per_call, business.callbacks_per_call),
            per_caller_per_day=lowered(self.per_caller_per_day, business.callbacks_per_caller_per_day),
            per_business_per_hour=lowered(self.per_business_per_hour, business.callbacks_per_hour),
        )


URGENT_CALLBACK_DELAY = timedelta(minutes=2)


def callback_due(business: BusinessConfig, now: datetime, urgent: bool) -> datetime:
    """Urgent: in a couple of minutes, whatever the hour. Otherwise: when the business next opens."""
    if urgent:
        return now + URGENT_CALLBACK_DELAY
    return next_opening(business, now) or now + URGENT_CALLBACK_DELAY


def spoken_when(request: CallbackRequest, callback: Callback) -> str:
    if callback.urgent and callback.due_at <= request.now + URGENT_CALLBACK_DELAY:
        return words_in(IN_A_FEW_MINUTES, request.language)
    return moment_in(request.language, request.business, callback.due_at, request.now)


class CallbackUpdate(BaseModel):
    callback_id: int
    status: CallbackStatus


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
        callback_caps: CallbackCaps | None = None,
    ) -> None:
        self._database_url = database_url
        self._callback_caps = callback_caps or CallbackCaps()
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
            found = session.exec(
                select(Escalation).where(Escalation.idempotency_key == opening.idempotency_key)
            ).first()
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
                return session.exec(
                    select(Escalation.id).where(Escalation.idempotency_key == opening.idempotency_key)
                ).one()
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
            if attempt.outcome == TransferOutcome.ANSWERED:
                escalation.status = EscalationStatus.CONNECTED
            escalation.updated_at = datetime.now(UTC)
            session.add(escalation)
            session.commit()

    @activity.defn(name="close_escalation")
    async def close_escalation(self, escalation_id: int, status: EscalationStatus) -> None:
        await asyncio.to_thread(self._close_escalation, escalation_id, status)

    def _close_escalation(self, escalation_id: int, status: EscalationStatus) -> None:
        with self._session() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is not None:
                escalation.status = status
                escalation.updated_at = datetime.now(UTC)
                session.add(escalation)
                session.commit()

    @activity.defn(name="schedule_callback")
    async def schedule_callback(self, request: CallbackRequest) -> ScheduledCallback:
        return await asyncio.to_thread(self._schedule_callback, request)

    def _schedule_callback(self, request: CallbackRequest) -> ScheduledCallback:
        refusal_key = f"{request.idempotency_key}/refused"
        countries = callback_countries(request.business)
        with self._session() as session:
            lock_callback_scheduling(session)
            callback = session.exec(select(Callback).where(Callback.idempotency_key == request.idempotency_key)).first()
            if callback is not None:  # a retried activity or a replayed call: the promise already made
                return self._scheduled(request, callback, countries)
            refused = session.exec(select(ErrorLog).where(ErrorLog.key == refusal_key)).first()
            if refused is not None:
                return self._refused(session, request, CallbackRefusal(refused.context["refusal"]), countries)
            number = check_number(request.caller_number, countries)
            if isinstance(number, DialableNumber) and (refusal := self._over_a_cap(session, request, number)) is None:
                callback = Callback(
                    business_id=request.business_id,
                    call_id=request.call_id,
                    caller_number=number.e164,
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
                except IntegrityError:  # only if the lock is not what it should be: the promise stands once
                    session.rollback()
                    callback = session.exec(
                        select(Callback).where(Callback.idempotency_key == request.idempotency_key)
                    ).one()
                return self._scheduled(request, callback, countries)
            refusal = number if isinstance(number, CallbackRefusal) else refusal
            session.add(
                ErrorLog(
                    key=refusal_key,
                    call_id=request.call_id,
                    source="callback.refused",
                    message=f"No call-back promised to {request.caller_number or 'no number'}: {refusal}",
                    context={"refusal": refusal, "caller_number": request.caller_number, "countries": countries},
                )
            )
            session.commit()
            metrics.callback_refused(refusal)
            return self._refused(session, request, refusal, countries)

    def _over_a_cap(self, session: Session, request: CallbackRequest, number: DialableNumber) -> CallbackRefusal | None:
        caps = self._callback_caps.for_business(request.business)
        # Counted by the clock the rows' created_at were written with.
        promised = promised_callbacks(
            session, call_id=request.call_id, caller_number=number.e164, business_id=request.business_id, now=utcnow()
        )
        if promised.in_call >= caps.per_call:
            return CallbackRefusal.CALL_LIMIT
        if promised.to_number_today >= caps.per_caller_per_day:
            return CallbackRefusal.CALLER_DAILY_LIMIT
        if promised.by_business_this_hour >= caps.per_business_per_hour:
            return CallbackRefusal.BUSINESS_HOURLY_LIMIT
        return None

    def _scheduled(self, request: CallbackRequest, callback: Callback, countries: list[str]) -> ScheduledCallback:
        return ScheduledCallback(
            callback_id=callback.id,
            due_at=callback.due_at,
            spoken_when=spoken_when(request, callback),
            from_number=request.business.phone_number or "",
            max_attempts=self._callback_max_attempts,
            retry_spacing_seconds=self._callback_retry_spacing_seconds,
            ring_seconds=self._ring_seconds,
            caller_number=callback.caller_number,
            callback_countries=countries,
        )

    def _refused(
        self, session: Session, request: CallbackRequest, refusal: CallbackRefusal, countries: list[str]
    ) -> ScheduledCallback:
        """The refusal, with the call-back already promised to this caller if there is one, for the caller to hear of."""
        number = check_number(request.caller_number, countries)
        earlier = (
            pending_callback_for(
                session,
                business_id=request.business_id,
                caller_number=number.e164,
                call_id=request.call_id if refusal == CallbackRefusal.CALL_LIMIT else None,
            )
            if isinstance(number, DialableNumber)
            else None
        )
        return ScheduledCallback(
            callback_id=None,
            due_at=None,
            spoken_when=spoken_when(request, earlier) if earlier else "",
            from_number=request.business.phone_number or "",
            max_attempts=self._callback_max_attempts,
            retry_spacing_seconds=self._callback_retry_spacing_seconds,
            ring_seconds=self._ring_seconds,
            refusal=refusal,
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
            if update.status.finished:
                callback.completed_at = datetime.now(UTC)
            session.add(callback)
            session.commit()

    @activity.defn(name="begin_callback_attempt")
    async def begin_callback_attempt(self, callback_id: int, attempt: int) -> bool:
        """Marks the call-back as being dialled; False when it no longer needs making."""
        return await asyncio.to_thread(self._begin_callback_attempt, callback_id, attempt)

    def _begin_callback_attempt(self, callback_id: int, attempt: int) -> bool:
        with self._session() as session:
            callback = session.get(Callback, callback_id)
            if callback is None or callback.status.finished:
                return False
            callback.status = CallbackStatus.DIALING
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
                    Callback.status == CallbackStatus.PENDING,
                )
            ).all()
            for callback in pending:
                callback.status = CallbackStatus.FULFILLED
                callback.completed_at = datetime.now(UTC)
                session.add(callback)
            session.commit()
            return [c.workflow_id for c in pending if c.workflow_id]

    @activity.defn(name="set_fallback_level")
    async def set_fallback_level(self, call_id: str, level: FallbackLevel) -> None:
        await asyncio.to_thread(self._set_fallback_level, call_id, level)

    def _set_fallback_level(self, call_id: str, level: FallbackLevel) -> None:
        with self._session() as session:
            call = session.get(Call, call_id)
            if call is not None:
                call.fallback_level = level
                session.add(call)
                session.commit()
