"""One Realtime conversation of the fake, whatever carries it (a WebRTC data channel, a WebSocket).

It behaves as the GA service does, no more helpfully:

* every client event is checked against the SDK's models (`realtime_rules`); a refused one is
  answered with an `error` event and changes nothing;
* a `response.create` while a response is active is refused
  (`conversation_already_has_active_response`); `response.cancel` ends the active one;
* a `conversation.item.create` only adds the item (`conversation.item.added`/`.done`): the client
  asks for the answer with `response.create`;
* appended audio goes through server VAD (`fake_speech.VoiceActivity`) when the session has turn
  detection: speech started/stopped, the buffer committed, the user's item, an automatic response
  (`create_response`), and the input transcription, which by default arrives after the response
  (`FakeRealtimeBehaviour.transcripts_after_response`), as it may from the service;
* responses stream in a task, so they are active while the client talks; `hold_replies` keeps one
  mid-way until released, for tests that act during a reply;
* a response's words come from the fake model's rules (`FakeLLMBehaviour.reply_for`); a
  `function_call_output` then `response.create` gets "Done: <output>."; `response.create` whose
  instructions say "exactly these words: X" answers X (the greeting).

Every event sent is checked against the SDK's `RealtimeServerEvent` union first.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from simulator.fake_openai.fake_speech import Turn, VoiceActivity, words_in
from simulator.fake_openai.realtime_rules import (
    FakeShapeError,
    RealtimeRefusal,
    check_server_event,
    client_event_refusal,
)
from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeCall

EXACT_WORDS = re.compile(r"exactly these words:\s*(.+)", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\s*\S+\s*")
_SILENT_AUDIO = base64.b64encode(bytes(4800)).decode()  # 100 ms of PCM16 silence per WebSocket audio delta


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """session.update semantics: the fields sent replace, nested objects merge."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


async def _awaited(closer: Callable[[], Any]) -> None:
    result = closer()
    if asyncio.iscoroutine(result):
        await result


