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
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Literal

import openai
import telnyx
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_records import TurnRecord, save_turn
from activities.telnyx_commands import SpeakCommand, send_call_command, speak_sentence
from business.config import BusinessConfig
from business.instructions import build_instructions
from cloudgreet import metrics
from receptionist.offline_responder import offline_reply
from receptionist.sentences import SentenceSplitter, split_sentences
from receptionist.tools import ToolCall, ToolRound, chat_completion_tools
from workflows.call_messages import Utterance

Brain = Literal["llm", "offline"]
Channel = Literal["phone", "web"]


class ReplyRequest(BaseModel):
    call_control_id: str
    workflow_id: str
    turn_index: int
    round_index: int = 0
    caller_text: str
    history: list[Utterance]
    rounds: list[ToolRound] = Field(default_factory=list, description="Earlier tool rounds of this turn")
    business: BusinessConfig
    brain: Brain
    channel: Channel = "phone"
    now: datetime = Field(description="Workflow time: what 'today' and 'open now' mean for this reply")
    caller_words_received_at: float = Field(description="Unix time the caller's final words reached the API")


class ReplyResult(BaseModel):
    text: str
    turn_recorded: bool = Field(default=False, description="The turn is on record (caller and agent) already")
    sentences_spoken: int
    tool_calls: list[ToolCall] = Field(default_factory=list)
    brain: Brain
    first_speak_latency_ms: float | None = None
    call_ended: bool = False
    interrupted: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ReplyProgress(BaseModel):
    """Heartbeat details: what a retry of this reply must not say again."""

    sentences: list[str] = Field(default_factory=list)
    spoken: int = 0
    generated_all: bool = False
    tool_calls: list[ToolCall] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def sentence_step(request: ReplyRequest, index: int) -> str:
    # The brain is part of it: the offline responder's first sentence after a failed LLM is a new one.
    return f"turn-{request.turn_index}/round-{request.round_index}/{request.brain}/sentence-{index}"


def sentence_command_id(request: ReplyRequest, index: int) -> str:
    return f"{request.workflow_id}/{sentence_step(request, index)}"


def llm_messages(request: ReplyRequest) -> list[dict]:
    messages: list[dict] = [{"role": "system", "content": build_instructions(request.business, now=request.now)}]
    messages += [
        {"role": "assistant" if u.speaker == "agent" else "user", "content": u.text} for u in request.history if u.text
    ]
    messages.append({"role": "user", "content": request.caller_text})
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
    return messages


