"""The call on record: the calls row, its conversation turns, its errors and its metrics.

Every write is keyed (call id, turn index, speaker), so a retried or replayed activity writes nothing twice.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import structlog
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_accounting import count_finished_call
from activities.owed_callbacks import PendingCallbacks
from business.config import BusinessConfig
from business.opening_hours import is_open
from business.recording_consent import recording_plan
from database.engine import get_engine
from database.models import Business, Call, Callback, CallMetrics, ConversationTurn, ErrorLog
from domain.vocabulary import (
    Brain,
    BusinessKnowledge,
    CallOutcome,
    CallStatus,
    Direction,
    FallbackLevel,
    PhoneMode,
    RecordingPlan,
    Speaker,
)
from receptionist.caller_memory import ReturningCaller, welcome_back
from receptionist.caller_mood import turn_mood
from receptionist.opening_words import opening_words
from runtime.call_cost import CallPrices, RealtimeUsage, estimated_cost_usd

if TYPE_CHECKING:
    from activities.caller_memory import CallerMemories

log = structlog.get_logger(__name__)


class CallOpening(BaseModel):
    call_control_id: str
    workflow_id: str
    caller_number: str | None
    dialed_number: str | None
    direction: Direction
    started_at: datetime
    callback_id: int | None = None
    callback_workflow_id: str | None = None
    business_id: int | None = Field(
        default=None, description="Chosen by a web conversation instead of a dialled number"
    )
    # As the call learns its business (`know_call`), its row is written and the call-backs owed to an incoming
    # caller are sorted, not by activities of their own: two activities and workflow tasks less a call.
    writes_call_row: bool = False
    sorts_owed_callbacks: bool = False


class CallbackContext(BaseModel):
    """For an outbound call that keeps a call-back promise: what the first call was about."""

    callback_id: int
    callback_workflow_id: str
    reason: str
    promised_at: datetime


class CallContext(BaseModel):
    """What the workflow needs to know for the whole call, decided once at its start."""

    business_id: int
    business: BusinessConfig
    brain: Literal[Brain.LLM, Brain.OFFLINE]
    turn_deadline_seconds: float
    transfer_ring_seconds: int
    open_now: bool
    opening_words: str = Field(description="The greeting, or the after-hours message when closed")
    callback: CallbackContext | None = None
    knowledge: BusinessKnowledge = Field(
        default=BusinessKnowledge.DATABASE, description="Where the business came from; UNKNOWN: business_id is 0"
    )
    # Calls opened before recordings existed were never recorded.
    recording: RecordingPlan = RecordingPlan.NOT_RECORDED
    returning: ReturningCaller | None = Field(
        default=None, description="What the business remembers of this caller from earlier calls"
    )
    # Who answers the line: a Realtime-mode business's call reaching Telnyx is transferred to OpenAI's SIP
    # endpoint. Calls recorded before the mode existed read Telnyx speech, as they were answered.
    phone_mode: PhoneMode = PhoneMode.TELNYX_SPEECH
    call_row_written: bool = Field(default=False, description="`know_call` wrote the call's row")
    owed: PendingCallbacks | None = Field(
        default=None, description="The caller's call-backs owed, sorted as the call opened; None: not sorted"
    )


def add_call_row(session: Session, opening: CallOpening, business_id: int | None) -> None:
    """The call's row, as it opens (ringing, being answered); once: a retried write finds it there."""
    if session.get(Call, opening.call_control_id) is not None:
        return
    session.add(
        Call(
            id=opening.call_control_id,
            workflow_id=opening.workflow_id,
            business_id=business_id,
            caller_number=opening.caller_number,
            dialed_number=opening.dialed_number,
            direction=opening.direction,
            status=CallStatus.ANSWERING,
            started_at=opening.started_at,
            callback_id=opening.callback_id,
        )
    )
    session.commit()


class TurnRecord(BaseModel):
    call_id: str
    turn_index: int
    caller_text: str
    agent_text: str
    reply_latency_ms: float | None
    brain: Brain
    interrupted: bool
    tool_calls: list[dict] = []
    language: str = Field(default="en", description="The caller's language: the mood of the words is read in it")


class TurnCosts(BaseModel):
    """What the call's turns cost in silence and LLM requests (workflows/speculation.py, fillers)."""

    longest_silence_ms: float | None = None
    llm_requests: int = 0
    speculative_requests: int = 0
    speculations_adopted: int = 0
    speculative_prompt_tokens: int = 0
    speculative_completion_tokens: int = 0
    fillers: int = 0