class RealtimeConversation:
    """The fake model's side of one Realtime session; `send` carries a JSON server event out."""

    def __init__(
        self,
        realtime: FakeRealtime,
        llm: Any,
        record: FakeRealtimeCall,
        session: dict[str, Any],
        send: Callable[[str], None],
        *,
        webrtc: bool,
    ) -> None:
        self.realtime = realtime
        self.llm = llm  # the FakeOpenAI state: its behaviour.reply_for decides what the model says
        self.record = record
        self.session = dict(session)
        self.webrtc = webrtc  # WebRTC plays audio on its track (output_audio_buffer.*), a WebSocket sends deltas
        # Where server events go: the call's own transport, and any control channel (sideband) joined.
        self._sinks: list[Callable[[str], None]] = [send]
        self._closers: list[Callable[[], Any]] = []
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": self.session.get("instructions", "")}]
        self._heard_messages: set[int] = set()  # the ids of the messages the caller spoke (audio input)
        self._events = itertools.count(1)
        self._items: dict[str, dict[str, Any]] = {}
        self._last_item_id: str | None = None
        self._vad = VoiceActivity()
        self._speech_item_id: str | None = None
        self._active: tuple[str, asyncio.Task[None]] | None = None
        self._spoke = False  # assistant audio exists: the voice is fixed from then on
        self._tasks: set[asyncio.Task[None]] = set()
        self._output_item: dict[str, str] = {}  # a streaming response's output item, by response id

    # --- sending ------------------------------------------------------------------------------

    def send(self, event_type: str, **fields: Any) -> None:
        event = {"type": event_type, "event_id": f"event_fake{next(self._events)}", **fields}
        try:
            check_server_event(event)
        except FakeShapeError as error:
            self.realtime.shape_errors.append(str(error))
            raise
        self.record.server_events.append(event)
        text = json.dumps(event)
        for sink in list(self._sinks):
            sink(text)

    def opened(self) -> None:
        self.send("session.created", session=self.session)

    def join(self, sink: Callable[[str], None], closer: Callable[[], Any]) -> Callable[[], None]:
        """A control channel joins: it hears every server event from now on and may send client
        events (`receive`); `closer` ends it when the call ends. Returns how to leave."""
        self._sinks.append(sink)
        self._closers.append(closer)

        def leave() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)
            if closer in self._closers:
                self._closers.remove(closer)

        return leave

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        closers, self._closers = self._closers, []
        await asyncio.gather(*(_awaited(closer) for closer in closers), return_exceptions=True)

    def _spawn(self, coroutine: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- receiving ----------------------------------------------------------------------------

    def receive(self, raw: str | bytes) -> None:
        event, refusal = client_event_refusal(raw)
        if event is not None:
            self.record.client_events.append(event)
        try:
            if refusal is not None:
                raise refusal
            assert event is not None
            self._handle(event)
        except RealtimeRefusal as refused:
            if refusal is None and event is not None and isinstance(event.get("event_id"), str):
                refused.error["event_id"] = event["event_id"]
            self.realtime.refusals.append({"call_id": self.record.call_id, "event": event, "error": refused.error})
            self.send("error", error=refused.error)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "session.update":
            self._update_session(event["session"])
        elif kind == "input_audio_buffer.append":
            self._append(event["audio"])
        elif kind == "input_audio_buffer.commit":
            self._commit_by_client()
        elif kind == "input_audio_buffer.clear":
            self._vad.clear()
            self._speech_item_id = None
            self.send("input_audio_buffer.cleared")
        elif kind == "conversation.item.create":
            self._add_item(event["item"], event.get("previous_item_id"))
        elif kind == "conversation.item.retrieve":
            self.send("conversation.item.retrieved", item=self._item(event["item_id"]))
        elif kind == "conversation.item.delete":
            self._item(event["item_id"])
            del self._items[event["item_id"]]
            self.send("conversation.item.deleted", item_id=event["item_id"])
        elif kind == "conversation.item.truncate":
            self._item(event["item_id"])
            self.send(
                "conversation.item.truncated",
                item_id=event["item_id"],
                content_index=event["content_index"],
                audio_end_ms=event["audio_end_ms"],
            )
        elif kind == "response.create":
            self._create_response(event.get("response") or {})
        elif kind == "response.cancel":
            self._cancel_response(event.get("response_id"))
        elif kind == "output_audio_buffer.clear":
            if not self.webrtc:
                raise RealtimeRefusal(
                    "invalid_value", "output_audio_buffer.clear is only supported for WebRTC and SIP sessions.", "type"
                )
            if self._active is not None:
                self._cancel_response(None)

    def _item(self, item_id: str) -> dict[str, Any]:
        if item_id not in self._items:
            raise RealtimeRefusal(
                "item_not_found", f"Item with item_id '{item_id}' not found in the conversation.", "item_id"
            )
        return self._items[item_id]

    # --- the session --------------------------------------------------------------------------

    def _update_session(self, update: dict[str, Any]) -> None:
        if update.get("type") != self.session.get("type", "realtime"):
            raise RealtimeRefusal(
                "invalid_value", "A session's type cannot change: send session.type 'realtime'.", "session.type"
            )
        voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        current = ((self.session.get("audio") or {}).get("output") or {}).get("voice")
        if voice is not None and voice != current and self._spoke:
            raise RealtimeRefusal(
                "cannot_update_voice",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
            )
        self.session = _merged(self.session, update)
        if "instructions" in update:
            self.messages[0] = {"role": "system", "content": self.session.get("instructions", "")}
        self.send("session.updated", session=self.session)

    def _turn_detection(self) -> dict[str, Any] | None:
        detection = ((self.session.get("audio") or {}).get("input") or {}).get("turn_detection")
        return detection if isinstance(detection, dict) else None

    def _transcribes(self) -> bool:
        return bool(((self.session.get("audio") or {}).get("input") or {}).get("transcription"))

    # --- audio in -----------------------------------------------------------------------------

    def _append(self, audio: str) -> None:
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise RealtimeRefusal("invalid_value", "Invalid 'audio': not valid base64.", "audio") from None
        self.hear(pcm)

    def hear(self, pcm: bytes) -> None:
        """Audio into the input buffer: appended by the client, or a SIP caller's voice."""
        detection = self._turn_detection()
        if detection is None:
            self._vad.keep(pcm)  # no VAD: the audio only waits for the client's commit
            return
        self._vad.silence_duration_ms = int(detection.get("silence_duration_ms") or 500)
        self._vad.prefix_padding_ms = int(detection.get("prefix_padding_ms") or 300)
        for happened, at_ms, turn in self._vad.feed(pcm):
            if happened == "started":
                self._speech_item_id = self.realtime.next_id("item")
                if self._active is not None and detection.get("interrupt_response", True):
                    self._cancel_response(None)
                self.send("input_audio_buffer.speech_started", audio_start_ms=at_ms, item_id=self._speech_item_id)
            else:
                item_id = self._speech_item_id or self.realtime.next_id("item")
                self.send("input_audio_buffer.speech_stopped", audio_end_ms=at_ms, item_id=item_id)
                assert turn is not None
                self._commit(turn, item_id, respond=bool(detection.get("create_response", True)))
                self._speech_item_id = None

    def _commit_by_client(self) -> None:
        buffered = self._vad.buffered_ms()
        if buffered < 100:
            raise RealtimeRefusal(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered:.2f}ms of audio.",
            )
        item_id = self._speech_item_id or self.realtime.next_id("item")
        self._speech_item_id = None
        self._commit(self._vad.take_turn(), item_id, respond=False)

    def _commit(self, turn: Turn, item_id: str, *, respond: bool) -> None:
        previous = self._last_item_id
        self.send("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._remember(item)
        self.send("conversation.item.added", previous_item_id=previous, item=item)
        heard = words_in(turn.audio)
        self.messages.append({"role": "user", "content": heard})
        self._heard_messages.add(id(self.messages[-1]))  # billed as audio

        def transcribed() -> None:
            done = {**item, "content": [{"type": "input_audio", "transcript": heard if self._transcribes() else None}]}
            if self._transcribes():
                self.send(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item_id,
                    content_index=0,
                    transcript=heard,
                    usage={"type": "duration", "seconds": round((turn.end_ms - turn.start_ms) / 1000, 2)},
                )
            self._items[item_id] = done
            self.send("conversation.item.done", previous_item_id=previous, item=done)

        if respond and self._active is None:
            late = self.realtime.behaviour.transcripts_after_response
            if not late:
                transcribed()
            self._start_response({}, then=transcribed if late else None)
        else:
            transcribed()

    # --- items from the client ----------------------------------------------------------------

    def _remember(self, item: dict[str, Any]) -> None:
        self._items[item["id"]] = item
        self._last_item_id = item["id"]

    def _add_item(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        if previous_item_id not in (None, "root") and previous_item_id not in self._items:
            raise RealtimeRefusal(
                "item_not_found",
                f"Previous item with item_id '{previous_item_id}' not found in the conversation.",
                "previous_item_id",
            )
        item = {**item, "id": item.get("id") or self.realtime.next_id("item"), "object": "realtime.item"}
        item.setdefault("status", "completed")
        previous = self._last_item_id
        if item["type"] == "function_call_output":
            self.messages.append({"role": "tool", "tool_call_id": item["call_id"], "content": str(item["output"])})
        elif item["type"] == "message":
            parts = [part for part in item.get("content") or [] if isinstance(part, dict)]
            words = []
            for part in parts:
                if part.get("type") == "input_text" and part.get("text"):
                    words.append(str(part["text"]))
                elif part.get("type") == "input_audio" and part.get("audio"):
                    words.append(words_in(base64.b64decode(part["audio"])))
                elif part.get("type") in ("output_text", "output_audio"):
                    words.append(str(part.get("text") or part.get("transcript") or ""))
            self.messages.append({"role": item["role"], "content": " ".join(words).strip()})
        self._remember(item)
        self.send("conversation.item.added", previous_item_id=previous, item=item)
        self.send("conversation.item.done", previous_item_id=previous, item=item)

    # --- responses ----------------------------------------------------------------------------

    def _create_response(self, options: dict[str, Any]) -> None:
        if self._active is not None:
            raise RealtimeRefusal(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self._active[0]}. "
                "Wait until the response is finished before creating a new one.",
            )
        self._start_response(options)

    def _cancel_response(self, response_id: str | None) -> None:
        if self._active is None or (response_id is not None and response_id != self._active[0]):
            raise RealtimeRefusal(
                "response_cancel_not_active", "Cancellation failed: no active response found.", "response_id"
            )
        self._active[1].cancel()
        # Over at once (its response.done follows): a turn that ends meanwhile gets a response.
        self._active = None

    def _start_response(self, options: dict[str, Any], then: Callable[[], None] | None = None) -> None:
        response_id = self.realtime.next_id("resp")
        task = self._spawn(self._respond(response_id, options, then))
        self._active = (response_id, task)

    async def _respond(self, response_id: str, options: dict[str, Any], then: Callable[[], None] | None) -> None:
        output: list[dict[str, Any]] = []
        status = "completed"
        audio_started = False
        try:
            self.send(
                "response.created",
                response={"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []},
            )
            await asyncio.sleep(0)  # the response is active: the client may act before it goes on
            exact = EXACT_WORDS.search(str(options.get("instructions") or ""))
            if exact:
                text, tool_call = exact.group(1).strip().strip('"'), None
            else:
                tools = [
                    {"type": "function", "function": {"name": t.get("name")}}
                    for t in self.session.get("tools") or []
                    if isinstance(t, dict)
                ]
                reply = self.llm.behaviour.reply_for(self.messages, tools)
                text, tool_call = reply.text or "", reply.tool_call
            if tool_call is not None:
                output.append(await self._function_call(response_id, tool_call.name, json.dumps(tool_call.arguments)))
            else:
                modalities = options.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
                audio_started = "audio" in modalities and self.webrtc
                output.append(await self._message(response_id, text, audio="audio" in modalities))
        except asyncio.CancelledError:
            status = "cancelled"
            if response_id in self._output_item:  # what was said (or asked) before the cut
                output.append(self._items[self._output_item[response_id]])
        finally:
            self._output_item.pop(response_id, None)
            if self._active is not None and self._active[0] == response_id:
                self._active = None
            response: dict[str, Any] = {
                "id": response_id,
                "object": "realtime.response",
                "status": status,
                "output": output,
            }
            if status == "cancelled":
                response["status_details"] = {"type": "cancelled", "reason": "client_cancelled"}
            response["usage"] = self._usage(output)
            self.send("response.done", response=response)
            if audio_started:
                kind = "output_audio_buffer.stopped" if status == "completed" else "output_audio_buffer.cleared"
                self.send(kind, response_id=response_id)
            if then is not None:
                then()

    def _usage(self, output: list[dict[str, Any]]) -> dict[str, Any]:
        """The response's usage, shaped as the service reports it (RealtimeResponseUsage); the fake counts
        words (ten tokens a word of audio): input is the whole conversation read again, as it is billed."""

        def words(text: object) -> int:
            return len(str(text or "").split())

        audio_in = sum(10 * words(m.get("content")) for m in self.messages if id(m) in self._heard_messages)
        text_in = sum(words(m.get("content")) for m in self.messages if id(m) not in self._heard_messages)
        spoken = sum(
            words(part.get("transcript") or part.get("text"))
            for item in output
            if item.get("type") == "message"
            for part in item.get("content") or []
        )
        audio_out = 10 * spoken if "audio" in (self.session.get("output_modalities") or ["audio"]) else 0
        text_out = spoken + sum(words(item.get("arguments")) for item in output if item.get("type") == "function_call")
        return {
            "total_tokens": audio_in + text_in + audio_out + text_out,
            "input_tokens": audio_in + text_in,
            "output_tokens": audio_out + text_out,
            "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in, "cached_tokens": 0},
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }

    async def _held(self) -> None:
        await self.realtime.while_replies_held()

    async def _function_call(self, response_id: str, name: str, arguments: str) -> dict[str, Any]:
        item_id, call_id = self.realtime.next_id("item"), self.realtime.next_id("call")
        previous = self._last_item_id
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": call_id,
            "arguments": "",
        }
        self._remember(item)
        self._output_item[response_id] = item_id
        self.send("response.output_item.added", response_id=response_id, output_index=0, item=item)
        self.send("conversation.item.added", previous_item_id=previous, item=item)
        for number, piece in enumerate(_WORD.findall(arguments)):
            self.send(
                "response.function_call_arguments.delta",
                response_id=response_id,
                item_id=item_id,
                output_index=0,
                call_id=call_id,
                delta=piece,
            )
            if number == 0:
                await self._held()
        self.send(
            "response.function_call_arguments.done",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            call_id=call_id,
            name=name,
            arguments=arguments,
        )
        done = {**item, "status": "completed", "arguments": arguments}
        self._items[item_id] = done
        self.send("response.output_item.done", response_id=response_id, output_index=0, item=done)
        self.send("conversation.item.done", previous_item_id=previous, item=done)
        self.messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
            }
        )
        return done

    async def _message(self, response_id: str, text: str, *, audio: bool) -> dict[str, Any]:
        item_id = self.realtime.next_id("item")
        previous = self._last_item_id
        # The SDK: an assistant item's content is output_audio/output_text; a content part event's
        # part is audio/text.
        content_type, part_type = ("output_audio", "audio") if audio else ("output_text", "text")
        words = "transcript" if audio else "text"
        delta_event = "response.output_audio_transcript.delta" if audio else "response.output_text.delta"
        done_event = "response.output_audio_transcript.done" if audio else "response.output_text.done"
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        self._remember(item)
        self._output_item[response_id] = item_id
        where = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        self.send("response.output_item.added", response_id=response_id, output_index=0, item=item)
        self.send("conversation.item.added", previous_item_id=previous, item=item)
        self.send("response.content_part.added", **where, part={"type": part_type, words: ""})
        if audio:
            self._spoke = True
            if self.webrtc:
                self.send("output_audio_buffer.started", response_id=response_id)
        said = ""
        try:
            for number, piece in enumerate(_WORD.findall(text)):
                if audio and not self.webrtc:
                    self.send("response.output_audio.delta", **where, delta=_SILENT_AUDIO)
                self.send(delta_event, **where, delta=piece)
                said += piece
                if number == 0:
                    await self._held()
        except asyncio.CancelledError:
            # Cut off: the item keeps what was said so far, as the service's does.
            self._items[item_id] = {
                **item,
                "status": "incomplete",
                "content": [{"type": content_type, words: said}],
            }
            raise
        if audio and not self.webrtc:
            self.send("response.output_audio.done", **where)
        self.send(done_event, **where, **{words: text})
        self.send("response.content_part.done", **where, part={"type": part_type, words: text})
        done = {**item, "status": "completed", "content": [{"type": content_type, words: text}]}
        self._items[item_id] = done
        self.send("response.output_item.done", response_id=response_id, output_index=0, item=done)
        self.send("conversation.item.done", previous_item_id=previous, item=done)
        self.messages.append({"role": "assistant", "content": text})
        return done
