"""The tables. One SQLModel class per table; the business configuration itself is a `BusinessConfig`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Enum, UniqueConstraint
from sqlmodel import Field, SQLModel

from database.utc import UTCDateTime, utcnow
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


def words_of(vocabulary: type[StrEnum]) -> Enum:
    """A column holding one of the call's words: its plain string in a VARCHAR, as the migrations made it
    (no native enum type, no CHECK: no migration), handed back as the enum member."""
    return Enum(
        vocabulary,
        native_enum=False,
        create_constraint=False,
        values_callable=lambda members: [member.value for member in members],
    )


class Business(SQLModel, table=True):
    __tablename__ = "businesses"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    phone_number: str | None = Field(default=None, unique=True, description="The number callers dial (E.164)")
    config: dict = Field(sa_column=Column(JSON, nullable=False), description="A BusinessConfig as JSON")
    # Listed on the public /demo page, where any visitor may talk to its receptionist (an admin opts in).
    demo_enabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Call(SQLModel, table=True):
    __tablename__ = "calls"

    id: str = Field(primary_key=True, description="Telnyx call_control_id")
    workflow_id: str = Field(index=True)
    business_id: int | None = Field(default=None, foreign_key="businesses.id", index=True)
    caller_number: str | None = Field(default=None, index=True)
    dialed_number: str | None = None
    direction: Direction = Field(default=Direction.INCOMING, sa_type=words_of(Direction))
    status: CallStatus = Field(default=CallStatus.RINGING, index=True, sa_type=words_of(CallStatus))
    outcome: CallOutcome | None = Field(
        default=None, index=True, sa_type=words_of(CallOutcome), description="Set when the call ends"
    )
    fallback_level: FallbackLevel = Field(
        default=FallbackLevel.LLM,
        sa_type=words_of(FallbackLevel),
        description="The deepest rung of the fallback ladder the call reached",
    )
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
    speaker: Speaker = Field(sa_type=words_of(Speaker))
    text: str
    spoken_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reply_latency_ms: float | None = Field(
        default=None, description="Agent turns: from the caller's final words reaching us to the first speak command"
    )
    brain: Brain | None = Field(
        default=None, sa_type=words_of(Brain), description="Agent turns: what produced the reply"
    )
    interrupted: bool = False
    tool_calls: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    sentiment: float | None = Field(
        default=None, description="Caller turns: the mood of the words, -1 to 1 (receptionist/caller_mood.py)"
    )


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
    outcome: CallOutcome = Field(default=CallOutcome.COMPLETED, sa_type=words_of(CallOutcome))
    fallback_level: FallbackLevel = Field(default=FallbackLevel.LLM, sa_type=words_of(FallbackLevel))
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    estimated_cost_usd: float | None = None
    # The longest the caller waited in silence for the agent, from their final words or the end of
    # the agent's last sentence to its next one (None: a call before it was measured).
    longest_silence_ms: float | None = None
    # LLM requests (speculative ones included), speculative replies started and adopted, their tokens
    # (also in llm_*_tokens), and fillers said.
    llm_requests: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    speculative_requests: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    speculations_adopted: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    speculative_prompt_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    speculative_completion_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    fillers: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


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
    status: AppointmentStatus = Field(default=AppointmentStatus.BOOKED, index=True, sa_type=words_of(AppointmentStatus))
    idempotency_key: str = Field(unique=True, description="The call and tool call that booked it")
    cancel_key: str | None = Field(default=None, unique=True, description="The call and tool call that cancelled it")
    moved_key: str | None = Field(default=None, unique=True, description="The call and tool call that last moved it")
    # A demo or test session's booking (`database.demo_bookings`): it holds no slot, never reaches the
    # business's calendar, and every query ignores it after `expires_at`.
    is_demo: bool = Field(default=False, index=True)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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


class BookingCode(SQLModel, table=True):
    """A one-time code texted to a caller's number in a call: reading it back shows the number's
    appointments are theirs (`receptionist.booking_proof`). One per call; it works in that call only.

    The code is kept as sent, not hashed: a retried send must text the very same code, and a six-digit
    hash would be reversed in a blink anyway. What guards it is its short life and the few tries."""

    __tablename__ = "booking_codes"
    __table_args__ = (UniqueConstraint("business_id", "call_id", name="uq_one_code_per_call"),)

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id")
    call_id: str = Field(index=True)
    caller_number: str
    code: str
    expires_at: datetime = Field(sa_type=UTCDateTime)
    texted_keys: list = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False), description="The tool calls that texted it"
    )
    wrong_tries: list = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="The tool calls that read a wrong code (a retried check counts once)",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


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
    status: CallbackStatus = Field(default=CallbackStatus.PENDING, index=True, sa_type=words_of(CallbackStatus))
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
    status: EscalationStatus = Field(default=EscalationStatus.TRANSFERRING, sa_type=words_of(EscalationStatus))
    attempts: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    idempotency_key: str = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CallerMemory(SQLModel, table=True):
    """What a business remembers of one call of a returning caller: a short summary and its facts."""

    __tablename__ = "caller_memories"

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="businesses.id", index=True)
    caller_number: str = Field(index=True)
    # One summary per call: a retried close of the call writes nothing twice.
    call_id: str = Field(foreign_key="calls.id", unique=True)
    summary: str
    facts: dict = Field(sa_column=Column(JSON, nullable=False), description="A CallFacts as JSON")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
