"""The fake model's side of one WebRTC call of OpenAI's GA Realtime API.

An aiortc `RTCPeerConnection` answers the browser's SDP offer, accepts the data channel
"oai-events" and speaks the Realtime server events over it:

* `session.created` when the channel opens (with the session the client secret was made for);
* a user message item created with `input_audio` content and a `transcript` is taken as if it
  had been spoken (there is no real audio to transcribe): speech started/stopped, the buffer
  committed, `conversation.item.input_audio_transcription.completed`, then a response, as
  server VAD would start one;
* a typed `input_text` message is added to the conversation; `response.create` answers it;
* a response is text (`response.output_audio_transcript.delta`/`done`, framed by
  `output_audio_buffer.started`/`stopped`) or a function call
  (`response.function_call_arguments.done`), chosen by the fake model's rules
  (`FakeLLMBehaviour.reply_for`, so `PUT /_fake/behaviour` scripts both fakes); a
  `function_call_output` followed by `response.create` gets "Done: <output>.";
* `response.create` whose instructions say "exactly these words: X" answers X (the greeting).

aiortc is imported only when a peer is made, so the fake chat server runs without it.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from simulator.fake_openai.realtime_state import FakeRealtime, FakeRealtimeCall

EXACT_WORDS = re.compile(r"exactly these words:\s*(.+)", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\s*\S+\s*")


class RealtimePeer:
    """The fake model's side of one WebRTC call: an aiortc peer connection and its conversation."""

    def __init__(self, realtime: FakeRealtime, llm: Any, record: FakeRealtimeCall, session: dict[str, Any]) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection
        from aiortc.contrib.media import MediaBlackhole

        self.realtime = realtime
        self.llm = llm  # the FakeOpenAI state: its behaviour.reply_for decides what the model says
        self.record = record
        self.session = dict(session)
        # No ICE servers: aiortc's default would ask a public STUN server; loopback needs none.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.audio_sink = MediaBlackhole()  # the visitor's (fake) microphone: heard and dropped
        self.channel: Any = None
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": self.session.get("instructions", "")}]
        self._events = itertools.count(1)
        self._speech_responses = 0

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.audio_sink.addTrack(track)

        @self.pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            if channel.label != "oai-events":
                return
            self.channel = channel
            channel.on("message", self._on_message)
            if channel.readyState == "open":
                self._opened()
            else:
                channel.on("open", self._opened)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            if self.pc.connectionState in ("failed", "closed"):
                await self.close()

    async def answer(self, offer_sdp: str) -> str:
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.audio_sink.start()
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        await self.audio_sink.stop()
        await self.pc.close()

    # --- server events --------------------------------------------------------------------------

    def _send(self, event_type: str, **fields: Any) -> None:
        event = {"type": event_type, "event_id": f"event_fake{next(self._events)}", **fields}
        self.record.server_events.append(event)
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event))

    def _opened(self) -> None:
        self.record.channel_open = True
        self._send("session.created", session=self.session)

    def _on_message(self, message: Any) -> None:
        try:
            event = json.loads(message)
        except (TypeError, ValueError):
            self._send("error", error={"type": "invalid_request_error", "message": "The event is not JSON."})
            return
        if not isinstance(event, dict):
            return
        self.record.client_events.append(event)
        kind = event.get("type")
        if kind == "session.update" and isinstance(event.get("session"), dict):
            self.session.update(event["session"])
            self._send("session.updated", session=self.session)
        elif kind == "conversation.item.create" and isinstance(event.get("item"), dict):
            self._item_created(event["item"])
        elif kind == "response.create":
            options = event.get("response") if isinstance(event.get("response"), dict) else {}
            self._respond(options)

    def _item_created(self, item: dict[str, Any]) -> None:
        item = {
            **item,
            "id": item.get("id") or self.realtime.next_id("item"),
            "object": "realtime.item",
            "status": "completed",
        }
        if item.get("type") == "function_call_output":
            self.messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": str(item.get("output", ""))}
            )
            self._send("conversation.item.added", previous_item_id=None, item=item)
            self._send("conversation.item.done", previous_item_id=None, item=item)
            return
        if item.get("type") != "message":
            return
        content = [part for part in item.get("content") or [] if isinstance(part, dict)]
        spoken = next(
            (p.get("transcript") for p in content if p.get("type") == "input_audio" and p.get("transcript")), None
        )
        typed = " ".join(str(p.get("text", "")) for p in content if p.get("type") == "input_text").strip()
        if spoken:
            # As if the visitor had said it: what server VAD and input transcription would report.
            self._send("input_audio_buffer.speech_started", audio_start_ms=0, item_id=item["id"])
            self._send("input_audio_buffer.speech_stopped", audio_end_ms=1200, item_id=item["id"])
            self._send("input_audio_buffer.committed", previous_item_id=None, item_id=item["id"])
            heard = {**item, "content": [{"type": "input_audio", "transcript": None}]}
            self._send("conversation.item.added", previous_item_id=None, item=heard)
            self._send("conversation.item.done", previous_item_id=None, item=heard)
            self._send(
                "conversation.item.input_audio_transcription.completed",
                item_id=item["id"],
                content_index=0,
                transcript=spoken,
                usage={"type": "duration", "seconds": 1.2},
            )
            self.messages.append({"role": "user", "content": spoken})
            self._respond({})
        elif typed:
            self.messages.append({"role": "user", "content": typed})
            self._send("conversation.item.added", previous_item_id=None, item=item)
            self._send("conversation.item.done", previous_item_id=None, item=item)

    def _respond(self, options: dict[str, Any]) -> None:
        response_id = self.realtime.next_id("resp")
        item_id = self.realtime.next_id("item")
        exact = EXACT_WORDS.search(str(options.get("instructions") or ""))
        tools = [
            {"type": "function", "function": {"name": t.get("name")}}
            for t in self.session.get("tools") or []
            if isinstance(t, dict)
        ]
        if exact:
            text, tool_call = exact.group(1).strip().strip('"'), None
        else:
            reply = self.llm.behaviour.reply_for(self.messages, tools)
            text, tool_call = reply.text, reply.tool_call
        self._send(
            "response.created",
            response={"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []},
        )
        if tool_call is not None:
            call_id = self.realtime.next_id("call")
            arguments = json.dumps(tool_call.arguments)
            item = {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "name": tool_call.name,
                "call_id": call_id,
                "arguments": arguments,
            }
            self._send(
                "response.output_item.added", response_id=response_id, output_index=0, item={**item, "arguments": ""}
            )
            for piece in _WORD.findall(arguments):
                self._send(
                    "response.function_call_arguments.delta",
                    response_id=response_id,
                    item_id=item_id,
                    output_index=0,
                    call_id=call_id,
                    delta=piece,
                )
            self._send(
                "response.function_call_arguments.done",
                response_id=response_id,
                item_id=item_id,
                output_index=0,
                call_id=call_id,
                name=tool_call.name,
                arguments=arguments,
            )
            self._send("response.output_item.done", response_id=response_id, output_index=0, item=item)
            self.messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": call_id,
                            "type": "function",
                            "function": {"name": tool_call.name, "arguments": arguments},
                        }
                    ],
                }
            )
            self._send(
                "response.done",
                response={"id": response_id, "object": "realtime.response", "status": "completed", "output": [item]},
            )
            return
        text = text or ""
        item = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": text}],
        }
        self._send(
            "response.output_item.added",
            response_id=response_id,
            output_index=0,
            item={**item, "status": "in_progress", "content": []},
        )
        self._send(
            "response.content_part.added",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            content_index=0,
            part={"type": "output_audio", "transcript": ""},
        )
        self._send("output_audio_buffer.started", response_id=response_id)
        for piece in _WORD.findall(text):
            self._send(
                "response.output_audio_transcript.delta",
                response_id=response_id,
                item_id=item_id,
                output_index=0,
                content_index=0,
                delta=piece,
            )
        self._send(
            "response.output_audio_transcript.done",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            content_index=0,
            transcript=text,
        )
        self._send(
            "response.content_part.done",
            response_id=response_id,
            item_id=item_id,
            output_index=0,
            content_index=0,
            part={"type": "output_audio", "transcript": text},
        )
        self._send("response.output_item.done", response_id=response_id, output_index=0, item=item)
        self._send(
            "response.done",
            response={"id": response_id, "object": "realtime.response", "status": "completed", "output": [item]},
        )
        self._send("output_audio_buffer.stopped", response_id=response_id)
        self.messages.append({"role": "assistant", "content": text})
