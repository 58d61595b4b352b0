"""One reply of the receptionist: generate it and speak it sentence by sentence as sentences complete.

The reply streams from the LLM (or comes from the offline responder); each finished sentence
goes to Telnyx at once with the command_id `<workflow>/turn-<n>/round-<r>/sentence-<i>`. The
activity heartbeats what it has generated and spoken, so a retry after a crash says only
what is still unsaid, and a barge-in (the workflow cancelling it) stops it between two
sentences and reports what the caller heard. Tool calls are returned to the workflow, which
executes them and asks for the next round of the same turn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal

import openai
import telnyx
from opentelemetry import trace
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.client import WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.call_records import TurnRecord, save_turn
from activities.followed_playback import FollowedPlayback
from activities.llm_circuit import LLMCircuit
from activities.reply_playback import ReplyPlayback
from activities.telnyx_commands import SpeakCommand, send_call_command, speak_sentence
from business.config import BusinessConfig
from business.instructions import build_instructions, build_web_instructions
from business.private_numbers import without_private_numbers
from domain.vocabulary import Brain, Channel, Speaker, Utterance
from receptionist.caller_memory import ReturningCaller, memory_note
from receptionist.caller_mood import (
    LLM_MOOD_NOTE,
    accepted_offer,
    accepts_person_offer,
    escalation_for_upset_caller,
    offer_a_person,
    person_offer,
)
from receptionist.conversation_state import ConversationState
from receptionist.offline_responder import BrainReply, offline_reply
from receptionist.sentences import SentenceSplitter, split_sentences
from receptionist.tools import ToolCall, ToolRound, chat_completion_tools
from receptionist.transcripts import same_words
from receptionist.unasked_words import FILLER, words_in
from runtime import metrics

tracer = trace.get_tracer(__name__)

# How many times a sentence answered 5xx by Telnyx is sent again before the reply fails (and is retried).
SPEAK_RETRIES = 2
# How long a speculative reply asks the call for the caller's newest words before it goes on without.
NEWEST_WORDS_SECONDS = 0.2
# How long a reply that was heard waits to save its turn; longer, and the workflow writes it later.
SAVE_TURN_SECONDS = 3.0

# The brains a reply activity can be asked for; the safety net answers without one.
ReplyBrain = Literal[Brain.LLM, Brain.OFFLINE]


class ReplyRequest(BaseModel):
    call_control_id: str
    workflow_id: str
    turn_index: int
    round_index: int = 0
    caller_text: str
    history: list[Utterance]
    rounds: list[ToolRound] = Field(default_factory=list, description="Earlier tool rounds of this turn")
    business: BusinessConfig
    brain: ReplyBrain
    channel: Channel = Channel.PHONE
    now: datetime = Field(description="Workflow time: what 'today' and 'open now' mean for this reply")
    returning: ReturningCaller | None = Field(default=None, description="The caller's earlier calls, remembered")
    caller_words_received_at: float = Field(description="Unix time the caller's final words reached the API")
    # The language the call is in now (CallState.language): the reply is spoken, and written, in it.
    language: str | None = Field(default=None, description="One of business.languages; None: the first")
    conversation: ConversationState | None = Field(
        default=None, description="What the offline responder learnt so far; None: read from the history"
    )
    llm_given_up: bool = Field(
        default=False, description="The turn waited out a silent LLM: one failure for the worker's circuit breaker"
    )
    # A speculative reply the final transcript confirmed (workflows/speculation.py): spoken at once, no LLM asked.
    prepared: list[str] | None = None
    # The reply says the filler itself when the LLM keeps the caller waiting, and, where the API lets it
    # (activities/followed_playback.py), its speech events are counted there, not signalled: the caller's
    # next words bring their count (workflows/playing_replies.py).
    follows_playback: bool = False
    filler_said: bool = Field(default=False, description="The turn's filler was said already: the reply says none")
    # A speculative reply's: the interim transcript (event id) whose words it answers.
    speculating_on: str | None = None


class ReplyResult(BaseModel):
    text: str
    # The sentences sent to be spoken, in order: of a reply cut off, the caller heard only the first few.
    sentences: list[str] = Field(default_factory=list)
    turn_recorded: bool = Field(default=False, description="The turn is on record (caller and agent) already")
    sentences_spoken: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
    brain: ReplyBrain
    first_speak_latency_ms: float | None = None
    call_ended: bool = False
    interrupted: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    conversation: ConversationState | None = None  # the offline responder's, for the workflow to keep
    llm_requests: int = Field(default=0, description="LLM requests this reply's last attempt sent")
    # A reply that follows its playback: the starts and ends of its speech the API counted and did not
    # signal (api/reply_windows.py), when the first began, and the filler it said itself.
    played_started: int = 0
    played_ended: int = 0
    first_started_at: float | None = None
    fillers: int = 0
    llm_given_up: bool = Field(default=False, description="After the filler the LLM still said nothing: given up")
    hears_playback: bool = Field(
        default=False, description="Its speech plays on, counted by the API (workflows/playing_replies.py)"
    )


class HearReply(BaseModel):
    """A reply whose speech still plays, followed to its end by `hear_reply` when the call stops waiting for the
    caller's words, which would otherwise bring its count (workflows/playing_replies.py)."""

    call_control_id: str
    reply: str = Field(description="The reply's step: its playback window (`reply_step`)")
    speeches: int = Field(ge=0, description="Its sentences and filler, all sent")


