"""One caller turn: what the caller said, answered by the brain in up to four rounds of words and tools.

The safety net hears emergencies first. The LLM answers within the turn deadline (3 attempts);
when it fails, the offline responder answers instead. The ladder climbs to a person when the
caller's need is not met: two turns in a row that no brain answered or the offline responder
did not understand (a failing LLM alone is no reason: the offline responder answers its turns),
a request for a person, an emergency. A barge-in or hang-up cancels the reply that is speaking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.workflow import ActivityCancellationType

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.caller_reply import (
        CallerReplies,
        ReplyRequest,
        ReplyResult,
        Speculation,
        reply_step,
    )
    from domain.vocabulary import Brain, Channel, FallbackLevel, Speaker, Utterance
    from receptionist.emergencies import emergency_in
    from receptionist.emergency_lexicons import emergency_heard
    from receptionist.tools import ToolRound
    from receptionist.turn_taking import PERSON_KEY
    from receptionist.unasked_words import FILLER, words_in
    from workflows.call_options import (
        CALLER_SILENCE_LIMIT,
        LLM_FAILED_TURNS_BEFORE_ESCALATION,
        LLM_REPLY_RETRY,
        MAX_TOOL_ROUNDS,
        OFFLINE_REPLY_RETRY,
        REPLY_ATTEMPT_LIMIT,
        REPLY_HEARTBEAT,
        UNMET_TURNS_BEFORE_ESCALATION,
    )
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_channel import CallChannel
from workflows.call_escalation import Escalation
from workflows.call_language import CallLanguage
from workflows.call_progress import CallProgress
from workflows.call_tools import CallTools
from workflows.playing_replies import PlayingReply, follow, follow_playback
from workflows.speculation import Speculations

# Calls recorded before it gave a 0 on the keypad to the brain like any words.
PERSON_KEY_PATCH = "keypad-zero-reaches-a-person"
# Calls recorded before it heard emergencies with the per-trade lexicons, kept no offline
# conversation state, and climbed to a person after two turns the LLM failed, however well the
# offline responder answered them.
UNMET_NEEDS_PATCH = "unmet-needs-climb-the-ladder"

# Calls recorded before it left the caller in silence while the LLM or a tool took its time.
FILLERS_PATCH = "fillers-fill-silence"
# Calls recorded before the filler watch started a timer while a reply spoke and while speech played.
QUIET_FILLER_WATCH_PATCH = "filler-watch-without-idle-timers"
# Calls recorded before a phone reply said its own filler and its speech events were counted by the API,
# not signalled, and followed to their end by `hear_reply` (api/reply_windows.py).
REPLIES_FOLLOW_PLAYBACK_PATCH = "replies-follow-their-playback"
# Calls recorded before the caller's next words brought the count of a reply's playback, and `hear_reply`
# followed every reply's speech to its end (workflows/playing_replies.py).
REPLIES_HEARD_WITH_CALLER_PATCH = "replies-heard-with-the-callers-words"


class CallerTurns:
    def __init__(
        self,
        progress: CallProgress,
        channel: CallChannel,
        books: Bookkeeping,
        tools: CallTools,
        escalation: Escalation,
    ) -> None:
        self._progress = progress
        self._channel = channel
        self._books = books
        self._tools = tools
        self._escalation = escalation
        self.language = CallLanguage(progress, channel)
        self.speculations = Speculations(progress, self._speculative_request, lambda: self.language.current)
        self._follows_playback = False  # decided at each turn (REPLIES_FOLLOW_PLAYBACK_PATCH)
        self.filler_said = False  # this turn's filler, said by the watch (a reply then says none)

    async def stop_speaking(self) -> None:
        self.settle_playback()
        self._progress.barge_in = False
        # Telnyx drops the queued sentences with the playing one: nothing of ours is playing now.
        self._progress.speeches_ended = self._progress.speeches_sent
        await self._channel.stop()

    def _request(self, turn: int, caller_text: str, history: list[Utterance], received_at: float) -> ReplyRequest:
        progress = self._progress
        return ReplyRequest(
            call_control_id=progress.call_control_id,
            workflow_id=workflow.info().workflow_id,
            turn_index=turn,
            caller_text=caller_text,
            history=history,
            business=progress.context.business,
            brain=progress.context.brain,
            channel=self._channel.kind,
            now=workflow.now(),
            caller_words_received_at=received_at,
            returning=progress.context.returning,
            language=self.language.current,
            # Set only on calls that keep it (UNMET_NEEDS_PATCH): None otherwise, read from the history.
            conversation=progress.conversation,
            follows_playback=self._follows_playback,
            filler_said=self.filler_said,
        )

    def _speculative_request(self, caller_text: str, received_at: float) -> ReplyRequest:
        """The next turn's first request, for words the caller may still be saying."""
        progress = self._progress
        return self._request(progress.live.caller_turns + 1, caller_text, list(progress.live.transcript), received_at)

    async def answer(self) -> None:
        """Answers all the caller has said since the last turn."""
        progress = self._progress
        fills_silence = self._channel.kind == Channel.PHONE and patched(FILLERS_PATCH)
        self._follows_playback = self._channel.kind == Channel.PHONE and patched(REPLIES_FOLLOW_PLAYBACK_PATCH)
        progress.awaiting_reply = True
        self.filler_said = False
        try:
            if fills_silence:
                await self._answer_filling_silence()
            else:
                await self._answer()
        finally:
            progress.awaiting_reply = False
            progress.llm_given_up = False

    async def _answer_filling_silence(self) -> None:
        """The turn, with a watch that says the filler once when the caller would wait too long."""
        finished = False
        watch = asyncio.create_task(self._fill_silence(self._progress.live.caller_turns + 1, lambda: finished))
        try:
            await self._answer()
        finally:
            finished = True
            await watch

    async def _fill_silence(self, turn: int, finished: Callable[[], bool]) -> None:
        """Says the business's filler once if the line stays quiet for `filler_after_ms` while the caller waits
        for the turn's first words (a slow LLM) or for a tool. If the LLM has still said nothing half as long after
        the filler, the offline responder answers instead. The filler's command id is the turn's, and the
        decision is in the history: said once, even on a retry or a replay."""
        progress = self._progress
        timing = progress.context.business.reply_timing
        quiet_limit = timedelta(milliseconds=timing.filler_after_ms)
        started_before = progress.speeches_started
        said_filler = False

        def interrupted() -> bool:
            return finished() or progress.barge_in or progress.over

        def playing() -> bool:
            return progress.speeches_started > progress.speeches_ended

        def reply_said_nothing() -> bool:
            return progress.speeches_started - started_before <= int(said_filler)

        def reply_fills_silence() -> bool:
            """A reply that follows its playback says the filler itself (`_reply` counts it)."""
            return self._follows_playback and progress.reply_running

        # Without a timer where none can fire a decision (calls recorded before it started two more a turn).
        untimed = patched(QUIET_FILLER_WATCH_PATCH)
        while not interrupted():
            if reply_fills_silence():
                await workflow.wait_condition(lambda: not progress.reply_running or interrupted())
                continue
            if untimed and progress.reply_running and not reply_said_nothing():
                # A reply that has begun speaking is going on: no filler cuts in, nor is the LLM given up,
                # however long it pauses; the watch times the quiet again once it stops (a tool may run).
                if said_filler:
                    return
                await workflow.wait_condition(lambda: not progress.reply_running or interrupted())
                continue
            if playing():
                if untimed:
                    # The turn's end (`finished`) bounds this wait: no timer of its own.
                    await workflow.wait_condition(lambda: not playing() or interrupted())
                else:
                    await wait_until(lambda: not playing() or interrupted(), CALLER_SILENCE_LIMIT)
            # After the filler, half as long: the offline responder's answer takes a moment to begin too.
            limit = quiet_limit / 2 if said_filler else quiet_limit
            if interrupted() or await wait_until(lambda: playing() or interrupted() or reply_fills_silence(), limit):
                continue
            # A reply that has begun speaking is going on (a worker taking over mid-reply): no filler cuts in.
            waiting_for_words = reply_said_nothing() or not progress.reply_running
            if not said_filler and waiting_for_words:
                said_filler = self.filler_said = True
                progress.fillers += 1
                await self._channel.say(self._filler(timing.filler), f"turn-{turn}/filler")
                # It is heard (or dropped) before the next quiet is timed.
                await wait_until(lambda: playing() or interrupted() or reply_fills_silence(), quiet_limit)
            elif said_filler and (progress.reply_running or self.speculations.waiting) and reply_said_nothing():
                progress.llm_given_up = True  # only an LLM reply gives up (`_reply`)
                return
            elif said_filler:
                return

    def _filler(self, configured: str) -> str:
        """The business's own filler as it wrote it; ours in the call's language."""
        return words_in(FILLER, self.language.current) if configured == FILLER["en"] else configured

    async def _answer(self) -> None:
        progress = self._progress
        words = progress.take_caller_words()
        if progress.barge_in:
            await self.stop_speaking()
        caller_text = " ".join((w.transcript or "").strip() for w in words)
        progress.live.caller_turns += 1
        turn = progress.live.caller_turns
        history = list(progress.live.transcript)
        progress.live.transcript.append(Utterance(speaker=Speaker.CALLER, text=caller_text))

        if any(w.digit == PERSON_KEY for w in words) and patched(PERSON_KEY_PATCH):
            # 0 always reaches a person, whatever else was said: no brain needed to understand it.
            said = self.language.safety_net_words("person", "Of course. I'm connecting you with a person now.")
            await self._hand_to_a_person(turn, caller_text, said, "person-key", "the caller pressed 0 for a person")
            return
        words, confirmation = await self.language.choose(words, caller_text)
        if confirmation is not None:
            # Only a language key: the brain has nothing to answer; the caller hears the choice taken.
            await self._say_unasked(turn, caller_text, confirmation, "language-key")
            return
        caller_text = " ".join((w.transcript or "").strip() for w in words)  # without a language key
        understood_callers = patched(UNMET_NEEDS_PATCH)
        hear_emergency = emergency_heard if understood_callers else emergency_in
        if phrase := hear_emergency(progress.context.business, caller_text) or self.language.emergency_in(caller_text):
            # The safety net: no LLM needed to know that "I smell gas" goes to a person.
            said = self.language.safety_net_words(
                "emergency", "That sounds like an emergency. I'm getting someone on the line for you right now."
            )
            await self._hand_to_a_person(turn, caller_text, said, "emergency", f"emergency: {phrase}", emergency=True)
            return

        speculation: Speculation | None = None
        if Brain(progress.context.brain) is Brain.LLM:
            deadline = timedelta(seconds=progress.context.turn_deadline_seconds)
            speculation = await self.speculations.take(caller_text, deadline)
        else:
            await self.speculations.cancel()
        rounds: list[ToolRound] = []
        spoken: list[str] = []
        first: ReplyResult | None = None
        for round_index in range(MAX_TOOL_ROUNDS + 1):
            request = self._request(turn, caller_text, history, words[-1].received_at).model_copy(
                update={"round_index": round_index, "rounds": list(rounds)}
            )
            if speculation is not None and round_index == 0:
                # The final transcript says what the speculation answered: its sentences are spoken at once.
                request = request.model_copy(update={"prepared": speculation.sentences})
            result = await self._reply_with_fallback(request)
            if result is None:
                break
            first = first or result
            if understood_callers and result.conversation is not None:
                progress.conversation = result.conversation
            if result.text:
                spoken.append(result.text)
            if result.interrupted or not result.tool_calls or round_index == MAX_TOOL_ROUNDS:
                break
            results = [
                await self._tools.run(call, f"turn-{turn}/round-{round_index}/tool-{k}", k)
                for k, call in enumerate(result.tool_calls)
            ]
            rounds.append(ToolRound(said=result.text, calls=result.tool_calls, results=results))
            if progress.requested_escalation or progress.ending:
                break
        agent_text = " ".join(spoken)
        interrupted = bool(first and first.interrupted)
        progress.live.transcript.append(Utterance(speaker=Speaker.AGENT, text=agent_text, interrupted=interrupted))
        if not (first and first.turn_recorded):
            self._books.record_turn(
                turn,
                caller_text,
                agent_text,
                latency=first.first_speak_latency_ms if first else None,
                brain=Brain(first.brain) if first else Brain.NONE,
                interrupted=interrupted,
                tools=[
                    c.model_dump() | {"result": r}
                    for rnd in rounds
                    for c, r in zip(rnd.calls, rnd.results, strict=True)
                ],
            )
        if requested := progress.requested_escalation:
            progress.requested_escalation = None
            await self._escalate(requested.reason, emergency=requested.emergency)
        elif understood_callers:
            if first is None and (progress.over or progress.barge_in):
                pass  # cut off before any answer: the caller's next words are the next turn
            elif not _need_met(first):
                progress.unmet_turns += 1
            else:
                progress.unmet_turns = 0
            if progress.unmet_turns >= UNMET_TURNS_BEFORE_ESCALATION:
                progress.unmet_turns = 0
                await self._escalate("the receptionist could not understand the caller", emergency=False)
        elif progress.llm_failed_turns >= LLM_FAILED_TURNS_BEFORE_ESCALATION:
            progress.llm_failed_turns = 0
            await self._escalate("the assistant is unavailable", emergency=False)

    async def _hand_to_a_person(
        self, turn: int, caller_text: str, said: str, step: str, reason: str, *, emergency: bool = False
    ) -> None:
        """Says `said` and climbs to a person, the brain unasked: the safety net's and the keypad's way."""
        await self._say_unasked(turn, caller_text, said, step)
        await self._escalate(reason, emergency=emergency)

    async def _say_unasked(self, turn: int, caller_text: str, said: str, step: str) -> None:
        """Answers the turn with `said`, the brain unasked."""
        await self._channel.say(said, f"turn-{turn}/{step}")
        self._books.record_turn(
            turn, caller_text, said, latency=None, brain=Brain.SAFETY_NET, interrupted=False, tools=[]
        )
        self._progress.live.transcript.append(Utterance(speaker=Speaker.AGENT, text=said))

    async def _escalate(self, reason: str, *, emergency: bool) -> None:
        """The caller is put on hold for a person: its hold messages, not a reply, are what they wait for,
        and the silences of a call (`longest_silence_ms`) are those spent waiting for the receptionist."""
        self._progress.awaiting_reply = False
        self._progress.silence_since = None
        self.follow_playback()  # the person's call waits for our speech; the caller's words are not awaited
        await self._escalation.escalate(reason, emergency=emergency)

    async def _reply_with_fallback(self, request: ReplyRequest) -> ReplyResult | None:
        progress = self._progress
        if Brain(request.brain) is Brain.LLM:
            deadline = timedelta(seconds=progress.context.turn_deadline_seconds)
            # A turn whose LLM was given up (the caller waited out the filler too) asks it no more.
            result = None if progress.llm_given_up else await self._reply(request, LLM_REPLY_RETRY, deadline)
            if result is not None:
                if request.round_index == 0:
                    progress.llm_failed_turns = 0
                return result
            if progress.barge_in or progress.over:
                return None
            if request.round_index == 0:
                progress.llm_failed_turns += 1
            await self._books.climb_ladder(FallbackLevel.OFFLINE)
            request = request.model_copy(update={"brain": Brain.OFFLINE, "llm_given_up": progress.llm_given_up})
        return await self._reply(request, OFFLINE_REPLY_RETRY, None)

    async def _reply(
        self, request: ReplyRequest, retry_policy: RetryPolicy, deadline: timedelta | None
    ) -> ReplyResult | None:
        """Runs one reply; a barge-in or hang-up cancels it. None when it produced nothing."""
        progress = self._progress
        progress.reply_running = True
        gives_up = Brain(request.brain) is Brain.LLM and request.prepared is None
        ended_before = progress.speeches_ended
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
            await workflow.wait_condition(
                lambda: reply.done() or progress.barge_in or progress.over or (gives_up and progress.llm_given_up)
            )
            if not reply.done():
                reply.cancel()
            result = await reply
        except (ActivityError, CancelledError, asyncio.CancelledError) as error:
            if isinstance(error, ActivityError) and not isinstance(error.cause, CancelledError):
                await self._books.record_error(f"reply.{request.brain}", error)
            return None
        finally:
            progress.reply_running = False
        if request.follows_playback:
            self._count_followed_speech(result)
            if result.hears_playback:
                self._hear_playback(request, result)
            if result.llm_given_up:
                progress.llm_given_up = True
                progress.llm_requests += result.llm_requests
                return None  # the filler was said, and still nothing: the offline responder answers
        if gives_up and progress.llm_given_up and result.interrupted and not result.sentences_spoken:
            progress.llm_requests += result.llm_requests
            return None  # the caller has waited long enough: the offline responder answers (`_reply_with_fallback`)
        if result.interrupted and result.sentences and self._channel.kind == Channel.PHONE:
            # Cut off: the history keeps what the caller heard, not all that was sent. The sentences that
            # ended (call.speak.ended) were heard, and so was a part of the one the caller talked over.
            heard = result.sentences[: max(0, progress.speeches_ended - ended_before - result.fillers) + 1]
            result = result.model_copy(update={"text": " ".join(heard)})
        self._channel.replied(result)
        progress.prompt_tokens += result.prompt_tokens
        progress.completion_tokens += result.completion_tokens
        progress.llm_requests += result.llm_requests
        if result.call_ended:
            progress.note_call_ended()
        return result

    def _hear_playback(self, request: ReplyRequest, result: ReplyResult) -> None:
        """The reply's speech plays on: the caller's next words bring the API's count of it
        (`CallProgress.count_speech`); before REPLIES_HEARD_WITH_CALLER_PATCH, `hear_reply` followed it at once."""
        progress = self._progress
        playing = PlayingReply(
            reply=reply_step(request),
            speeches=result.sentences_spoken + result.fillers,
            started=result.played_started,
            ended=result.played_ended,
        )
        if not patched(REPLIES_HEARD_WITH_CALLER_PATCH):
            progress.playing_replies.append(playing)
            follow(progress, playing)
            return
        progress.play_on(playing)

    def follow_playback(self) -> None:
        """The call climbs to a person: its hold messages and transfers wait for our speech to end."""
        follow_playback(self._progress)

    def settle_playback(self, *, as_heard: bool = False) -> None:
        """Stops following the replies still playing: a barge-in stops their speech (and counts it as heard
        itself, `stop_speaking`); a run that continues as new counts what is left `as_heard`."""
        progress = self._progress
        playing_replies, progress.playing_replies = progress.playing_replies, []
        for playing in playing_replies:
            playing.void = True
            if playing.handle is not None:
                playing.handle.cancel()
            if as_heard:
                progress.count_speech(playing, None)

    def _count_followed_speech(self, result: ReplyResult) -> None:
        """A reply that followed its playback: its filler and the starts and ends of its speech the API counted
        and did not signal, added as the webhooks would have been (`CallProgress.hear`)."""
        progress = self._progress
        progress.fillers += result.fillers
        progress.speeches_sent += result.fillers  # its sentences: `CallChannel.replied`
        progress.speeches_started += result.played_started
        progress.speeches_ended += result.played_ended
        if result.first_started_at is not None:
            progress.speech_began(result.first_started_at)


def _need_met(first: ReplyResult | None) -> bool:
    """A turn some brain answered, and understood: the LLM's, or the offline responder's unless it was lost."""
    if first is None:
        return False
    if first.conversation is None or Brain(first.brain) is not Brain.OFFLINE:
        return True
    return first.conversation.not_understood == 0
