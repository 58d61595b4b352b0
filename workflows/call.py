"""`CallWorkflow`: one phone call, from the first webhook to the record of its end.

Webhooks arrive as `telnyx_event` signals, at least once and in any order; the signal handler
only files them, and the run loop decides. Every decision that touches the outside world is
an activity with a deterministic command id or idempotency key, so a crashed worker's call
goes on elsewhere with nothing said or booked twice.

The fallback ladder of a call: the LLM (3 attempts within the turn deadline), then the
offline responder, then a person (escalation), then a promised call-back and a goodbye.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.call_records import CallClosing, CallContext, CallOpening, CallRecords, ErrorRecord, TurnRecord
    from activities.caller_reply import CallerReplies, ReplyRequest, ReplyResult
    from activities.follow_ups import (
        FollowUps,
        PendingCallbacksQuery,
    )
    from activities.telnyx_commands import (
        CallCommand,
        CommandResult,
        SpeakCommand,
        TelnyxCommands,
    )
    from receptionist.emergencies import emergency_in
    from receptionist.tools import ToolRound
    from workflows.call_messages import (
        CallEvent,
        CallStart,
        CallState,
        CallSummary,
        TransferLeg,
        Utterance,
        WebReply,
        WebWords,
    )
    from workflows.call_options import (
        BUSINESS_SEARCH_ATTRIBUTE,
        CALLER_SEARCH_ATTRIBUTE,
        CALLER_SILENCE_LIMIT,
        FALLBACK_SEARCH_ATTRIBUTE,
        LLM_FAILED_TURNS_BEFORE_ESCALATION,
        LLM_REPLY_RETRY,
        MAX_TOOL_ROUNDS,
        OFFLINE_REPLY_RETRY,
        RECORD_KEEPING,
        REPLY_ATTEMPT_LIMIT,
        REPLY_HEARTBEAT,
        STATUS_SEARCH_ATTRIBUTE,
        TELNYX_COMMAND,
        TRANSFERRED_CALL_LIMIT,
        WAIT_FOR_ANSWERED,
        WAIT_FOR_CALL_INITIATED,
        WAIT_FOR_HANGUP,
        WAIT_FOR_SPEECH_TO_FINISH,
    )
    from workflows.callback import CallbackWorkflow
    from workflows.waiting import wait_until

from workflows.call_escalation import EscalationAndCallbacks  # noqa: E402  (after the passed-through imports)
from workflows.call_tools import CallTools  # noqa: E402

LEG_OUTCOMES = {"timeout": "no_answer", "no_answer": "no_answer", "user_busy": "busy", "busy": "busy"}


@workflow.defn
class CallWorkflow(CallTools, EscalationAndCallbacks):
    @workflow.init
    def __init__(self, start: CallStart) -> None:
        self._seen_event_ids: set[str] = set()
        self._initiated: CallEvent | None = None
        self._answered = False
        self._hangup: CallEvent | None = None
        self._caller_words: list[CallEvent] = []
        self._barge_in = False
        self._reply_running = False
        self._speeches_sent = 0
        self._speeches_ended = 0
        self._bridged = False
        self._machine_detection: str | None = None
        self._leg_outcomes: dict[str, str] = {}
        self._context: CallContext | None = None
        self._state = CallState(call_control_id="", status="ringing")
        self._counters: dict[str, int] = {}
        self._llm_failed_turns = 0
        self._requested_escalation: tuple[str, bool] | None = None
        self._ending = False
        self._transferred = False
        self._tokens = [0, 0]
        self._records: list[workflow.ActivityHandle] = []
        # The web channel: the browser's words arrive by update; replies are collected, not spoken.
        self._channel = start.channel
        self._state.channel = start.channel
        self._web_business_id = start.web_business_id
        self._web_outbox: list[str] = []
        self._web_words_sent = 0
        self._web_words_answered = 0
        self._web_replies: dict[int, WebReply] = {}

    # --- what the outside world tells the call -------------------------------------------------

    @workflow.signal
    def telnyx_event(self, event: CallEvent) -> None:
        if event.event_id in self._seen_event_ids:
            return  # Telnyx delivers at least once
        self._seen_event_ids.add(event.event_id)
        if event.leg is not None:
            self._file_transfer_leg_event(event.leg, event)
            return
        kind = event.event_type
        if kind == "call.initiated":
            self._initiated = self._initiated or event
        elif kind == "call.answered":
            self._answered = True
        elif kind == "call.hangup":
            self._hangup = self._hangup or event
        elif kind == "call.bridged":
            self._bridged = True
        elif kind == "call.machine.detection.ended":
            self._machine_detection = self._machine_detection or event.detection_result or "human"
        elif kind == "call.speak.ended":
            self._speeches_ended += 1
        elif kind == "call.transcription" and (event.transcript or "").strip():
            if self._agent_speaking():
                self._barge_in = True
            if event.is_final:
                self._caller_words.append(event)
        elif kind == "call.dtmf.received" and event.digit:
            self._caller_words.append(
                event.model_copy(update={"transcript": f"(the caller pressed {event.digit} on the keypad)"})
            )

    def _file_transfer_leg_event(self, leg: TransferLeg, event: CallEvent) -> None:
        key = f"{leg.escalation}/{leg.attempt}"
        if self._leg_outcomes.get(key) == "answered":
            return  # the person answered; their hanging up later is the end of that conversation
        if event.event_type in ("call.answered", "call.bridged"):
            self._leg_outcomes[key] = "answered"
        elif event.event_type == "call.hangup":
            self._leg_outcomes[key] = LEG_OUTCOMES.get(event.hangup_cause or "", "failed")

    @workflow.query
    def state(self) -> CallState:
        # A query reads; it answers with a copy rather than writing into the workflow's state.
        return self._state.model_copy(update={"agent_speaking": self._agent_speaking()})

    @workflow.update
    async def opening_words(self) -> WebReply:
        """A web conversation's greeting, once the call is under way."""
        await workflow.wait_condition(
            lambda: (self._state.status != "ringing" and bool(self._state.transcript)) or self._hangup is not None
        )
        self._web_outbox.clear()  # the greeting is this update's answer, not part of the first reply
        return WebReply(text=self._state.transcript[0].text if self._state.transcript else "", ended=self._hangup is not None)

    @opening_words.validator
    def _only_web_conversations_open(self) -> None:
        if self._channel != "web":
            raise ApplicationError("only a web conversation is greeted by update", type="NotAWebConversation")

    @workflow.update
    async def caller_said(self, words: WebWords) -> WebReply:
        """The browser's words, answered as a phone caller's would be: same brain, tools and ladder."""
        self._web_words_sent += 1
        sequence = self._web_words_sent
        self._caller_words.append(
            CallEvent(
                event_id=f"web-words-{sequence}",
                event_type="call.transcription",
                call_control_id=self._state.call_control_id,
                received_at=words.sent_at,
                transcript=words.text,
                is_final=True,
            )
        )
        await workflow.wait_condition(lambda: self._web_words_answered >= sequence or self._hangup is not None)
        return self._web_replies.get(sequence) or WebReply(text="", ended=True, outcome=self._state.outcome)

    @caller_said.validator
    def _only_web_conversations_type(self, words: WebWords) -> None:
        if self._channel != "web":
            raise ApplicationError("only a web conversation takes typed words", type="NotAWebConversation")
        if self._hangup is not None or self._ending:
            raise ApplicationError("this conversation has ended", type="ConversationEnded")

    def _agent_speaking(self) -> bool:
        return self._reply_running or self._speeches_sent > self._speeches_ended

    # --- the call --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CallStart) -> CallSummary:
        self._state.call_control_id = start.call_control_id
        if start.channel == "web":
            self._answered = True
            self._initiated = CallEvent(
                event_id="web-start",
                event_type="call.initiated",
                call_control_id=start.call_control_id,
                received_at=0,
                caller_number=None,
                dialed_number=None,
                direction="web",
            )
        arrived = await wait_until(
            lambda: self._initiated is not None or self._hangup is not None, WAIT_FOR_CALL_INITIATED
        )
        if not arrived or self._initiated is None:
            # A stray event for a call we never saw start, or a hang-up before it rang: nothing to answer.
            return self._summary("never_started")
        await self._open_call(self._initiated)
        if self._initiated.direction == "outgoing":
            return await self._keep_callback_promise()

        answered = await self._command(TelnyxCommands.answer_call, self._call_command("answer"))
        answered_in_time = not answered.call_ended and await wait_until(
            lambda: self._answered or self._hangup is not None, WAIT_FOR_ANSWERED
        )
        if not answered_in_time:
            return await self._finish("missed", outcome="abandoned")
        if self._hangup is None:
            await self._begin_conversation(self._context.opening_words)
            await self._converse()
        return await self._finish("ended", outcome=self._state.outcome or "completed")

    async def _open_call(self, initiated: CallEvent) -> None:
        info = workflow.info()
        self._state.caller_number = initiated.caller_number
        self._state.dialed_number = initiated.dialed_number
        callback = initiated.callback
        self._context = await workflow.execute_activity_method(
            CallRecords.open_call,
            CallOpening(
                call_control_id=self._state.call_control_id,
                workflow_id=info.workflow_id,
                caller_number=initiated.caller_number,
                dialed_number=initiated.dialed_number,
                direction=initiated.direction or "incoming",
                started_at=workflow.now(),
                callback_id=callback.callback_id if callback else None,
                callback_workflow_id=callback.callback_workflow_id if callback else None,
                business_id=self._web_business_id,
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
                CALLER_SEARCH_ATTRIBUTE.value_set(self._other_party() or "unknown"),
                STATUS_SEARCH_ATTRIBUTE.value_set("answering"),
                FALLBACK_SEARCH_ATTRIBUTE.value_set("llm"),
            ]
        )
        if initiated.direction == "incoming" and initiated.caller_number:
            await self._fulfil_pending_callbacks(initiated.caller_number)

    def _other_party(self) -> str | None:
        """The customer's number: the caller inbound, the one we dialled outbound."""
        if self._initiated and self._initiated.direction == "outgoing":
            return self._state.dialed_number
        return self._state.caller_number

    async def _fulfil_pending_callbacks(self, caller_number: str) -> None:
        """The caller rang before we rang them: the call-backs they were promised are kept by this call."""
        workflow_ids = await workflow.execute_activity_method(
            FollowUps.claim_pending_callbacks,
            PendingCallbacksQuery(business_id=self._context.business_id, caller_number=caller_number),
            **RECORD_KEEPING,
        )
        for workflow_id in workflow_ids:
            try:
                await workflow.get_external_workflow_handle(workflow_id).signal(CallbackWorkflow.caller_called_in)
            except Exception:  # noqa: BLE001  (a call-back that already finished needs no telling)
                workflow.logger.info("call-back %s had already finished", workflow_id)

    async def _begin_conversation(self, opening_words: str) -> None:
        await self._set_status("in_progress")
        await asyncio.gather(
            self._say(opening_words, "greeting"),
            self._command(TelnyxCommands.start_transcription, self._call_command("transcription")),
        )

    async def _converse(self) -> None:
        while self._hangup is None and not self._ending:
            if self._transferred:
                await wait_until(lambda: self._hangup is not None, TRANSFERRED_CALL_LIMIT)
                return
            caller_spoke = await wait_until(
                lambda: bool(self._caller_words) or self._barge_in or self._hangup is not None, CALLER_SILENCE_LIMIT
            )
            if not caller_spoke:
                await self._say("I haven't heard anything for a while, so I'll hang up now. Goodbye!", "silence")
                self._ending = True
                break
            if self._hangup is not None:
                break
            if self._barge_in and not self._caller_words:
                await self._stop_speaking()
            if self._caller_words:
                taken = self._web_words_sent
                await self._caller_turn()
                self._answer_web_words_upto(taken)
        if self._ending and self._hangup is None:
            await self._hang_up("goodbye")
        self._answer_web_words()

    def _answer_web_words(self) -> None:
        self._answer_web_words_upto(self._web_words_sent)

    def _answer_web_words_upto(self, taken: int) -> None:
        """Every web update whose words this turn took gets the turn's reply."""
        if self._channel != "web" or taken <= self._web_words_answered:
            return
        reply = WebReply(
            text=" ".join(t for t in self._web_outbox if t),
            ended=self._ending or self._hangup is not None,
            outcome=self._state.outcome,
        )
        self._web_outbox.clear()
        for sequence in range(self._web_words_answered + 1, taken + 1):
            self._web_replies[sequence] = reply
        self._web_words_answered = taken

    # --- one caller turn -------------------------------------------------------------------------

    async def _caller_turn(self) -> None:
        words, self._caller_words = self._caller_words, []
        if self._barge_in:
            await self._stop_speaking()
        caller_text = " ".join((w.transcript or "").strip() for w in words)
        self._state.caller_turns += 1
        turn = self._state.caller_turns
        history = list(self._state.transcript)
        self._state.transcript.append(Utterance(speaker="caller", text=caller_text))

        if phrase := emergency_in(self._context.business, caller_text):
            # The safety net: no LLM needed to know that "I smell gas" goes to a person.
            said = "That sounds like an emergency. I'm getting someone on the line for you right now."
            await self._say(said, f"turn-{turn}/emergency")
            self._record_turn(turn, caller_text, said, None, "safety_net", False, [])
            self._state.transcript.append(Utterance(speaker="agent", text=said))
            await self._escalate(f"emergency: {phrase}", emergency=True)
            return

        rounds: list[ToolRound] = []
        spoken: list[str] = []
        first = None
        for round_index in range(MAX_TOOL_ROUNDS + 1):
            request = ReplyRequest(
                call_control_id=self._state.call_control_id,
                workflow_id=workflow.info().workflow_id,
                turn_index=turn,
                round_index=round_index,
                caller_text=caller_text,
                history=history,
                rounds=rounds,
                business=self._context.business,
                brain=self._context.brain,
                channel=self._channel,
                now=workflow.now(),
                caller_words_received_at=words[-1].received_at,
            )
            result = await self._reply_with_fallback(request)
            if result is None:
                break
            first = first or result
            if result.text:
                spoken.append(result.text)
            if result.interrupted or not result.tool_calls or round_index == MAX_TOOL_ROUNDS:
                break
            results = [await self._run_tool(call, f"turn-{turn}/round-{round_index}/tool-{k}", k) for k, call in enumerate(result.tool_calls)]
            rounds.append(ToolRound(said=result.text, calls=result.tool_calls, results=results))
            if self._requested_escalation or self._ending:
                break
        agent_text = " ".join(spoken)
        self._state.transcript.append(Utterance(speaker="agent", text=agent_text, interrupted=bool(first and first.interrupted)))
        if not (first and first.turn_recorded):
            self._record_turn(
                turn,
                caller_text,
                agent_text,
                first.first_speak_latency_ms if first else None,
                first.brain if first else "none",
                bool(first and first.interrupted),
                [c.model_dump() | {"result": r} for rnd in rounds for c, r in zip(rnd.calls, rnd.results, strict=True)],
            )
        if self._requested_escalation:
            reason, emergency = self._requested_escalation
            self._requested_escalation = None
            await self._escalate(reason, emergency=emergency)
        elif self._llm_failed_turns >= LLM_FAILED_TURNS_BEFORE_ESCALATION:
            self._llm_failed_turns = 0
            await self._escalate("the assistant is unavailable", emergency=False)

    async def _reply_with_fallback(self, request: ReplyRequest) -> ReplyResult | None:
        if request.brain == "llm":
            result = await self._reply(request, LLM_REPLY_RETRY, timedelta(seconds=self._context.turn_deadline_seconds))
            if result is not None:
                if request.round_index == 0:
                    self._llm_failed_turns = 0
                return result
            if self._barge_in or self._hangup is not None:
                return None
            if request.round_index == 0:
                self._llm_failed_turns += 1
            await self._climb_ladder("offline")
            request = request.model_copy(update={"brain": "offline"})
        return await self._reply(request, OFFLINE_REPLY_RETRY, None)

    async def _reply(self, request: ReplyRequest, retry_policy, deadline: timedelta | None) -> ReplyResult | None:  # noqa: ANN001
        """Runs one reply; a barge-in or hang-up cancels it. None when it produced nothing."""
        self._reply_running = True
        reply = workflow.start_activity_method(
            CallerReplies.reply_to_caller,
            request,
            start_to_close_timeout=REPLY_ATTEMPT_LIMIT,
            schedule_to_close_timeout=deadline,
            heartbeat_timeout=REPLY_HEARTBEAT,
            retry_policy=retry_policy,
            # Wait for the activity to stop, so its last words are known and nothing follows the stop.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
        try:
            await workflow.wait_condition(lambda: reply.done() or self._barge_in or self._hangup is not None)
            if not reply.done():
                reply.cancel()
            result = await reply
        except (ActivityError, CancelledError, asyncio.CancelledError) as error:
            if isinstance(error, ActivityError) and not isinstance(error.cause, CancelledError):
                await self._record_error(f"reply.{request.brain}", error)
            return None
        finally:
            self._reply_running = False
        self._speeches_sent += result.sentences_spoken if self._channel == "phone" else 0
        if self._channel == "web":
            self._web_outbox.append(result.text)
        self._tokens[0] += result.prompt_tokens
        self._tokens[1] += result.completion_tokens
        if result.call_ended:
            self._note_call_ended()
        return result

    # --- helpers ---------------------------------------------------------------------------------

    def _next(self, counter: str) -> int:
        self._counters[counter] = self._counters.get(counter, 0) + 1
        return self._counters[counter]

    async def _say(self, text: str, step: str) -> None:
        if self._channel == "web":
            self._web_outbox.append(text)
            if step == "greeting":
                self._state.transcript.append(Utterance(speaker="agent", text=text))
            return
        business = self._context.business
        self._speeches_sent += 1
        await self._command(
            TelnyxCommands.speak,
            SpeakCommand(**self._call_command(step).model_dump(), text=text, voice=business.voice, language=business.language),
        )
        if step == "greeting":
            self._state.transcript.append(Utterance(speaker="agent", text=text))

    async def _stop_speaking(self) -> None:
        self._barge_in = False
        # Telnyx drops the queued sentences with the playing one: nothing of ours is playing now.
        self._speeches_ended = self._speeches_sent
        await self._command(TelnyxCommands.stop_speaking, self._call_command(f"stop-{self._next('stop')}"))

    async def _hang_up(self, step: str) -> None:
        if self._channel == "web":
            self._note_call_ended()
            return
        # Let the goodbye be heard: hanging up cuts off whatever is still playing.
        await wait_until(
            lambda: self._speeches_ended >= self._speeches_sent or self._hangup is not None, WAIT_FOR_SPEECH_TO_FINISH
        )
        await self._command(TelnyxCommands.hang_up, self._call_command(f"hangup-{step}"))
        await wait_until(lambda: self._hangup is not None, WAIT_FOR_HANGUP)

    async def _climb_ladder(self, level: str) -> None:
        order = ("llm", "offline", "escalation", "callback_promise")
        if order.index(level) <= order.index(self._state.fallback_level):
            return
        self._state.fallback_level = level
        workflow.upsert_search_attributes([FALLBACK_SEARCH_ATTRIBUTE.value_set(level)])
        await workflow.execute_activity_method(
            FollowUps.set_fallback_level, args=[self._state.call_control_id, level], **RECORD_KEEPING
        )

    def _record_turn(self, turn: int, caller_text: str, agent_text: str, latency: float | None, brain: str, interrupted: bool, tools: list[dict]) -> None:
        # Not awaited: the next caller turn need not wait for the database.
        self._records.append(
            workflow.start_activity_method(
                CallRecords.record_turn,
                TurnRecord(
                    call_id=self._state.call_control_id,
                    turn_index=turn,
                    caller_text=caller_text,
                    agent_text=agent_text,
                    reply_latency_ms=latency,
                    brain=brain,
                    interrupted=interrupted,
                    tool_calls=tools,
                ),
                **RECORD_KEEPING,
            )
        )

    async def _finish(self, status: str, *, outcome: str) -> CallSummary:
        self._state.status = status
        self._state.outcome = outcome
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        await asyncio.gather(*self._records)
        await workflow.execute_activity_method(
            CallRecords.close_call,
            CallClosing(
                call_control_id=self._state.call_control_id,
                status=status,
                hangup_cause=self._hangup.hangup_cause if self._hangup else None,
                ended_at=workflow.now(),
                outcome=outcome,
                fallback_level=self._state.fallback_level,
                llm_prompt_tokens=self._tokens[0],
                llm_completion_tokens=self._tokens[1],
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
            outcome=self._state.outcome,
            fallback_level=self._state.fallback_level,
        )

    async def _set_status(self, status: str) -> None:
        self._state.status = status
        workflow.upsert_search_attributes([STATUS_SEARCH_ATTRIBUTE.value_set(status)])
        await workflow.execute_activity_method(
            CallRecords.mark_call_status, args=[self._state.call_control_id, status], **RECORD_KEEPING
        )

    def _call_command(self, step: str) -> CallCommand:
        return CallCommand(call_control_id=self._state.call_control_id, command_id=f"{workflow.info().workflow_id}/{step}")

    async def _command(self, activity_method, command) -> CommandResult:  # noqa: ANN001
        if self._channel == "web":
            return CommandResult()  # no phone line: answering, listening and stopping are the browser's
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
        cause = error.cause or error
        await workflow.execute_activity_method(
            CallRecords.record_error,
            ErrorRecord(
                key=f"{workflow.info().workflow_id}/error-{self._next('error')}",
                call_control_id=self._state.call_control_id,
                source=source,
                message=str(cause),
                context={
                    "turn": self._state.caller_turns,
                    "status": self._state.status,
                    "fallback_level": self._state.fallback_level,
                    "error_type": getattr(cause, "type", None) or type(cause).__name__,
                },
            ),
            **RECORD_KEEPING,
        )
