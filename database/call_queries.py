"""Reading calls back from the records: the list with its filters, everything about one call, call-backs.

Shared by the admin JSON API, the admin pages and `cloudgreet calls`, so all three show the
same thing. Plain SQLModel queries, no web framework. Every moment comes back aware and in UTC
(the `UTCDateTime` columns see to it), and every status is a word of `domain.vocabulary`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from database.demo_bookings import not_expired
from database.models import (
    Appointment,
    Business,
    Call,
    Callback,
    CallMetrics,
    ConversationTurn,
    ErrorLog,
    Escalation,
)
from database.utc import utcnow
from domain.vocabulary import (
    AppointmentStatus,
    Brain,
    CallbackStatus,
    CallOutcome,
    CallStatus,
    Direction,
    EscalationStatus,
    FallbackLevel,
    Speaker,
)
from receptionist.caller_mood import call_mood


class CallFilters(BaseModel):
    business_id: int | None = None
    status: CallStatus | None = None
    outcome: CallOutcome | None = None
    since: datetime | None = Field(default=None, description="Calls that started at or after this moment")
    until: datetime | None = Field(default=None, description="Calls that started before this moment")
    caller: str | None = Field(default=None, description="The caller's number, or its last digits")


class CallListItem(BaseModel):
    id: str
    workflow_id: str
    business_id: int | None
    business_name: str | None
    caller_number: str | None
    dialed_number: str | None
    direction: Direction
    status: CallStatus
    outcome: CallOutcome | None
    fallback_level: FallbackLevel
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None = None
    caller_turns: int = 0
    reply_latency_p50_ms: float | None = None
    reply_latency_max_ms: float | None = None
    estimated_cost_usd: float | None = None
    longest_silence_ms: float | None = None

    @property
    def finished(self) -> bool:
        return self.status.finished


class CallPage(BaseModel):
    calls: list[CallListItem]
    total: int
    limit: int
    offset: int


class TranscriptLine(BaseModel):
    turn_index: int
    speaker: Speaker
    text: str
    spoken_at: datetime
    reply_latency_ms: float | None = None
    brain: Brain | None = None
    interrupted: bool = False
    tool_calls: list[dict[str, Any]] = Field(
        default_factory=list, description="Agent turns: the tools the brain used, each with its arguments and result"
    )
    sentiment: float | None = Field(default=None, description="Caller turns: the mood of the words, -1 to 1")


class CallMetricsOut(BaseModel):
    duration_seconds: float | None
    caller_turns: int
    reply_latency_p50_ms: float | None
    reply_latency_max_ms: float | None
    offline_replies: int
    outcome: CallOutcome
    fallback_level: FallbackLevel
    llm_prompt_tokens: int
    llm_completion_tokens: int
    estimated_cost_usd: float | None
    longest_silence_ms: float | None = Field(default=None, description="The longest the caller waited in silence")
    llm_requests: int = 0
    speculative_requests: int = Field(default=0, description="LLM requests started on interim transcripts")
    speculations_adopted: int = Field(default=0, description="Speculative replies the final transcript confirmed")
    speculative_prompt_tokens: int = 0
    speculative_completion_tokens: int = 0
    fillers: int = Field(default=0, description="Turns that opened with a filler while the caller waited")


class ErrorEntry(BaseModel):
    occurred_at: datetime
    source: str
    message: str
    context: dict[str, Any] = Field(default_factory=dict)


class BookingEntry(BaseModel):
    id: int
    service: str
    starts_at: datetime
    ends_at: datetime
    caller_name: str | None
    status: AppointmentStatus
    is_demo: bool = Field(default=False, description="Booked in a demo or test session: it holds no real slot")
    expires_at: datetime | None = Field(default=None, description="A demo booking is gone after this")


class CallbackEntry(BaseModel):
    id: int
    caller_number: str
    reason: str
    message: str | None
    urgent: bool
    due_at: datetime
    status: CallbackStatus
    attempts: int


class EscalationEntry(BaseModel):
    id: int
    reason: str
    status: EscalationStatus
    attempts: list[Any]
    created_at: datetime


class CallDetail(CallListItem):
    hangup_cause: str | None
    metrics: CallMetricsOut | None
    transcript: list[TranscriptLine]
    mood: float | None = Field(default=None, description="The caller's mood over the call: the mean of its turns'")
    errors: list[ErrorEntry] = Field(description="What failed during the call, in order: the fallback steps taken")
    bookings: list[BookingEntry]
    callbacks: list[CallbackEntry]
    escalations: list[EscalationEntry]


def _list_item(call: Call, business: Business | None, metrics: CallMetrics | None) -> dict[str, Any]:
    return dict(
        id=call.id,
        workflow_id=call.workflow_id,
        business_id=call.business_id,
        business_name=business.name if business else None,
        caller_number=call.caller_number,
        dialed_number=call.dialed_number,
        direction=call.direction,
        status=call.status,
        outcome=call.outcome or (metrics.outcome if metrics else None),
        fallback_level=call.fallback_level,
        started_at=call.started_at,
        ended_at=call.ended_at,
        duration_seconds=metrics.duration_seconds if metrics else None,
        caller_turns=metrics.caller_turns if metrics else 0,
        reply_latency_p50_ms=metrics.reply_latency_p50_ms if metrics else None,
        reply_latency_max_ms=metrics.reply_latency_max_ms if metrics else None,
        estimated_cost_usd=metrics.estimated_cost_usd if metrics else None,
        longest_silence_ms=metrics.longest_silence_ms if metrics else None,
    )


def _filtered(statement, filters: CallFilters):
    if filters.business_id is not None:
        statement = statement.where(Call.business_id == filters.business_id)
    if filters.status:
        statement = statement.where(Call.status == filters.status)
    if filters.outcome:
        statement = statement.where(or_(Call.outcome == filters.outcome, CallMetrics.outcome == filters.outcome))
    if filters.since:
        statement = statement.where(Call.started_at >= filters.since)
    if filters.until:
        statement = statement.where(Call.started_at < filters.until)
    if filters.caller:
        statement = statement.where(col(Call.caller_number).endswith(filters.caller.strip()))
    return statement


def list_calls(session: Session, filters: CallFilters, *, limit: int = 50, offset: int = 0) -> CallPage:
    base = (
        select(Call, Business, CallMetrics)
        .join(Business, Business.id == Call.business_id, isouter=True)
        .join(CallMetrics, CallMetrics.call_id == Call.id, isouter=True)
    )
    rows = session.exec(
        _filtered(base, filters).order_by(col(Call.started_at).desc(), col(Call.id)).offset(offset).limit(limit)
    ).all()
    counted = select(func.count()).select_from(Call).join(CallMetrics, CallMetrics.call_id == Call.id, isouter=True)
    total = session.exec(_filtered(counted, filters)).one()
    return CallPage(
        calls=[CallListItem(**_list_item(call, business, metrics)) for call, business, metrics in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def find_call(session: Session, id_or_workflow_id: str) -> Call | None:
    """By Telnyx call_control_id or by workflow id (`call-<id>`), as operators copy either."""
    key = id_or_workflow_id.strip()
    return session.get(Call, key) or session.exec(select(Call).where(Call.workflow_id == key)).first()


def call_detail(session: Session, id_or_workflow_id: str) -> CallDetail | None:
    call = find_call(session, id_or_workflow_id)
    if call is None:
        return None
    business = session.get(Business, call.business_id) if call.business_id is not None else None
    metrics = session.get(CallMetrics, call.id)
    turns = session.exec(select(ConversationTurn).where(ConversationTurn.call_id == call.id)).all()
    errors = session.exec(
        select(ErrorLog).where(ErrorLog.call_id == call.id).order_by(col(ErrorLog.occurred_at), col(ErrorLog.id))
    ).all()
    bookings = session.exec(
        select(Appointment).where(Appointment.call_id == call.id, not_expired(utcnow())).order_by(col(Appointment.id))
    ).all()
    callbacks = session.exec(select(Callback).where(Callback.call_id == call.id).order_by(col(Callback.id))).all()
    escalations = session.exec(
        select(Escalation).where(Escalation.call_id == call.id).order_by(col(Escalation.id))
    ).all()
    return CallDetail(
        **_list_item(call, business, metrics),
        hangup_cause=call.hangup_cause,
        metrics=CallMetricsOut.model_validate(metrics, from_attributes=True) if metrics else None,
        transcript=[
            TranscriptLine.model_validate(turn, from_attributes=True)
            # Within a turn the caller spoke first, whatever order the rows were written in.
            for turn in sorted(turns, key=lambda t: (t.turn_index, t.speaker != Speaker.CALLER, t.spoken_at, t.id or 0))
        ],
        mood=call_mood([turn.sentiment for turn in turns if turn.speaker == Speaker.CALLER]),
        errors=[
            ErrorEntry(occurred_at=e.occurred_at, source=e.source, message=e.message, context=e.context or {})
            for e in errors
        ],
        bookings=[BookingEntry.model_validate(b, from_attributes=True) for b in bookings],
        callbacks=[CallbackEntry.model_validate(c, from_attributes=True) for c in callbacks],
        escalations=[EscalationEntry.model_validate(e, from_attributes=True) for e in escalations],
    )


class CallbackListItem(CallbackEntry):
    business_id: int
    call_id: str | None
    workflow_id: str | None
    created_at: datetime
    completed_at: datetime | None


def list_callbacks(
    session: Session, *, business_id: int | None = None, status: CallbackStatus | None = None, limit: int = 50
) -> list[CallbackListItem]:
    """Call-backs promised to callers, the soonest due first."""
    query = select(Callback)
    if business_id is not None:
        query = query.where(Callback.business_id == business_id)
    if status:
        query = query.where(Callback.status == status)
    rows = session.exec(query.order_by(col(Callback.due_at), col(Callback.id)).limit(limit)).all()
    return [CallbackListItem.model_validate(row, from_attributes=True) for row in rows]
