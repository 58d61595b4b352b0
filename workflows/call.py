"""`CallWorkflow`: one phone call, from the first webhook to the record of its end.

Webhooks arrive as `telnyx_event` signals, at least once and in any order; the signal handler
only files them in the call's `CallProgress`, and the run loop decides. Every decision that
touches the outside world is an activity with a deterministic command id or idempotency key, so
a crashed worker's call goes on elsewhere with nothing said or booked twice.

The call is small on purpose; its parts receive the call's progress and its channel:
`call_channel` (a phone line or a browser), `caller_turn` (the brain and its tools, `call_tools`),
`call_escalation` (a person, then a call-back promise, `call_callbacks`), `call_bookkeeping`;
`realtime_handover` sends a Realtime-mode line's Telnyx call on to OpenAI's SIP endpoint.
A long call continues as new between two turns, carrying its progress (`call_continuation`).

The fallback ladder of a call: the LLM (3 attempts within the turn deadline), then the
offline responder, then a person (escalation), then a promised call-back and a goodbye.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.business_directory import BusinessDirectory
    from activities.call_records import CallContext, CallOpening, CallRecords
    from activities.caller_reply import HeardWords
    from activities.realtime_calls import (
        REALTIME_TOOL_UPDATE,
        REALTIME_WORDS_SIGNAL,
        RealtimeCalls,
        RealtimeFunctionCall,
        RealtimeLine,
        RealtimeToolReply,
        RealtimeWords,
    )
    from domain.vocabulary import (
        Brain,
        BusinessKnowledge,
        CallbackCallOutcome,
        CallOutcome,
        CallStatus,
        Channel,
        Direction,
        FallbackLevel,
        PhoneMode,
        RecordingPlan,
        Speaker,
        Utterance,
    )
    from receptionist.unasked_words import (
        CALLING_AS_ASKED,
        OUR_USUAL_NUMBER,
        RETURNING_ABOUT,
        RETURNING_YOUR_CALL,
        SILENCE_GOODBYE,
        VOICEMAIL,
        words_in,
    )
    from runtime.search_attributes import (
        BUSINESS_SEARCH_ATTRIBUTE,
        CALLER_SEARCH_ATTRIBUTE,
        FALLBACK_SEARCH_ATTRIBUTE,
        STATUS_SEARCH_ATTRIBUTE,
    )
    from workflows.call_messages import (
        CALL_WORKFLOW,
        CALLER_SAID_UPDATE,
        OPENING_WORDS_UPDATE,
        TELNYX_EVENT_SIGNAL,
        TELNYX_EVENTS_SIGNAL,
        VISITOR_LEFT_SIGNAL,
        CallEvent,
        CallStart,
        CallState,
        CallSummary,
        WebReply,
        WebWords,
    )
    from workflows.call_options import (
        CALL_CONTEXT,
        RECORD_KEEPING,
        RECORD_WRITE,
        TRANSFERRED_CALL_LIMIT,
        WAIT_FOR_ANSWERED,
        WAIT_FOR_CALL_INITIATED,
        WAIT_FOR_MACHINE_DETECTION,
        WAIT_FOR_OUTBOUND_ANSWER,
        WHILE_THE_CALLER_WAITS,
    )
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_callbacks import Callbacks
from workflows.call_channel import WebChannel, choose_channel
from workflows.call_continuation import CONTINUES_AS_NEW, carry, history_is_long, progress_of
from workflows.call_escalation import Escalation
from workflows.call_language import language_of
from workflows.call_recording import CallRecording
from workflows.call_records import RECORDS_IN_BACKGROUND
from workflows.call_tools import CallTools
from workflows.caller_silence import ONE_SILENCE_TIMER_PATCH, CallerSilence
from workflows.caller_turn import CallerTurns
from workflows.message_for_later import take_message_for_later
from workflows.realtime_handover import answered_by_realtime, hand_to_realtime
from workflows.realtime_sip_call import RealtimeConversation
from workflows.realtime_sip_line import RealtimeSipLine
from workflows.satisfaction_survey import ask_for_rating
from workflows.speculation import SPECULATIVE_REPLIES_PATCH
from workflows.turn_traces import TurnTraces

# Calls recorded before `know_call` wrote the call's row and sorted the call-backs owed to its caller as
# it read the business: `open_call` and `sort_pending_callbacks` after it were two activities and two
# workflow tasks of every call.
CALL_OPENED_WITH_ITS_BUSINESS = "call-opened-with-its-business"


@workflow.defn(name=CALL_WORKFLOW)
class CallWorkflow:
    @workflow.init
    def __init__(self, start: CallStart) -> None:
        progress = progress_of(start)
        books = Bookkeeping(progress)
        # A call OpenAI's Realtime model answers over SIP has a line of its own; every other a phone line or a browser.
        sip_line = RealtimeSipLine(progress, start.sip, books.record_error) if start.sip is not None else None
        channel = sip_line or choose_channel(start, progress, books.record_error)
        callbacks = Callbacks(progress, books, start.carried.callback_refusals if start.carried else None)
        escalation = Escalation(progress, channel, books, callbacks)
        tools = CallTools(progress, books, callbacks)
        self._progress = progress
        self._channel = channel
        self._books = books
        self._callbacks = callbacks
        self._turns = CallerTurns(progress, channel, books, tools, escalation)
        self._sip_line = sip_line
        self._realtime = (
            RealtimeConversation(progress, sip_line, books, tools, escalation, callbacks) if sip_line else None
        )
        self._traces = TurnTraces()
        self._recording = CallRecording(progress, channel)

    # --- what the outside world tells the call -------------------------------------------------

    @workflow.signal(name=TELNYX_EVENT_SIGNAL)
    def telnyx_event(self, event: CallEvent) -> None:
        self._hear(event)

    @workflow.signal(name=TELNYX_EVENTS_SIGNAL)
    def telnyx_events(self, events: list[CallEvent]) -> None:
        """Webhooks the API sent together (api/held_events.py): one signal and one workflow task, not one each."""
        for event in events:
            self._hear(event)

    def _hear(self, event: CallEvent) -> None:
        self._progress.hear(event)
        if event.is_final or event.digit:
            self._traces.heard_words()

    @workflow.signal(name=VISITOR_LEFT_SIGNAL)
    def visitor_left(self) -> None:
        """A web visitor closed the conversation."""
        self._channel.caller_left()

    @workflow.signal(name=REALTIME_WORDS_SIGNAL)
    async def realtime_words(self, words: RealtimeWords) -> None:
        """A finished transcript from a Realtime-SIP call's control channel."""
        if self._realtime is not None:
            await self._realtime.heard(words)

    @workflow.update(name=REALTIME_TOOL_UPDATE)
    async def realtime_tool_call(self, call: RealtimeFunctionCall) -> RealtimeToolReply:
        """A function call the Realtime model made, run as a phone call's tools are; its answer goes back to the model."""
        assert self._realtime is not None  # the validator refused it otherwise
        return await self._realtime.run_tool(call)

    @realtime_tool_call.validator
    def _only_realtime_calls_run_tools(self, call: RealtimeFunctionCall) -> None:
        if self._realtime is None:
            raise ApplicationError("only a Realtime-SIP call runs tools by update", type="NotARealtimeCall")
        if self._progress.opening is None:
            raise ApplicationError("the call is not open yet", type="CallNotOpen")

    @workflow.query
    def state(self) -> CallState:
        # A query reads; it answers with a copy rather than writing into the workflow's state.
        return self._progress.live.model_copy(update={"agent_speaking": self._progress.agent_speaking()})

    @workflow.query
    def newest_interim(self) -> HeardWords | None:
        """The caller's newest interim transcript: what a speculative reply follows (workflows/speculation.py)."""
        interim = self._progress.interim
        if interim is None:
            return None
        return HeardWords(
            event_id=interim.event_id, words=(interim.transcript or "").strip(), received_at=interim.received_at
        )

    @workflow.update(name=OPENING_WORDS_UPDATE)
    async def opening_words(self) -> WebReply:
        """A web conversation's greeting, once the call is under way."""
        web = self._web_channel()
        live = self._progress.live
        await workflow.wait_condition(
            lambda: (live.status != CallStatus.RINGING and bool(live.transcript)) or self._progress.over
        )
        return web.greeting()

    @opening_words.validator
    def _only_web_conversations_open(self) -> None:
        self._web_channel()

    @workflow.update(name=CALLER_SAID_UPDATE)
    async def caller_said(self, words: WebWords) -> WebReply:
        """The browser's words, answered as a phone caller's would be: same brain, tools and ladder."""
        web = self._web_channel()
        sequence = web.hear(words.text, words.sent_at)
        self._traces.heard_words()
        await workflow.wait_condition(lambda: web.answered(sequence) or self._progress.over)
        return web.reply_to(sequence)

    @caller_said.validator
    def _only_web_conversations_type(self, words: WebWords) -> None:
        self._web_channel()
        if self._progress.over or self._progress.ending:
            raise ApplicationError("this conversation has ended", type="ConversationEnded")

    def _web_channel(self) -> WebChannel:
        if not isinstance(self._channel, WebChannel):
            raise ApplicationError("only a web conversation takes words by update", type="NotAWebConversation")
        return self._channel

    # --- the call --------------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: CallStart) -> CallSummary:
        progress = self._progress
        if start.carried is not None:
            # A long call's next run: the conversation goes on where the run before left it (and
            # keeps its records as the first run chose to).
            return await self._go_on(start)
        progress.records_in_background = patched(RECORDS_IN_BACKGROUND)
        self._channel.connect()
        if self._sip_line is not None:
            return await self._answer_realtime(self._sip_line)
        await wait_until(lambda: progress.initiated is not None or progress.over, WAIT_FOR_CALL_INITIATED)
        if progress.initiated is None:
            # A stray event for a call we never saw start, or a hang-up before it rang: nothing to answer.
            return self._books.summary(CallStatus.NEVER_STARTED)
        await self._open_call(progress.initiated)
        if progress.initiated.direction == Direction.OUTGOING:
            return await self._return_call(start)
        if answered_by_realtime(progress, self._channel.kind) and await hand_to_realtime(progress, self._books):
            # OpenAI's Realtime model has the caller; that call's own workflow records the conversation.
            return await self._books.finish(CallStatus.ENDED, outcome=CallOutcome.HANDED_TO_REALTIME)

        answered_in_time = await self._channel.answer() and await wait_until(
            lambda: progress.answered or progress.over, WAIT_FOR_ANSWERED
        )
        if not answered_in_time:
            return await self._books.finish(CallStatus.MISSED, outcome=CallOutcome.ABANDONED)
        if not progress.over:
            await self._begin_conversation(
                self._turns.language.greeting(self._callbacks.greeting(progress.context.opening_words))
            )
            if progress.context.knowledge == BusinessKnowledge.UNKNOWN:
                await take_message_for_later(progress, self._channel, self._books, self._callbacks)
            else:
                await self._converse(start)
        return await self._ended()

    async def _answer_realtime(self, line: RealtimeSipLine) -> CallSummary:
        """A call OpenAI's SIP endpoint announced: accepted if it reached a line in Realtime mode, else declined."""
        progress = self._progress
        initiated = progress.initiated
        assert initiated is not None and self._realtime is not None  # connect() set it
        try:
            found: RealtimeLine = await workflow.execute_activity_method(
                RealtimeCalls.find_realtime_line, initiated.dialed_number, **CALL_CONTEXT
            )
        except ActivityError as error:
            # Which line this is cannot be known: declined (Telnyx sends the caller on per the SIP answer).
            workflow.logger.warning("Realtime call declined: its line could not be read: %s", error)
            found = RealtimeLine(business_id=None)
        if found.business_id is None or found.phone_mode != PhoneMode.REALTIME_SIP:
            # An unknown number, or a line Telnyx speech answers: OpenAI's endpoint is not where it is answered.
            workflow.logger.warning("Realtime call to %s declined: no line in Realtime mode", initiated.dialed_number)
            await line.reject()
            return self._books.summary(CallStatus.NEVER_STARTED)
        progress.web_business_id = found.business_id  # the business is known: the call opens with it
        await self._open_call(initiated)
        progress.live.brain = Brain.REALTIME
        if not await line.answer():
            return await self._books.finish(CallStatus.MISSED, outcome=CallOutcome.ABANDONED)
        await self._books.set_status(CallStatus.IN_PROGRESS)
        greeting = self._turns.language.greeting(self._callbacks.greeting(progress.context.opening_words))
        await self._realtime.converse(greeting)
        return await self._ended()

    async def _go_on(self, start: CallStart) -> CallSummary:
        await self._converse(start)
        initiated = self._progress.initiated
        if initiated is not None and initiated.direction == Direction.OUTGOING:
            return await self._report(CallbackCallOutcome.ANSWERED, CallStatus.ENDED, self._outcome())
        return await self._ended()

    async def _ended(self) -> CallSummary:
        """An answered call's end: its record closed, then its caller asked for a rating if the business asks."""
        summary = await self._books.finish(CallStatus.ENDED, outcome=self._outcome())
        await ask_for_rating(self._progress, summary.status)
        return summary

    async def _open_call(self, initiated: CallEvent) -> None:
        progress = self._progress
        live = progress.live
        live.caller_number = initiated.caller_number
        live.dialed_number = initiated.dialed_number
        callback = initiated.callback
        opening = CallOpening(
            call_control_id=progress.call_control_id,
            workflow_id=workflow.info().workflow_id,
            caller_number=initiated.caller_number,
            dialed_number=initiated.dialed_number,
            direction=initiated.direction or Direction.INCOMING,
            started_at=workflow.now(),
            callback_id=callback.callback_id if callback else None,
            callback_workflow_id=callback.callback_workflow_id if callback else None,
            business_id=progress.web_business_id,
        )
        if progress.records_in_background:
            # The worker's memory of the business if the database is slow; the call's row in the background.
            opening.writes_call_row = opening.sorts_owed_callbacks = patched(CALL_OPENED_WITH_ITS_BUSINESS)
            context = await workflow.execute_activity_method(BusinessDirectory.know_call, opening, **CALL_CONTEXT)
            if not context.call_row_written:
                self._books.keep("call's row", lambda: self._write_opening(opening))
        else:
            context = await workflow.execute_activity_method(CallRecords.open_call, opening, **RECORD_KEEPING)
        progress.opening = context
        live.business_id = context.business_id
        live.business_name = context.business.name
        live.brain = Brain(context.brain)
        live.status = CallStatus.ANSWERING
        workflow.upsert_search_attributes(
            [
                BUSINESS_SEARCH_ATTRIBUTE.value_set(str(context.business_id)),
                CALLER_SEARCH_ATTRIBUTE.value_set(progress.other_party() or "unknown"),
                STATUS_SEARCH_ATTRIBUTE.value_set(CallStatus.ANSWERING),
                FALLBACK_SEARCH_ATTRIBUTE.value_set(FallbackLevel.LLM),
            ]
        )
        if not (initiated.direction == Direction.INCOMING and initiated.caller_number):
            return
        if not progress.records_in_background:
            await self._callbacks.keep_pending(initiated.caller_number)
        elif context.owed is not None:
            await self._callbacks.keep_sorted(context.owed)
        elif context.knowledge == BusinessKnowledge.DATABASE:
            try:
                await self._callbacks.keep_pending(initiated.caller_number, WHILE_THE_CALLER_WAITS)
            except ActivityError as error:
                # The call-backs owed stay owed and are made; the caller is answered now.
                workflow.logger.warning("call-backs owed to the caller not read: %s", error)

    async def _write_opening(self, opening: CallOpening) -> None:
        recorded: CallContext = await workflow.execute_activity_method(CallRecords.open_call, opening, **RECORD_WRITE)
        if self._progress.context.knowledge == BusinessKnowledge.UNKNOWN:
            self._progress.opening = recorded  # the database answers again: the call knows its business now

    async def _begin_conversation(self, opening_words: str) -> None:
        await self._books.set_status(CallStatus.IN_PROGRESS)
        plan = self._recording.plan()
        if plan == RecordingPlan.ASK_CONSENT:
            await asyncio.gather(self._greet(self._recording.consent_question()), self._channel.listen())
            answer = await self._recording.ask_consent()
            if answer and not self._progress.over:
                # A caller who spoke of something else is answered next, rather than greeted.
                words = answer if self._progress.caller_words else f"{answer} {opening_words}"
                await self._greet(words, "greeting-after-consent")
        elif plan == RecordingPlan.ANNOUNCED:
            await asyncio.gather(
                self._greet(self._recording.announced(opening_words)), self._channel.listen(), self._recording.start()
            )
        else:
            await asyncio.gather(self._greet(opening_words), self._channel.listen())

    async def _greet(self, opening_words: str, step: str = "greeting") -> None:
        await self._channel.greet(opening_words, step)
        self._progress.live.transcript.append(Utterance(speaker=Speaker.AGENT, text=opening_words))

    async def _converse(self, start: CallStart) -> None:
        progress = self._progress
        # On a phone line, a stable interim transcript starts the reply early (workflows/speculation.py).
        speculations = self._turns.speculations
        speculating = self._channel.kind == Channel.PHONE and patched(SPECULATIVE_REPLIES_PATCH)
        silence = CallerSilence(patched(ONE_SILENCE_TIMER_PATCH))
        while not progress.over and not progress.ending:
            if self._channel.kind == Channel.PHONE and history_is_long(start.history_event_limit):
                await speculations.cancel()
                silence.stop()
                self._turns.settle_playback(as_heard=True)
                await self._continue_as_new(start)
            if progress.transferred:
                await speculations.cancel()
                silence.stop()
                self._turns.settle_playback(as_heard=True)
                await wait_until(lambda: progress.over, TRANSFERRED_CALL_LIMIT)
                return
            caller_spoke = await silence.wait(
                lambda: (
                    bool(progress.caller_words)
                    or progress.barge_in
                    or progress.over
                    or progress.held_answer_due()
                    or (speculating and speculations.wanted())
                ),
            )
            if progress.held_answer_due():
                progress.answer_held_backchannel()
            if not caller_spoke:
                await self._channel.say(words_in(SILENCE_GOODBYE, language_of(progress)), "silence")
                progress.ending = True
                break
            if progress.over:
                break
            if progress.barge_in and not progress.caller_words:
                await self._turns.stop_speaking()
            if progress.caller_words:
                self._channel.begin_turn()
                with self._traces.caller_turn(progress.live.caller_turns + 1):
                    await self._turns.answer()
                self._channel.end_turn()
                await self._callbacks.hear_answer(progress.live.transcript)
            elif speculating and speculations.wanted():
                await speculations.consider()
            silence.heard_from()
        await speculations.cancel()
        silence.stop()
        if progress.ending and not progress.over:
            await self._channel.hang_up("goodbye")  # once the goodbye is heard to its end
        self._channel.end_conversation()

    async def _continue_as_new(self, start: CallStart) -> None:
        """Between two turns: the next run takes the call on (`workflows.call_continuation`)."""
        if not patched(CONTINUES_AS_NEW):
            return
        progress = self._progress
        if progress.unwritten:
            # Kept records are this run's to write: while the database is down the call goes on in
            # this run (the caller never waits for it), and continues as new at a turn after.
            return
        # The run's record writes land before it ends, and no handler is cut off mid-way.
        await self._books.all_written()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(start.model_copy(update={"carried": carry(progress, self._callbacks.refusals)}))

    async def _return_call(self, start: CallStart) -> CallSummary:
        """An outbound call dialled by a `CallbackWorkflow`: talk if a person answers, leave a message if a machine
        does (unless the browser demo's visitor asked for the call: then hang up, saying nothing)."""
        progress = self._progress
        progress.live.status = CallStatus.DIALING
        await wait_until(lambda: progress.answered or progress.over, WAIT_FOR_OUTBOUND_ANSWER)
        if not progress.answered:
            return await self._report(CallbackCallOutcome.NO_ANSWER, CallStatus.MISSED, CallOutcome.NO_ANSWER)
        await wait_until(lambda: progress.machine_detection is not None or progress.over, WAIT_FOR_MACHINE_DETECTION)
        business = progress.context.business
        language = language_of(progress)
        dialled_for = progress.initiated.callback if progress.initiated else None
        asked_online = bool(dialled_for and dialled_for.asked_online)
        if progress.machine_detection == "machine" and asked_online:
            # The visitor asked on the web page a moment ago: a message on their machine would be noise.
            await self._books.set_status(CallStatus.VOICEMAIL)
            if not progress.over:
                await self._channel.hang_up("machine-answered")
            return await self._report(CallbackCallOutcome.VOICEMAIL, CallStatus.ENDED, CallOutcome.NO_ANSWER)
        if progress.machine_detection == "machine":
            number = business.phone_number or words_in(OUR_USUAL_NUMBER, language)
            await self._books.set_status(CallStatus.VOICEMAIL)
            await self._channel.say(words_in(VOICEMAIL, language, business=business.name, number=number), "voicemail")
            if not progress.over:
                await self._channel.hang_up("voicemail-done")
            progress.live.outcome = CallOutcome.VOICEMAIL
            return await self._report(CallbackCallOutcome.VOICEMAIL, CallStatus.ENDED, CallOutcome.VOICEMAIL)
        if asked_online:
            await self._begin_conversation(words_in(CALLING_AS_ASKED, language, business=business.name))
        else:
            callback = progress.context.callback
            reason = callback.reason.rstrip(" .!?") if callback and callback.reason else ""
            about = words_in(RETURNING_ABOUT, language, reason=reason) if reason else ""
            await self._begin_conversation(words_in(RETURNING_YOUR_CALL, language, business=business.name, about=about))
        await self._converse(start)
        return await self._report(CallbackCallOutcome.ANSWERED, CallStatus.ENDED, self._outcome())

    async def _report(self, outcome: CallbackCallOutcome, status: CallStatus, call_outcome: CallOutcome) -> CallSummary:
        summary = await self._books.finish(status, outcome=call_outcome)
        await self._callbacks.report(outcome)
        return summary

    def _outcome(self) -> CallOutcome:
        outcome = self._progress.live.outcome
        return CallOutcome(outcome) if outcome else CallOutcome.COMPLETED