class CallClosing(BaseModel):
    call_control_id: str
    status: CallStatus
    hangup_cause: str | None
    ended_at: datetime
    outcome: CallOutcome
    fallback_level: FallbackLevel = FallbackLevel.LLM
    llm_prompt_tokens: int = 0
    llm_completion_tokens: int = 0
    # None from a workflow that did not measure them (before the speculative-replies patch).
    turn_costs: TurnCosts | None = None
    # A Realtime-SIP call's model tokens (None: no Realtime model on the call).
    realtime_usage: RealtimeUsage | None = None


class ErrorRecord(BaseModel):
    key: str  # unique per error occurrence, so a retried write is a no-op
    call_control_id: str | None
    source: str
    message: str
    context: dict = {}


def find_business(session: Session, dialed_number: str | None) -> Business:
    """The business whose number was dialed; a number nobody configured reaches the first business."""
    if dialed_number:
        business = session.exec(select(Business).where(Business.phone_number == dialed_number)).first()
        if business:
            return business
    business = session.exec(select(Business).order_by(Business.id).limit(1)).first()
    if business is None:
        raise LookupError("no business is configured; run `cloudgreet migrate` to create the demo business")
    return business


def save_turn(database_url: str, record: TurnRecord) -> None:
    turns = [
        ConversationTurn(
            call_id=record.call_id,
            turn_index=record.turn_index,
            speaker=Speaker.CALLER,
            text=record.caller_text,
            sentiment=turn_mood(record.caller_text, record.language),
        ),
        ConversationTurn(
            call_id=record.call_id,
            turn_index=record.turn_index,
            speaker=Speaker.AGENT,
            text=record.agent_text,
            reply_latency_ms=record.reply_latency_ms,
            brain=record.brain,
            interrupted=record.interrupted,
            tool_calls=record.tool_calls,
        ),
    ]
    with Session(get_engine(database_url)) as session:
        # One query for both speakers' rows: the turn is one transaction of one read and one write.
        saved = set(
            session.exec(
                select(ConversationTurn.speaker).where(
                    ConversationTurn.call_id == record.call_id, ConversationTurn.turn_index == record.turn_index
                )
            ).all()
        )
        session.add_all(turn for turn in turns if turn.speaker not in saved)
        try:
            session.commit()
        except IntegrityError:
            # Another attempt of the same turn got there first; its rows stand.
            session.rollback()