class FollowedSay(BaseModel):
    """Words the call says itself (its greeting), their playback followed by the API as a reply's is."""

    command: SpeakCommand
    window: str = Field(description="Its playback window (api/reply_windows.py): the step it is said at")


class FollowedSaid(BaseModel):
    call_ended: bool = False
    # The API counts its playback: the caller's first words bring the count (workflows/playing_replies.py).
    following: bool = False
    started: int = 0
    ended: int = 0


class ReplyHeard(BaseModel):
    """What the reply's window counted in all, once its speech ended (or the wait gave up)."""

    started: int = 0
    ended: int = 0
    first_started_at: float | None = None


class HeardWords(BaseModel):
    """The caller's newest interim transcript, as a call answers its `newest_interim` query."""

    event_id: str
    words: str
    received_at: float = Field(default=0.0, description="Unix time the API received the interim")


class Speculation(BaseModel):
    """A reply generated on an interim transcript, never spoken by the activity that generated it."""

    caller_text: str
    sentences: list[str] = Field(default_factory=list)
    # The LLM wanted a tool: the stream was stopped there and nothing runs until the final transcript.
    wanted_tool: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_requests: int = 1


class ReplyProgress(BaseModel):
    """Heartbeat details: what a retry of this reply must not say again."""

    sentences: list[str] = Field(default_factory=list)
    spoken: int = 0
    generated_all: bool = False
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    conversation: ConversationState | None = None
    wanted_tool: bool = False  # a speculative reply's stream stopped at its first tool call
    said_filler: bool = False  # a reply that follows its playback said the filler


def sentence_step(request: ReplyRequest, index: int) -> str:
    # The brain is part of it: the offline responder's first sentence after a failed LLM is a new one.
    return f"turn-{request.turn_index}/round-{request.round_index}/{request.brain}/sentence-{index}"


def reply_step(request: ReplyRequest) -> str:
    """The reply's own step (its sentences' steps without the sentence): its playback window's name."""
    return f"turn-{request.turn_index}/round-{request.round_index}/{request.brain}"


def sentence_command_id(request: ReplyRequest, index: int) -> str:
    return f"{request.workflow_id}/{sentence_step(request, index)}"


