"""The call's paperwork: its status, its rung on the fallback ladder, its turns and errors, its closing.

Every write is an activity keyed by the call (and the turn, or a numbered error), so a replayed
or retried call writes nothing twice; status and ladder level are search attributes as well, so
an operator finds live calls in Temporal by them. A call begun since RECORDS_IN_BACKGROUND awaits
none of them: `workflows.call_records` writes them in order while the call goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.call_records import CallClosing, CallRecords, ErrorRecord, TurnCosts, TurnRecord
    from activities.follow_ups import FollowUps
    from activities.telnyx_commands import TelnyxCommands, TextMessage
    from domain.vocabulary import Brain, CallOutcome, CallStatus, FallbackLevel
    from runtime.call_cost import RealtimeUsage
    from runtime.search_attributes import FALLBACK_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE
    from workflows.call_messages import CallSummary
    from workflows.call_options import RECORD_KEEPING, RECORD_WRITE, TELNYX_COMMAND

from workflows.call_language import language_of
from workflows.call_progress import CallProgress
from workflows.call_records import RecordWriter


class Bookkeeping:
    def __init__(self, progress: CallProgress) -> None:
        self._progress = progress
        self._writer = RecordWriter(progress)
        # A Realtime-SIP call's model tokens, for its estimated cost (set when its control channel ends).
        self.realtime_usage: RealtimeUsage | None = None

    async def all_written(self) -> None:
        """Every record kept so far is in the database (or given up after the long bound)."""
        await asyncio.gather(*self._progress.pending_records)
        self._progress.pending_records.clear()
        await self._writer.all_written()

    def keep(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """A record for the database, written in the background after those before it."""
        self._writer.keep(what, write)

    def _write(self, what: str, activity: Any, *args: Any) -> bool:
        """Writes a record in the background, if this call does; False: the caller awaits it the old way."""
        if not self._progress.records_in_background:
            return False
        self._writer.keep(what, lambda: workflow.execute_activity_method(activity, args=list(args), **RECORD_WRITE))
        return True

    async def set_status(self, status: CallStatus) -> None:
        self._progress.live.status = status
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        if self._write(f"status {status}", CallRecords.mark_call_status, self._progress.call_control_id, status):
            return
        await workflow.execute_activity_method(
            CallRecords.mark_call_status, args=[self._progress.call_control_id, status], **RECORD_KEEPING
        )

    async def climb_ladder(self, level: FallbackLevel) -> None:
        """Down a rung (LLM, offline responder, a person, a call-back promise); never back up."""
        if not self._progress.climbs_to(level):
            return
        self._progress.live.fallback_level = level
        workflow.upsert_search_attributes([FALLBACK_SEARCH_ATTRIBUTE.value_set(level)])
        if self._write(f"fallback level {level}", FollowUps.set_fallback_level, self._progress.call_control_id, level):
            return
        await workflow.execute_activity_method(
            FollowUps.set_fallback_level, args=[self._progress.call_control_id, level], **RECORD_KEEPING
        )

    def record_turn(
        self,
        turn: int,
        caller_text: str,
        agent_text: str,
        *,
        latency: float | None,
        brain: Brain,
        interrupted: bool,
        tools: list[dict[str, Any]],
    ) -> None:
        record = TurnRecord(
            call_id=self._progress.call_control_id,
            turn_index=turn,
            caller_text=caller_text,
            agent_text=agent_text,
            reply_latency_ms=latency,
            brain=brain,
            interrupted=interrupted,
            tool_calls=tools,
            language=language_of(self._progress),  # the caller's mood is read in it
        )
        if self._write(f"turn {turn}", CallRecords.record_turn, record):
            return
        # Not awaited: the next caller turn need not wait for the database; the call's closing does.
        self._progress.pending_records.append(
            workflow.start_activity_method(CallRecords.record_turn, record, **RECORD_KEEPING)
        )

    async def record_error(self, source: str, error: ActivityError) -> None:
        cause = error.cause or error
        live = self._progress.live
        record = ErrorRecord(
            key=f"{workflow.info().workflow_id}/error-{self._progress.next('error')}",
            call_control_id=self._progress.call_control_id,
            source=source,
            message=str(cause),
            context={
                "turn": live.caller_turns,
                "status": live.status,
                "fallback_level": live.fallback_level,
                "error_type": getattr(cause, "type", None) or type(cause).__name__,
            },
        )
        if self._write(f"error from {source}", CallRecords.record_error, record):
            return
        await workflow.execute_activity_method(CallRecords.record_error, record, **RECORD_KEEPING)

    async def send_text(self, message: TextMessage) -> None:
        """A text is a courtesy: when Telnyx refuses it, the call goes on and the error is on record."""
        try:
            await workflow.execute_activity_method(TelnyxCommands.send_text_message, message, **TELNYX_COMMAND)
        except ActivityError as error:
            await self.record_error("telnyx.sms", error)

    async def finish(self, status: CallStatus, *, outcome: CallOutcome) -> CallSummary:
        """Closes the call's record, once every turn is on it."""
        live = self._progress.live
        live.status = status
        live.outcome = outcome
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        await asyncio.gather(*self._progress.pending_records)
        ended_at = workflow.now()
        if self._progress.records_in_background:
            # Made when written: a booking kept through an outage may change the outcome meanwhile.
            self._writer.keep(
                "closing",
                lambda: workflow.execute_activity_method(
                    CallRecords.close_call, self._closing(status, ended_at), **RECORD_WRITE
                ),
            )
            await self._writer.all_written()
        else:
            await workflow.execute_activity_method(
                CallRecords.close_call, self._closing(status, ended_at), **RECORD_KEEPING
            )
        return self.summary(status)

    def _closing(self, status: CallStatus, ended_at: datetime) -> CallClosing:
        live = self._progress.live
        return CallClosing(
            call_control_id=self._progress.call_control_id,
            status=status,
            hangup_cause=self._progress.hangup_cause,
            ended_at=ended_at,
            outcome=CallOutcome(live.outcome) if live.outcome else CallOutcome.COMPLETED,
            fallback_level=live.fallback_level,
            llm_prompt_tokens=self._progress.prompt_tokens,
            llm_completion_tokens=self._progress.completion_tokens,
            turn_costs=self._turn_costs(),
            realtime_usage=self.realtime_usage,
        )

    def _turn_costs(self) -> TurnCosts:
        progress = self._progress
        return TurnCosts(
            longest_silence_ms=round(progress.longest_silence_ms, 1) if progress.longest_silence_ms else None,
            llm_requests=progress.llm_requests,
            speculative_requests=progress.speculative_requests,
            speculations_adopted=progress.speculations_adopted,
            speculative_prompt_tokens=progress.speculative_prompt_tokens,
            speculative_completion_tokens=progress.speculative_completion_tokens,
            fillers=progress.fillers,
        )

    def summary(self, status: CallStatus) -> CallSummary:
        live = self._progress.live
        return CallSummary(
            call_control_id=self._progress.call_control_id,
            status=status,
            caller_turns=live.caller_turns,
            hangup_cause=self._progress.hangup_cause,
            outcome=live.outcome,
            fallback_level=live.fallback_level,
        )
