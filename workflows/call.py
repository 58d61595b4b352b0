"""`CallWorkflow`: one phone call, from the first webhook to the record of its end.

Webhooks arrive as `telnyx_event` signals, at least once and in any order; the signal handler
only files them, and the run loop decides. Every decision that touches the outside world is
an activity with a deterministic command id or idempotency key, so a crashed worker's call
goes on elsewhere with nothing said twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.call_records import CallClosing, CallContext, CallOpening, CallRecords, ErrorRecord
    from activities.caller_reply import CallerReplies, ReplyRequest, ReplyResult
    from activities.telnyx_commands import CallCommand, CommandResult, SpeakCommand, TelnyxCommands
    from workflows.call_messages import CallEvent, CallStart, CallState, CallSummary, Utterance

BUSINESS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetBusiness")
CALLER_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCaller")
STATUS_SEARCH_ATTRIBUTE = SearchAttributeKey.for_keyword("CloudGreetCallStatus")
SEARCH_ATTRIBUTES = (BUSINESS_SEARCH_ATTRIBUTE, CALLER_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE)

# Every timeout of a call, in one place.
WAIT_FOR_CALL_INITIATED = timedelta(seconds=60)
WAIT_FOR_ANSWERED = timedelta(seconds=20)
CALLER_SILENCE_LIMIT = timedelta(minutes=5)
TELNYX_COMMAND = dict(
    start_to_close_timeout=timedelta(seconds=5),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        maximum_interval=timedelta(seconds=2),
        maximum_attempts=6,
        non_retryable_error_types=["TelnyxRejected"],
    ),
)
RECORD_KEEPING = dict(
    start_to_close_timeout=timedelta(seconds=15),
    retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)),
)
# The LLM gets three attempts; a heartbeat every chunk means a dead worker is noticed in seconds.
LLM_REPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2,
    maximum_attempts=3,
    non_retryable_error_types=["TelnyxRejected"],
)
OFFLINE_REPLY_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_attempts=5, non_retryable_error_types=["TelnyxRejected"]
)
REPLY_HEARTBEAT = timedelta(seconds=2)
REPLY_ATTEMPT_LIMIT = timedelta(seconds=30)

GREETING_STATE = "Z3JlZXRpbmc="  # base64("greeting"), echoed back by call.speak.ended


@workflow.defn
class CallWorkflow:
    def __init__(self) -> None:
        self._seen_event_ids: set[str] = set()
        self._initiated: CallEvent | None = None
        self._answered = False
        self._hangup: CallEvent | None = None
        self._caller_words: list[CallEvent] = []
        self._barge_in = False
        self._reply_running = False
        self._speech_in_flight: set[str] = set()
        self._speech_ended: set[str] = set()
        self._stops = 0
        self._errors = 0
        self._context: CallContext | None = None
        self._state = CallState(call_control_id="", status="ringing")

    # --- what the outside world tells the call -------------------------------------------------

    @workflow.signal
    def telnyx_event(self, event: CallEvent) -> None:
        if event.event_id in self._seen_event_ids:
            return  # Telnyx delivers at least once
        self._seen_event_ids.add(event.event_id)
        kind = event.event_type
        if kind == "call.initiated":
            self._initiated = self._initiated or event
        elif kind == "call.answered":
            self._answered = True
        elif kind == "call.hangup":
            self._hangup = self._hangup or event
        elif kind == "call.speak.ended" and event.client_state:
            self._speech_ended.add(event.client_state)
        elif kind == "call.transcription" and (event.transcript or "").strip():
            if self._agent_speaking():
                self._barge_in = True
            if event.is_final:
                self._caller_words.append(event)
        elif kind == "call.dtmf.received" and event.digit:
            self._caller_words.append(
                event.model_copy(update={"transcript": f"(the caller pressed {event.digit} on the keypad)"})
            )

    @workflow.query
    def state(self) -> CallState:
        self._state.agent_speaking = self._agent_speaking()
        return self._state

    def _agent_speaking(self) -> bool:
        return self._reply_running or bool(self._speech_in_flight - self._speech_ended)

    # --- the call --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CallStart) -> CallSummary:
        self._state.call_control_id = start.call_control_id
        self._state.status = "ringing"
        arrived = await self._wait_until(
            lambda: self._initiated is not None or self._hangup is not None, WAIT_FOR_CALL_INITIATED
        )
        if not arrived or self._initiated is None:
            # A stray event for a call we never saw start, or a hang-up before it rang: nothing to answer.
            return self._summary("never_started")

        await self._open_call(self._initiated)
        answered = await self._command(TelnyxCommands.answer_call, self._call_command("answer"))
        answered_in_time = not answered.call_ended and await self._wait_until(
            lambda: self._answered or self._hangup is not None, WAIT_FOR_ANSWERED
        )
        if not answered_in_time:
            return await self._finish("missed", outcome="abandoned")

        if self._hangup is None:
            await self._set_status("in_progress")
            await asyncio.gather(
                self._greet(), self._command(TelnyxCommands.start_transcription, self._call_command("transcription"))
            )

        while self._hangup is None:
            caller_spoke = await self._wait_until(
                lambda: bool(self._caller_words) or self._barge_in or self._hangup is not None, CALLER_SILENCE_LIMIT
            )
            if not caller_spoke:
                await self._command(TelnyxCommands.hang_up, self._call_command("hangup-silence"))
                break
            if self._hangup is not None:
                break
            if self._barge_in:
                await self._stop_speaking()
            if self._caller_words:
                await self._answer_caller()

        return await self._finish("ended", outcome="completed")

    async def _open_call(self, initiated: CallEvent) -> None:
        info = workflow.info()
        self._state.caller_number = initiated.caller_number
        self._state.dialed_number = initiated.dialed_number
        self._context = await workflow.execute_activity_method(
            CallRecords.open_call,
            CallOpening(
                call_control_id=self._state.call_control_id,
                workflow_id=info.workflow_id,
                caller_number=initiated.caller_number,
                dialed_number=initiated.dialed_number,
                direction=initiated.direction or "incoming",
                started_at=workflow.now(),
            ),
            **RECORD_KEEPING,
        )
        self._state.business_id = self._context.business_id
        self._state.business_name = self._context.business.name
        self._state.brain = self._context.brain
        self._state.status = "answering"
        workflow.upsert_search_attributes(
            [
                BUSINESS_SEARCH_ATTRIBUTE.value_set(str(self._context.business_id)),
                CALLER_SEARCH_ATTRIBUTE.value_set(initiated.caller_number or "unknown"),
                STATUS_SEARCH_ATTRIBUTE.value_set("answering"),
            ]
        )

    async def _greet(self) -> None:
        assert self._context is not None
        business = self._context.business
        greeting = business.greeting_text()
        self._speech_in_flight.add(GREETING_STATE)
        await self._command(
            TelnyxCommands.speak,
            SpeakCommand(
                **self._call_command("greeting").model_dump(),
                text=greeting,
                voice=business.voice,
                language=business.language,
                client_state=GREETING_STATE,
            ),
        )
        self._state.transcript.append(Utterance(speaker="agent", text=greeting))

    async def _answer_caller(self) -> None:
        assert self._context is not None
        words, self._caller_words = self._caller_words, []
        caller_text = " ".join((w.transcript or "").strip() for w in words)
        self._barge_in = False
        self._state.caller_turns += 1
        request = ReplyRequest(
            call_control_id=self._state.call_control_id,
            workflow_id=workflow.info().workflow_id,
            turn_index=self._state.caller_turns,
            caller_text=caller_text,
            history=list(self._state.transcript),
            business=self._context.business,
            brain=self._context.brain,
            caller_words_received_at=words[-1].received_at,
        )
        self._state.transcript.append(Utterance(speaker="caller", text=caller_text))
        result = await self._reply(request, LLM_REPLY_RETRY if request.brain == "llm" else OFFLINE_REPLY_RETRY)
        if result is None and request.brain == "llm" and self._hangup is None and not self._barge_in:
            result = await self._reply(request.model_copy(update={"brain": "offline"}), OFFLINE_REPLY_RETRY)
        if result is not None:
            self._speech_in_flight.update(result.sentence_states)
            self._state.transcript.append(Utterance(speaker="agent", text=result.text))
            if result.call_ended:
                self._note_call_ended()

    async def _reply(self, request: ReplyRequest, retry_policy: RetryPolicy) -> ReplyResult | None:
        """Runs one reply; a barge-in or hang-up cancels it. None when it did not complete."""
        self._reply_running = True
        reply = workflow.start_activity_method(
            CallerReplies.reply_to_caller,
            request,
            start_to_close_timeout=REPLY_ATTEMPT_LIMIT,
            schedule_to_close_timeout=timedelta(seconds=self._context.turn_deadline_seconds) if self._context else None,
            heartbeat_timeout=REPLY_HEARTBEAT,
            retry_policy=retry_policy,
        )
        try:
            await workflow.wait_condition(lambda: reply.done() or self._barge_in or self._hangup is not None)
            if not reply.done():
                reply.cancel()  # the activity records what the caller heard before the interruption
                return None
            return reply.result()
        except ActivityError as error:
            await self._record_error(f"reply.{request.brain}", error)
            return None
        finally:
            self._reply_running = False

    async def _stop_speaking(self) -> None:
        self._barge_in = False
        self._stops += 1
        # Telnyx drops the queued sentences with the playing one, so none of them is in flight now.
        self._speech_in_flight.clear()
        await self._command(TelnyxCommands.stop_speaking, self._call_command(f"stop-{self._stops}"))

    # --- helpers -----------------------------------------------------------------------------------

    async def _finish(self, status: str, *, outcome: str) -> CallSummary:
        self._state.status = status
        hangup_cause = self._hangup.hangup_cause if self._hangup else None
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        await workflow.execute_activity_method(
            CallRecords.close_call,
            CallClosing(
                call_control_id=self._state.call_control_id,
                status=status,
                hangup_cause=hangup_cause,
                ended_at=workflow.now(),
                outcome=outcome,
            ),
            **RECORD_KEEPING,
        )
        return self._summary(status)

    def _summary(self, status: str) -> CallSummary:
        return CallSummary(
            call_control_id=self._state.call_control_id,
            status=status,
            caller_turns=self._state.caller_turns,
            hangup_cause=self._hangup.hangup_cause if self._hangup else None,
        )

    async def _set_status(self, status: str) -> None:
        self._state.status = status
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        await workflow.execute_activity_method(
            CallRecords.mark_call_status, args=[self._state.call_control_id, status], **RECORD_KEEPING
        )

    def _call_command(self, step: str) -> CallCommand:
        return CallCommand(call_control_id=self._state.call_control_id, command_id=f"{workflow.info().workflow_id}/{step}")

    async def _command(self, activity_method, command: CallCommand) -> CommandResult:  # noqa: ANN001
        try:
            result = await workflow.execute_activity_method(activity_method, command, **TELNYX_COMMAND)
        except ActivityError as error:
            await self._record_error(f"telnyx.{command.command_id.rsplit('/', 1)[-1]}", error)
            return CommandResult()
        if result.call_ended:
            self._note_call_ended()
        return result

    def _note_call_ended(self) -> None:
        """Telnyx answered 90018: the call is over even if its call.hangup webhook has not reached us."""
        if self._hangup is None:
            self._hangup = CallEvent(
                event_id="call-already-ended",
                event_type="call.hangup",
                call_control_id=self._state.call_control_id,
                received_at=0,
                hangup_cause="call_already_ended",
            )

    async def _record_error(self, source: str, error: ActivityError) -> None:
        self._errors += 1
        cause = error.cause or error
        await workflow.execute_activity_method(
            CallRecords.record_error,
            ErrorRecord(
                key=f"{workflow.info().workflow_id}/error-{self._errors}",
                call_control_id=self._state.call_control_id,
                source=source,
                message=str(cause),
                context={"turn": self._state.caller_turns, "status": self._state.status},
            ),
            **RECORD_KEEPING,
        )

    @staticmethod
    async def _wait_until(condition, timeout: timedelta) -> bool:  # noqa: ANN001
        try:
            await workflow.wait_condition(condition, timeout=timeout)
            return True
        except TimeoutError:
            return False
