"""The tables. One SQLModel class per table; the business configuration itself is a `BusinessConfig`."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores every moment in UTC and hands it back aware, on SQLite (which keeps no offset) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)



class Business(SQLModel, table=True):
    __tablename__ = "businesses"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    phone_number: str | None = Field(default=None, unique=True, description="The number callers dial (E.164)")
    config: dict = Field(sa_column=Column(JSON, nullable=False), description="A BusinessConfig as JSON")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Call(SQLModel, table=True):
    __tablename__ = "calls"

    id: str = Field(primary_key=True, description="Telnyx call_control_id")
    workflow_id: str = Field(index=True)
    business_id: int | None = Field(default=None, foreign_key="businesses.id", index=True)
    caller_number: str | None = Field(default=None, index=True)
    dialed_number: str | None = None
    direction: str = "incoming"
    status: str = Field(default="ringing", index=True)
    outcome: str | None = Field(default=None, index=True, description="booked, escalated, message, abandoned, completed")
    fallback_level: str = Field(default="llm", description="llm, offline, escalation, callback_promise")
    callback_id: int | None = Field(default=None, description="Set on an outbound call that makes a call-back")
    hangup_cause: str | None = None
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConversationTurn(SQLModel, table=True):
    """One utterance of a call: the caller's words or the agent's reply."""

    __tablename__ = "conversation_history"
    # A retried or replayed activity writes the same turn again; the key makes that a no-op.
    __table_args__ = (UniqueConstraint("call_id", "turn_index", "speaker", name="uq_turn_once"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="calls.id", index=True)
    turn_index: int
    speaker: str = Field(description="'caller' or 'agent'")
    text: str
    spoken_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reply_latency_ms: float | None = Field(
        default=None, description="Agent turns: from the caller's final words reaching us to the first speak command"
    )
    brain: str | None = Field(default=None, description="Agent turns: 'llm' or 'offline'")
    interrupted: bool = False
    tool_calls: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))


class ErrorLog(SQLModel, table=True):
    __tablename__ = "error_logs"

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, unique=True, description="Idempotency key of the write")
    call_id: str | None = Field(default=None, index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    source: str = Field(description="What failed, e.g. 'llm', 'telnyx.speak'")
    message: str
    context: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CallMetrics(SQLModel, table=True):
    __tablename__ = "call_metrics"

    call_id: str = Field(primary_key=True, foreign_key="calls.id")
    duration_seconds: float | None = None
    caller_turns: int = 0
    reply_latency_p50_ms: float | None = None
    reply_latency_max_ms: float | None = None
    offline_replies: int = 0
    outcome: str = "completed"
    fallback_level: str = "llm"
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    estimated_cost_usd: float | None = None


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    call_id: str | None = Field(default=None, index=True)
    service: str
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    caller_name: str | None = None
    caller_number: str | None = Field(default=None, index=True)
    status: str = Field(default="booked", index=True, description="booked or cancelled")
    idempotency_key: str = Field(unique=True, description="The call and tool call that booked it")
    cancel_key: str | None = Field(default=None, unique=True, description="The call and tool call that cancelled it")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AppointmentSlot(SQLModel, table=True):
    """One slot unit held by a booked appointment. The unique key is what stops two calls booking one slot."""

    __tablename__ = "appointment_slots"
    __table_args__ = (UniqueConstraint("business_id", "slot_start", name="uq_slot_taken_once"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id")
    slot_start: datetime = Field(sa_type=UTCDateTime)
    appointment_id: int = Field(foreign_key="appointments.id", index=True)


class Callback(SQLModel, table=True):
    __tablename__ = "callbacks"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    call_id: str | None = Field(default=None, index=True, description="The call in which it was promised")
    caller_number: str = Field(index=True)
    caller_name: str | None = None
    reason: str = ""
    message: str | None = None
    urgent: bool = False
    due_at: datetime = Field(sa_type=UTCDateTime, index=True)
    status: str = Field(default="pending", index=True, description="pending, dialing, done, fulfilled, voicemail, failed")
    attempts: int = 0
    workflow_id: str | None = None
    idempotency_key: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Escalation(SQLModel, table=True):
    __tablename__ = "escalations"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    call_id: str = Field(index=True)
    reason: str
    status: str = Field(default="transferring", description="transferring, connected, nobody_answered, failed")
    attempts: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