def llm_messages(request: ReplyRequest) -> list[dict]:
    # An anonymous web visitor's brain is given no private number to read out.
    instructions = build_web_instructions if request.channel == Channel.WEB else build_instructions
    system = instructions(request.business, now=request.now, language=request.language)
    messages: list[dict] = [{"role": "system", "content": system}]
    if note := memory_note(request.returning):
        messages.append({"role": "system", "content": note})
    messages += [
        {"role": "assistant" if u.speaker == Speaker.AGENT else "user", "content": u.text}
        for u in request.history
        if u.text
    ]
    messages.append({"role": "user", "content": request.caller_text})
    if offer_a_person(request.history, request.caller_text, request.language or request.business.language):
        messages.append({"role": "system", "content": LLM_MOOD_NOTE})
    for tool_round in request.rounds:
        messages.append(
            {
                "role": "assistant",
                "content": tool_round.said or None,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in tool_round.calls
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": c.id, "content": result}
            for c, result in zip(tool_round.calls, tool_round.results, strict=True)
        ]
    if request.channel == Channel.WEB:
        # Nor finds one in what was said before (the visitor read it withheld).
        for message in messages[1:]:
            if message["content"]:
                message["content"] = without_private_numbers(message["content"], request.business)
    return messages


def offline_brain_reply(request: ReplyRequest) -> BrainReply:
    """The offline responder's reply, with a person offered to a caller upset for two turns."""
    language = request.language or request.business.language
    if not request.rounds and accepts_person_offer(request.history, request.caller_text):
        return BrainReply(
            text=accepted_offer(language), tool_calls=[escalation_for_upset_caller()], state=request.conversation
        )
    reply = offline_reply(
        request.business,
        request.history,
        request.caller_text,
        request.rounds,
        request.now,
        language=language,
        state=request.conversation,
        returning=request.returning,
    )
    if not request.rounds and not reply.tool_calls and offer_a_person(request.history, request.caller_text, language):
        reply = reply.model_copy(update={"text": f"{reply.text} {person_offer(language)}"})
    return reply


class CallerReplies:
    def __init__(
        self,
        telnyx_client: telnyx.AsyncTelnyx,
        llm: openai.AsyncOpenAI | None,
        *,
        model: str,
        first_sentence_timeout: float,
        database_url: str | None = None,
        llm_circuit: LLMCircuit | None = None,
        playback: ReplyPlayback | None = None,
    ) -> None:
        # Telnyx asks for a command answered 5xx to be sent again at once, with its command_id (which makes
        # the repeat harmless if the first took effect): the SDK's own retries do it within the reply, in
        # about half a second, where a retry of the activity would start the reply over and leave the
        # caller a silence long enough to take as its end.
        self._telnyx = telnyx_client.with_options(max_retries=SPEAK_RETRIES)
        self._llm = llm
        self._model = model
        self._first_sentence_timeout = first_sentence_timeout
        self._database_url = database_url
        # Shared by every call of this worker: a failing LLM is remembered, not waited on again each turn.
        self._llm_circuit = llm_circuit or LLMCircuit()
        self._playback = playback  # None: no reply follows its playback (no API_INTERNAL_URL)

    @activity.defn(name="reply_to_caller")
    async def reply_to_caller(self, request: ReplyRequest) -> ReplyResult:
        details = activity.info().heartbeat_details
        progress = ReplyProgress.model_validate(details[0]) if details else ReplyProgress()
        if not details and request.prepared is not None:
            progress = ReplyProgress(sentences=request.prepared, generated_all=True)
        asked_llm = not progress.generated_all and request.brain == Brain.LLM and self._llm is not None
        speaker = _SentenceSpeaker(self._telnyx, request, progress)
        following = request.follows_playback and request.channel == Channel.PHONE
        playback = FollowedPlayback(self._playback if following else None, request.call_control_id, reply_step(request))
        # Opened while the LLM starts, not before: the first sentence waits for it only if it comes first.
        speaker.window_opening = opening = asyncio.create_task(playback.open())
        interrupted = gave_up = False
        try:
            if progress.generated_all:
                await speaker.speak_remaining()
            elif following and _fills_silence(request) and activity.info().attempt == 1:
                # Only a first attempt: a retry's heartbeat details may be older than what the caller heard.
                gave_up = await _speak_filling_silence(speaker, self._sentences(request, progress))
            else:
                await speaker.speak_stream(self._sentences(request, progress))
            await opening
            if not gave_up and not progress.tool_calls:
                # The API counts the rest of the speech; a reply with tools hands it back to the call.
                await playback.announce(progress.spoken + int(progress.said_filler))
        except asyncio.CancelledError:
            # Barge-in: report what the caller heard; the workflow waits for this answer.
            interrupted = True
            if not opening.done():
                opening.cancel()  # never opened for sure: the caller's words close what the API opened
        hears_playback = playback.following and not interrupted and not gave_up and not progress.tool_calls
        if not hears_playback:
            await playback.close()
        metrics.reply_finished(request.brain, request.round_index, speaker.first_speak_latency_ms)
        text = " ".join(progress.sentences[: progress.spoken])
        # Most turns are one reply with no tool: it records the turn itself, sparing the call an activity.
        recorded = (
            self._database_url is not None
            and request.round_index == 0
            and not interrupted
            and not gave_up
            and not progress.tool_calls
        )
        if recorded:
            record = TurnRecord(
                call_id=request.call_control_id,
                turn_index=request.turn_index,
                caller_text=request.caller_text,
                agent_text=text,
                reply_latency_ms=speaker.first_speak_latency_ms,
                brain=request.brain,
                interrupted=False,
                language=request.language or request.business.language,
            )
            try:
                recorded = await self._saved(record)
            except asyncio.CancelledError:
                # The caller spoke while the turn was being saved: they heard the whole reply, which is
                # what the workflow must learn (not a cut-off one); it keeps the turn and writes it.
                recorded = False
        return ReplyResult(
            text=text,
            sentences=progress.sentences[: progress.spoken],
            turn_recorded=recorded,
            sentences_spoken=progress.spoken,
            tool_calls=[] if interrupted else progress.tool_calls,
            brain=request.brain,
            first_speak_latency_ms=speaker.first_speak_latency_ms,
            call_ended=speaker.call_ended,
            interrupted=interrupted,
            prompt_tokens=progress.prompt_tokens,
            completion_tokens=progress.completion_tokens,
            conversation=progress.conversation,
            llm_requests=int(asked_llm),
            played_started=playback.count.started,
            played_ended=playback.count.ended,
            first_started_at=playback.count.first_started_at,
            fillers=int(progress.said_filler),
            llm_given_up=gave_up,
            hears_playback=hears_playback,
        )

    @activity.defn(name="say_followed")
    async def say_followed(self, say: FollowedSay) -> FollowedSaid:
        """Says one speech of the call's own (its greeting) in a playback window of the API, opened first: its
        start and end are counted there, not signalled, and the caller's first words bring the count."""
        command = say.command
        playback = FollowedPlayback(self._playback, command.call_control_id, say.window)
        await playback.open(speeches=1)
        try:
            sent = await send_call_command(speak_sentence(self._telnyx.calls.actions, command))
        except Exception:
            await playback.close()  # nothing will play: the window would only wait for its end
            raise
        if sent.call_ended:
            await playback.close()
        count = playback.count
        return FollowedSaid(
            call_ended=sent.call_ended, following=playback.following, started=count.started, ended=count.ended
        )

    @activity.defn(name="hear_reply")
    async def hear_reply(self, hear: HearReply) -> ReplyHeard:
        """Waits until the caller has heard a reply's speech, counted by the API's window: the call learns it
        once, not a signal per sentence's start and end. A worker that dies here costs a retry elsewhere."""
        playback = FollowedPlayback(self._playback, hear.call_control_id, hear.reply)
        try:
            await playback.heard(hear.speeches, activity.heartbeat)
        except asyncio.CancelledError:
            await playback.close()  # the caller barged in: what is left of the speech is the call's to hear
            raise
        count = playback.count
        return ReplyHeard(started=count.started, ended=count.ended, first_started_at=count.first_started_at)

    async def compose(self, request: ReplyRequest) -> tuple[str, list[ToolCall]]:
        """The reply this brain gives, said to nobody, its tools asked for but not run: a replay of a
        past call with a draft configuration (activities/call_replay.py) goes through the calls' own path."""
        progress = ReplyProgress()
        sentences = [sentence async for sentence in self._sentences(request, progress)]
        return " ".join(sentences), progress.tool_calls

    @activity.defn(name="speculate_reply")
    async def speculate_reply(self, request: ReplyRequest) -> Speculation:
        """The reply to words the caller may not have finished: generated, not spoken, no tool run.

        It follows the caller's newest words (the call's `newest_interim` query) until they have stayed the
        same for `speculate_after_ms`, then asks the LLM; words that changed meanwhile are answered anew.
        The workflow speaks it (`reply_to_caller` with `prepared`) only if the final transcript says the
        same words, and cancels it otherwise; a retry after a crash generates it again, which is harmless.
        """
        stable_for = request.business.reply_timing.speculate_after_ms / 1000
        heard = HeardWords(
            event_id=request.speculating_on or "",
            words=request.caller_text,
            received_at=request.caller_words_received_at,
        )
        requests = 0
        while True:
            # Stable from when the words were heard, not from when this attempt learned of them.
            stable_until = time.monotonic() + min(stable_for, max(0.0, heard.received_at + stable_for - time.time()))
            await asyncio.sleep(max(0.0, stable_until - time.monotonic()))  # alive: runtime.heartbeats beats
            if (newer := await self._newer_words(request, heard)) is not None:
                heard = newer  # the caller went on: these words must stay the same in their turn
                continue
            if self._llm is None:
                # A worker without an LLM (no OPENAI_API_KEY): nothing to prepare; the turn's reply is the
                # offline responder's. Returned, not raised: a failure would be retried, and logged, per turn.
                return Speculation(caller_text=heard.words, llm_requests=0)
            if not self._llm_circuit.allows():
                # The LLM failed lately: no speculation; the turn goes to the offline responder at once.
                raise ApplicationError(
                    "the LLM failed lately and is not asked again yet", type="LLMCircuitOpen", non_retryable=True
                )
            progress = ReplyProgress()
            requests += 1
            asking = request.model_copy(update={"caller_text": heard.words})
            try:
                async for sentence in self._llm_sentences(asking, progress, stop_at_tool=True):
                    progress.sentences.append(sentence)
            except asyncio.CancelledError:
                metrics.speculative_reply("cancelled")
                raise
            finally:
                metrics.llm_tokens_used("speculative", progress.prompt_tokens, progress.completion_tokens)
            if (newer := await self._newer_words(request, heard)) is not None:
                heard = newer  # said while the LLM answered the words before: those are answered anew
                continue
            metrics.speculative_reply("wanted_tool" if progress.wanted_tool else "generated")
            return Speculation(
                caller_text=heard.words,
                sentences=[] if progress.wanted_tool else progress.sentences,
                wanted_tool=progress.wanted_tool,
                prompt_tokens=progress.prompt_tokens,
                completion_tokens=progress.completion_tokens,
                llm_requests=requests,
            )

    @staticmethod
    async def _newer_words(request: ReplyRequest, heard: HeardWords) -> HeardWords | None:
        """The caller's newest interim words if they are not `heard` (the call's `newest_interim` query);
        None when they are, when the final transcript came, or when the call does not answer at once."""
        try:
            handle = activity.client().get_workflow_handle(request.workflow_id)
            newest = await asyncio.wait_for(
                handle.query("newest_interim", result_type=HeardWords), NEWEST_WORDS_SECONDS
            )
        except (RPCError, WorkflowQueryFailedError, TimeoutError, RuntimeError) as error:
            activity.logger.info("newest words not known, speculating on: %s", error)
            return None
        if newest is None or newest.event_id == heard.event_id or same_words(newest.words, heard.words):
            return None
        return newest

    async def _saved(self, record: TurnRecord) -> bool:
        """Saves the turn if the database answers soon; else the workflow keeps it and writes it later.
        The caller has heard the reply: a database outage must not make it fail and be said again."""
        assert self._database_url is not None
        try:
            await asyncio.wait_for(asyncio.to_thread(save_turn, self._database_url, record), SAVE_TURN_SECONDS)
        except (SQLAlchemyError, TimeoutError, OSError) as error:
            activity.logger.warning("turn %s not saved, the workflow keeps it: %s", record.turn_index, error)
            return False
        return True

    async def _sentences(self, request: ReplyRequest, progress: ReplyProgress) -> AsyncIterator[str]:
        if request.brain == Brain.OFFLINE or self._llm is None:
            if request.llm_given_up:
                # The turn waited out a silent LLM (the filler, then this). It counts as one failure, not as an
                # outage: a worker that died mid-reply makes a turn give up too, and opening the circuit then
                # sent every other call of this worker to the offline responder (tests/test_failover.py).
                self._llm_circuit.failed()
            reply = offline_brain_reply(request)
            progress.tool_calls = reply.tool_calls
            progress.conversation = reply.state
            for sentence in split_sentences(reply.text):
                yield sentence
            return
        if not self._llm_circuit.allows():
            # The LLM failed lately: fail at once, and the offline responder answers without the wait.
            raise ApplicationError(
                "the LLM failed lately and is not asked again yet", type="LLMCircuitOpen", non_retryable=True
            )
        async for sentence in self._llm_sentences(request, progress):
            yield sentence
        self._llm_circuit.succeeded()

    async def _llm_sentences(
        self,
        request: ReplyRequest,
        progress: ReplyProgress,
        *,
        stop_at_tool: bool = False,
    ) -> AsyncIterator[str]:
        assert self._llm is not None
        splitter = SentenceSplitter()
        calls: dict[int, dict[str, str]] = {}
        # In the caller turn's trace (traces on): from the request to the first sentence worth speaking.
        first_sentence_span = tracer.start_span("llm first sentence", attributes={"llm.model": self._model})
        try:
            async with asyncio.timeout(self._first_sentence_timeout) as first_sentence_deadline:
                llm_timer = metrics.LLMTimer()
                metrics.llm_request("speculative" if stop_at_tool else "reply")
                stream = await self._llm.chat.completions.create(
                    model=self._model,
                    # The SDK walks `messages` and `tools` against its unions of TypedDicts before each request:
                    # ~3 ms of CPU for a call of 8 turns, more with every turn, and they come out unchanged (they
                    # are plain JSON, which the fake LLM of the tests checks against the SDK's types). `extra_body`
                    # is merged after that walk; the empty lists keep the keys' places, so the bytes are the same.
                    messages=[],
                    tools=[],
                    extra_body={"messages": llm_messages(request), "tools": chat_completion_tools()},
                    stream=True,
                    stream_options={"include_usage": True},
                    max_tokens=250,
                    temperature=0.4,
                )
                # No heartbeat per chunk: runtime.heartbeats keeps the attempt alive, and a sentence spoken
                # is heartbeated with the progress a retry needs (`_SentenceSpeaker`).
                async for chunk in stream:
                    if chunk.usage:
                        progress.prompt_tokens = chunk.usage.prompt_tokens
                        progress.completion_tokens = chunk.usage.completion_tokens
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
                    if delta.tool_calls and stop_at_tool:
                        # Tools act on the world: none runs, nor is asked for, on words the caller may not have said.
                        progress.wanted_tool = True
                        await stream.close()
                        return
                    for piece in delta.tool_calls or []:
                        call = calls.setdefault(piece.index, {"id": "", "name": "", "arguments": ""})
                        call["id"] = piece.id or call["id"]
                        if piece.function:
                            call["name"] += piece.function.name or ""
                            call["arguments"] += piece.function.arguments or ""
                        first_sentence_deadline.reschedule(None)
                    for sentence in splitter.feed(delta.content or ""):
                        first_sentence_deadline.reschedule(None)
                        llm_timer.first_sentence()
                        if first_sentence_span.is_recording():
                            first_sentence_span.end()
                        yield sentence
        except TimeoutError:
            self._llm_circuit.failed()
            metrics.llm_failed("too_slow")
            raise ApplicationError(
                f"the LLM gave no sentence within {self._first_sentence_timeout:.1f}s", type="LLMTooSlow"
            ) from None
        except openai.APIStatusError as error:
            metrics.llm_failed("server_error" if error.status_code >= 500 else "refused")
            retryable = error.status_code >= 500 or error.status_code in (408, 409, 429)
            if retryable:  # an outage or an overload; a refusal is our request's fault
                self._llm_circuit.failed()
            raise ApplicationError(
                f"the LLM answered {error.status_code}: {error.message}", type="LLMFailed", non_retryable=not retryable
            ) from None
        except openai.APIConnectionError as error:
            self._llm_circuit.failed()
            metrics.llm_failed("unreachable")
            raise ApplicationError(f"the LLM could not be reached: {error}", type="LLMUnreachable") from None
        finally:
            if first_sentence_span.is_recording():  # no sentence: a tool call, or a failure
                first_sentence_span.end()
        progress.tool_calls = [ToolCall(**call) for _, call in sorted(calls.items())]
        for sentence in splitter.flush():
            yield sentence


class _SentenceSpeaker:
    """Speaks sentences in order, skipping those a previous attempt already spoke."""

    def __init__(self, client: telnyx.AsyncTelnyx, request: ReplyRequest, progress: ReplyProgress) -> None:
        self._actions = client.calls.actions
        self._request = self.request = request
        self.progress = progress
        self.first_speak_latency_ms: float | None = None
        self.call_ended = False
        self.window_opening: asyncio.Task[None] | None = None  # FollowedPlayback.open, alongside the LLM's start

    async def speak_stream(self, sentences: AsyncIterator[str]) -> None:
        # A retry says at once what the failed attempt had generated but not spoken, rather than
        # leave the caller in silence while the LLM generates it again.
        await self.speak_remaining()
        index = 0
        async for sentence in sentences:
            if index >= len(self.progress.sentences):
                self.progress.sentences.append(sentence)
            if index >= self.progress.spoken:
                await self._speak(index)
            index += 1
        self.progress.generated_all = True
        self.heartbeat()

    async def speak_remaining(self) -> None:
        for index in range(self.progress.spoken, len(self.progress.sentences)):
            await self._speak(index)

    async def _speak(self, index: int) -> None:
        if self.call_ended:
            return
        if self.first_speak_latency_ms is None and self._request.round_index == 0:
            self.first_speak_latency_ms = (time.time() - self._request.caller_words_received_at) * 1000
        if self._request.channel == Channel.PHONE:
            await self._say(sentence_command_id(self._request, index), self.progress.sentences[index])
        self.progress.spoken = index + 1
        self.heartbeat()

    async def say_filler(self) -> None:
        """The business's filler, once: with the turn's filler command id, as the workflow would say it."""
        request = self._request
        if self.call_ended or self.progress.said_filler:
            return
        configured = request.business.reply_timing.filler
        language = request.language or request.business.language
        text = words_in(FILLER, language) if configured == FILLER["en"] else configured
        await self._say(f"{request.workflow_id}/turn-{request.turn_index}/filler", text)
        self.progress.said_filler = True
        self.heartbeat()

    async def _say(self, command_id: str, text: str) -> None:
        """One speak command in the call's language and voice, once the reply's playback window is open."""
        if self.window_opening is not None:
            await self.window_opening  # its speech's events must find the window (api/reply_windows.py)
        business, language = self._request.business, self._request.language or self._request.business.language
        voice = business.voice_for(language)
        command = SpeakCommand(
            call_control_id=self._request.call_control_id,
            command_id=command_id,
            text=text,
            voice=voice.voice,
            language=language,
            voice_settings=voice.voice_settings(),
        )
        result = await send_call_command(speak_sentence(self._actions, command))
        self.call_ended = result.call_ended

    def heartbeat(self) -> None:
        # Always with the progress: a heartbeat without details would erase what a retry must know.
        activity.heartbeat(self.progress.model_dump(mode="json"))


def _fills_silence(request: ReplyRequest) -> bool:
    """A turn's first LLM reply on a phone line: the one a caller may wait for in silence."""
    return (
        request.round_index == 0 and request.brain == Brain.LLM and request.prepared is None and not request.filler_said
    )


async def _speak_filling_silence(speaker: _SentenceSpeaker, sentences: AsyncIterator[str]) -> bool:
    """Speaks the stream; says the business's filler if the caller waits `filler_after_ms` for its first
    sentence, and gives the LLM up if half as long again brings none. True when it gave up (the workflow's
    offline responder answers). What the workflow's filler watch does for a reply that does not follow
    its playback (workflows/caller_turn.py), here where the first sentence's sending is known."""
    request, progress = speaker.request, speaker.progress
    timing = request.business.reply_timing
    speaking = asyncio.create_task(speaker.speak_stream(sentences))
    gave_up = False

    async def watch() -> None:
        nonlocal gave_up
        due = request.caller_words_received_at + timing.filler_after_ms / 1000
        await asyncio.sleep(max(0.0, due - time.time()))
        if progress.spoken:
            return
        await speaker.say_filler()
        await asyncio.sleep(timing.filler_after_ms / 2000)
        if not progress.spoken and not speaking.done():
            gave_up = True
            speaking.cancel()

    watching = asyncio.create_task(watch())
    try:
        await speaking
    except asyncio.CancelledError:
        if not gave_up:
            raise  # the activity itself was cancelled: a barge-in
    finally:
        watching.cancel()
    return gave_up