class CallRecords:
    def __init__(
        self,
        database_url: str,
        *,
        llm_configured: bool,
        turn_deadline_seconds: float,
        transfer_ring_seconds: int = 20,
        prices: CallPrices | None = None,
        memories: CallerMemories | None = None,
    ) -> None:
        self._memories = memories
        self._prices = prices or CallPrices()
        self._database_url = database_url
        self._llm_configured = llm_configured
        self._turn_deadline_seconds = turn_deadline_seconds
        self._transfer_ring_seconds = transfer_ring_seconds

    @activity.defn(name="record_turn")
    async def record_turn(self, record: TurnRecord) -> None:
        await asyncio.to_thread(save_turn, self._database_url, record)

    @activity.defn(name="open_call")
    async def open_call(self, opening: CallOpening) -> CallContext:
        return await asyncio.to_thread(self._open_call, opening)

    def _open_call(self, opening: CallOpening) -> CallContext:
        with Session(get_engine(self._database_url)) as session:
            callback = session.get(Callback, opening.callback_id) if opening.callback_id else None
            # An outbound call dials from the business's number; the business is the one that promised.
            chosen = callback.business_id if callback else opening.business_id
            business = session.get(Business, chosen) if chosen else find_business(session, opening.dialed_number)
            if business is None:
                raise ApplicationError(f"business {chosen} does not exist", type="UnknownBusiness", non_retryable=True)
            add_call_row(session, opening, business.id)
            return self.context(
                business.id,
                BusinessConfig.model_validate(business.config),
                opening,
                phone_mode=business.phone_mode,
                callback=CallbackContext(
                    callback_id=callback.id,
                    callback_workflow_id=opening.callback_workflow_id or callback.workflow_id or "",
                    reason=callback.reason,
                    promised_at=callback.created_at,
                )
                if callback
                else None,
            )

    def context(
        self,
        business_id: int,
        config: BusinessConfig,
        opening: CallOpening,
        callback: CallbackContext | None = None,
        knowledge: BusinessKnowledge = BusinessKnowledge.DATABASE,
        returning: ReturningCaller | None = None,
        phone_mode: PhoneMode = PhoneMode.TELNYX_SPEECH,
    ) -> CallContext:
        """What a call needs to know of its business, from wherever the business was found."""
        open_now = is_open(config, opening.started_at)
        greeting = opening_words(config, opening.started_at, open_now)
        return CallContext(
            business_id=business_id,
            business=config,
            open_now=open_now,
            # Closed, the after-hours message says what matters more than a welcome back.
            opening_words=greeting if greeting != config.greeting_text() else welcome_back(config, returning, greeting),
            returning=returning,
            brain=Brain.LLM if self._llm_configured else Brain.OFFLINE,
            turn_deadline_seconds=self._turn_deadline_seconds,
            transfer_ring_seconds=self._transfer_ring_seconds,
            recording=recording_plan(
                config, opening.dialed_number if opening.direction == Direction.OUTGOING else opening.caller_number
            ),
            callback=callback,
            knowledge=knowledge,
            phone_mode=phone_mode,
        )

    @activity.defn(name="mark_call_status")
    async def mark_call_status(self, call_control_id: str, status: CallStatus) -> None:
        await asyncio.to_thread(self._mark_call_status, call_control_id, status)

    def _mark_call_status(self, call_control_id: str, status: CallStatus) -> None:
        with Session(get_engine(self._database_url)) as session:
            call = session.get(Call, call_control_id)
            if call is not None:
                call.status = status
                session.commit()

    @activity.defn(name="close_call")
    async def close_call(self, closing: CallClosing) -> None:
        await asyncio.to_thread(self._close_call, closing)
        if self._memories is not None:
            await self._memories.remember(closing.call_control_id)

    def _close_call(self, closing: CallClosing) -> None:
        with Session(get_engine(self._database_url)) as session:
            call = session.get(Call, closing.call_control_id)
            if call is None:
                return
            first_close = call.ended_at is None  # a retried close_call must not count the call twice
            call.status = closing.status
            call.outcome = closing.outcome
            call.fallback_level = closing.fallback_level
            call.hangup_cause = closing.hangup_cause
            call.ended_at = closing.ended_at
            turns = session.exec(
                select(ConversationTurn).where(
                    ConversationTurn.call_id == call.id, ConversationTurn.speaker == Speaker.AGENT
                )
            ).all()
            latencies = [t.reply_latency_ms for t in turns if t.reply_latency_ms is not None]
            metrics = session.get(CallMetrics, call.id) or CallMetrics(call_id=call.id)
            metrics.duration_seconds = (closing.ended_at - call.started_at).total_seconds()
            metrics.caller_turns = len(turns)
            metrics.reply_latency_p50_ms = statistics.median(latencies) if latencies else None
            metrics.reply_latency_max_ms = max(latencies) if latencies else None
            metrics.offline_replies = sum(1 for t in turns if t.brain == Brain.OFFLINE)
            metrics.outcome = closing.outcome
            metrics.fallback_level = closing.fallback_level
            metrics.llm_prompt_tokens = closing.llm_prompt_tokens
            metrics.llm_completion_tokens = closing.llm_completion_tokens
            metrics.estimated_cost_usd = estimated_cost_usd(
                self._prices,
                metrics.duration_seconds,
                closing.llm_prompt_tokens,
                closing.llm_completion_tokens,
                closing.realtime_usage,
            )
            if closing.turn_costs is not None:
                for name, value in closing.turn_costs.model_dump().items():
                    setattr(metrics, name, value)
            session.add(metrics)
            session.commit()
            if first_close:
                count_finished_call(session, call)
                # The worker's one line per call at INFO (its Telnyx and LLM requests are logged at DEBUG).
                log.info(
                    "call finished",
                    outcome=closing.outcome,
                    caller_turns=metrics.caller_turns,
                    duration_seconds=round(metrics.duration_seconds, 1),
                    fallback_level=closing.fallback_level,
                )

    @activity.defn(name="record_error")
    async def record_error(self, error: ErrorRecord) -> None:
        await asyncio.to_thread(self._record_error, error)

    def _record_error(self, error: ErrorRecord) -> None:
        with Session(get_engine(self._database_url)) as session:
            if session.exec(select(ErrorLog.id).where(ErrorLog.key == error.key)).first() is not None:
                return
            session.add(
                ErrorLog(
                    key=error.key,
                    call_id=error.call_control_id,
                    source=error.source,
                    message=error.message,
                    context=error.context,
                )
            )
            session.commit()
