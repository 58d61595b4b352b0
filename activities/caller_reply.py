"""One caller turn: generate the reply and speak it sentence by sentence as sentences complete.

The reply streams from the LLM (or comes from the offline responder); each finished sentence
goes to Telnyx at once with the command_id `<workflow>/turn-<n>/sentence-<i>`. The activity
heartbeats what it has spoken, so a retry after a crash speaks only what is still unspoken,
and a barge-in (the workflow cancelling the activity) stops it between two sentences.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Literal

import openai
import telnyx
from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.call_records import save_turns
from activities.telnyx_commands import SpeakCommand, base64_client_state, send_call_command, speak_sentence
from business.config import BusinessConfig
from business.instructions import build_instructions
from receptionist.offline_responder import offline_reply
from receptionist.sentences import SentenceSplitter, split_sentences
from workflows.call_messages import Utterance

Brain = Literal["llm", "offline"]


class ReplyRequest(BaseModel):
    call_control_id: str
    workflow_id: str
    turn_index: int
    caller_text: str
    history: list[Utterance]
    business: BusinessConfig
    brain: Brain
    caller_words_received_at: float = Field(description="Unix time the caller's final words reached the API")


class ReplyResult(BaseModel):
    text: str
    sentence_states: list[str] = Field(description="client_state of each spoken sentence, echoed by call.speak.ended")
    brain: Brain
    first_speak_latency_ms: float | None = None
    call_ended: bool = False


class ReplyProgress(BaseModel):
    """Heartbeat details: what a retry of this turn must not say again."""

    sentences: list[str] = Field(default_factory=list)
    spoken: int = 0
    generated_all: bool = False


def sentence_command_id(request: ReplyRequest, index: int) -> str:
    return f"{request.workflow_id}/turn-{request.turn_index}/sentence-{index}"


def sentence_client_state(request: ReplyRequest, index: int) -> str:
    return base64_client_state(f"turn-{request.turn_index}/sentence-{index}")


class CallerReplies:
    def __init__(
        self,
        telnyx_client: telnyx.AsyncTelnyx,
        llm: openai.AsyncOpenAI | None,
        *,
        model: str,
        database_url: str,
        first_sentence_timeout: float,
    ) -> None:
        self._telnyx = telnyx_client
        self._llm = llm
        self._model = model
        self._database_url = database_url
        self._first_sentence_timeout = first_sentence_timeout

    @activity.defn(name="reply_to_caller")
    async def reply_to_caller(self, request: ReplyRequest) -> ReplyResult:
        details = activity.info().heartbeat_details
        progress = ReplyProgress.model_validate(details[0]) if details else ReplyProgress()
        speaker = _SentenceSpeaker(self._telnyx, request, progress)
        try:
            if progress.generated_all:
                await speaker.speak_remaining()
            else:
                await speaker.speak_stream(self._sentences(request, speaker.heartbeat))
        except asyncio.CancelledError:
            # Barge-in or hang-up: what was spoken so far is what the caller heard.
            await asyncio.shield(self._record(request, speaker, interrupted=True))
            raise
        await self._record(request, speaker, interrupted=False)
        return ReplyResult(
            text=" ".join(progress.sentences[: progress.spoken]),
            sentence_states=[sentence_client_state(request, i) for i in range(progress.spoken)],
            brain=request.brain,
            first_speak_latency_ms=speaker.first_speak_latency_ms,
            call_ended=speaker.call_ended,
        )

    async def _sentences(self, request: ReplyRequest, heartbeat: Callable[[], None]) -> AsyncIterator[str]:
        if request.brain == "offline" or self._llm is None:
            for sentence in split_sentences(
                offline_reply(request.business, request.caller_text, datetime.now(timezone.utc))
            ):
                yield sentence
            return
        async for sentence in self._llm_sentences(request, heartbeat):
            yield sentence

    async def _llm_sentences(self, request: ReplyRequest, heartbeat: Callable[[], None]) -> AsyncIterator[str]:
        messages = [{"role": "system", "content": build_instructions(request.business)}]
        messages += [
            {"role": "assistant" if u.speaker == "agent" else "user", "content": u.text} for u in request.history
        ]
        messages.append({"role": "user", "content": request.caller_text})
        splitter = SentenceSplitter()
        try:
            async with asyncio.timeout(self._first_sentence_timeout) as first_sentence_deadline:
                stream = await self._llm.chat.completions.create(
                    model=self._model, messages=messages, stream=True, max_tokens=200, temperature=0.4
                )
                async for chunk in stream:
                    heartbeat()
                    text = chunk.choices[0].delta.content if chunk.choices else None
                    for sentence in splitter.feed(text or ""):
                        first_sentence_deadline.reschedule(None)
                        yield sentence
        except TimeoutError:
            raise ApplicationError(
                f"the LLM gave no sentence within {self._first_sentence_timeout:.1f}s", type="LLMTooSlow"
            ) from None
        except openai.APIStatusError as error:
            retryable = error.status_code >= 500 or error.status_code in (408, 409, 429)
            raise ApplicationError(
                f"the LLM answered {error.status_code}: {error.message}", type="LLMFailed", non_retryable=not retryable
            ) from None
        except openai.APIConnectionError as error:
            raise ApplicationError(f"the LLM could not be reached: {error}", type="LLMUnreachable") from None
        for sentence in splitter.flush():
            yield sentence

    async def _record(self, request: ReplyRequest, speaker: "_SentenceSpeaker", *, interrupted: bool) -> None:
        spoken = " ".join(speaker.progress.sentences[: speaker.progress.spoken])
        await asyncio.to_thread(
            save_turns,
            self._database_url,
            request.call_control_id,
            request.turn_index,
            request.caller_text,
            spoken,
            speaker.first_speak_latency_ms,
            request.brain,
            interrupted,
        )


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
        command = SpeakCommand(
            call_control_id=self._request.call_control_id,
            command_id=sentence_command_id(self._request, index),
            text=self.progress.sentences[index],
            voice=self._request.business.voice,
            language=self._request.business.language,
            client_state=sentence_client_state(self._request, index),
        )
        if self.first_speak_latency_ms is None:
            self.first_speak_latency_ms = (time.time() - self._request.caller_words_received_at) * 1000
        result = await send_call_command(speak_sentence(self._actions, command))
        self.call_ended = result.call_ended
        self.progress.spoken = index + 1
        self.heartbeat()

    def heartbeat(self) -> None:
        # Always with the progress: a heartbeat without details would erase what a retry must know.
        activity.heartbeat(self.progress.model_dump())