class CallerReplies:
    def __init__(
        self,
        telnyx_client: telnyx.AsyncTelnyx,
        llm: openai.AsyncOpenAI | None,
        *,
        model: str,
        first_sentence_timeout: float,
        database_url: str | None = None,
    ) -> None:
        self._telnyx = telnyx_client
        self._llm = llm
        self._model = model
        self._first_sentence_timeout = first_sentence_timeout
        self._database_url = database_url

    @activity.defn(name="reply_to_caller")
    async def reply_to_caller(self, request: ReplyRequest) -> ReplyResult:
        details = activity.info().heartbeat_details
        progress = ReplyProgress.model_validate(details[0]) if details else ReplyProgress()
        speaker = _SentenceSpeaker(self._telnyx, request, progress)
        interrupted = False
        try:
            if progress.generated_all:
                await speaker.speak_remaining()
            else:
                await speaker.speak_stream(self._sentences(request, progress, speaker.heartbeat))
        except asyncio.CancelledError:
            # Barge-in: report what the caller heard; the workflow waits for this answer.
            interrupted = True
        metrics.reply_finished(request.brain, request.round_index, speaker.first_speak_latency_ms)
        text = " ".join(progress.sentences[: progress.spoken])
        # Most turns are one reply with no tool: it records the turn itself, sparing the call an activity.
        recorded = self._database_url is not None and request.round_index == 0 and not interrupted and not progress.tool_calls
        if recorded:
            record = TurnRecord(
                call_id=request.call_control_id,
                turn_index=request.turn_index,
                caller_text=request.caller_text,
                agent_text=text,
                reply_latency_ms=speaker.first_speak_latency_ms,
                brain=request.brain,
                interrupted=False,
            )
            await asyncio.to_thread(save_turn, self._database_url, record)
        return ReplyResult(
            text=text,
            turn_recorded=recorded,
            sentences_spoken=progress.spoken,
            tool_calls=[] if interrupted else progress.tool_calls,
            brain=request.brain,
            first_speak_latency_ms=speaker.first_speak_latency_ms,
            call_ended=speaker.call_ended,
            interrupted=interrupted,
            prompt_tokens=progress.prompt_tokens,
            completion_tokens=progress.completion_tokens,
        )

    async def _sentences(
        self, request: ReplyRequest, progress: ReplyProgress, heartbeat: Callable[[], None]
    ) -> AsyncIterator[str]:
        if request.brain == "offline" or self._llm is None:
            reply = offline_reply(request.business, request.history, request.caller_text, request.rounds, request.now)
            progress.tool_calls = reply.tool_calls
            for sentence in split_sentences(reply.text):
                yield sentence
            return
        async for sentence in self._llm_sentences(request, progress, heartbeat):
            yield sentence

    async def _llm_sentences(
        self, request: ReplyRequest, progress: ReplyProgress, heartbeat: Callable[[], None]
    ) -> AsyncIterator[str]:
        splitter = SentenceSplitter()
        calls: dict[int, dict[str, str]] = {}
        try:
            async with asyncio.timeout(self._first_sentence_timeout) as first_sentence_deadline:
                llm_timer = metrics.LLMTimer()
                stream = await self._llm.chat.completions.create(
                    model=self._model,
                    messages=llm_messages(request),
                    tools=chat_completion_tools(),
                    stream=True,
                    stream_options={"include_usage": True},
                    max_tokens=250,
                    temperature=0.4,
                )
                async for chunk in stream:
                    heartbeat()
                    if chunk.usage:
                        progress.prompt_tokens = chunk.usage.prompt_tokens
                        progress.completion_tokens = chunk.usage.completion_tokens
                    if not chunk.choices:
                        continue
                    delta = chunk.choices[0].delta
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
                        yield sentence
        except TimeoutError:
            metrics.llm_failed("too_slow")
            raise ApplicationError(
                f"the LLM gave no sentence within {self._first_sentence_timeout:.1f}s", type="LLMTooSlow"
            ) from None
        except openai.APIStatusError as error:
            metrics.llm_failed("server_error" if error.status_code >= 500 else "refused")
            retryable = error.status_code >= 500 or error.status_code in (408, 409, 429)
            raise ApplicationError(
                f"the LLM answered {error.status_code}: {error.message}", type="LLMFailed", non_retryable=not retryable
            ) from None
        except openai.APIConnectionError as error:
            metrics.llm_failed("unreachable")
            raise ApplicationError(f"the LLM could not be reached: {error}", type="LLMUnreachable") from None
        progress.tool_calls = [ToolCall(**call) for _, call in sorted(calls.items())]
        for sentence in splitter.flush():
            yield sentence


class _SentenceSpeaker:
    """Speaks sentences in order, skipping those a previous attempt already spoke."""

    def __init__(self, client: telnyx.AsyncTelnyx, request: ReplyRequest, progress: ReplyProgress) -> None:
        self._actions = client.calls.actions
        self._request = request
        self.progress = progress
        self.first_speak_latency_ms: float | None = None
        self.call_ended = False

    async def speak_stream(self, sentences: AsyncIterator[str]) -> None:
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
        if self._request.channel == "phone":
            command = SpeakCommand(
                call_control_id=self._request.call_control_id,
                command_id=sentence_command_id(self._request, index),
                text=self.progress.sentences[index],
                voice=self._request.business.voice,
                language=self._request.business.language,
            )
            result = await send_call_command(speak_sentence(self._actions, command))
            self.call_ended = result.call_ended
        self.progress.spoken = index + 1
        self.heartbeat()

    def heartbeat(self) -> None:
        # Always with the progress: a heartbeat without details would erase what a retry must know.
        activity.heartbeat(self.progress.model_dump(mode="json"))
