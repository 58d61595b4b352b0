"""A fake of OpenAI's GA Realtime API over WebRTC, for the browser demo's tests and benchmarks.

It lives inside the fake OpenAI server (`simulator/fake_openai.py`), so a session's `sdp_url`
(`{OPENAI_BASE_URL}/realtime/calls`) points at it whenever the API's `OPENAI_BASE_URL` points at
the fake. The browser posts its SDP offer there with the ephemeral key as Bearer, exactly as it
would to OpenAI; an aiortc `RTCPeerConnection` answers, accepts the data channel "oai-events"
and speaks the Realtime server events over it:

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

Every offer and every client event is recorded (`FakeRealtime.calls`, `GET /_fake/realtime`),
and `FakeRealtimeBehaviour` makes the endpoint refuse offers or secrets, to exercise the page's
retry, reconnect and fallback. aiortc is imported only when an offer arrives, so the fake chat
server runs without it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

EXACT_WORDS = re.compile(r"exactly these words:\s*(.+)", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"\s*\S+\s*")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "authorization, content-type",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Expose-Headers": "Location",
}


class FakeRealtimeBehaviour(BaseModel):
    """How the fake Realtime endpoint misbehaves; counters are consumed by the requests they affect."""

    model_config = ConfigDict(extra="forbid")

    refuse_calls_next: int = Field(default=0, ge=0, description="Refuse this many SDP offers")
    refuse_calls_always: bool = False
    refuse_calls_status: int = Field(default=503, ge=400, le=599)
    refuse_secrets_next: int = Field(default=0, ge=0, description="Refuse this many client secret requests")
    refuse_secrets_status: int = Field(default=400, ge=400, le=599)
    refuse_secrets_message: str = "Invalid value for 'session.model' (refused by the fake Realtime API)."


class FakeRealtimeCall(BaseModel):
    """One SDP offer and, once connected, every event both sides sent over the data channel."""

    call_id: str
    received_at: float
    authorization: str | None = None
    status_code: int | None = None
    secret: str | None = None
    client_events: list[dict[str, Any]] = Field(default_factory=list)
    server_events: list[dict[str, Any]] = Field(default_factory=list)
    channel_open: bool = False


class FakeRealtime:
    """The Realtime half of the fake server's state: issued secrets, calls, behaviour."""

    def __init__(self) -> None:
        self.behaviour = FakeRealtimeBehaviour()
        self.secret_requests: list[dict[str, Any]] = []
        self.secrets: dict[str, dict[str, Any]] = {}  # value -> {"expires_at": ..., "session": ...}
        self.calls: list[FakeRealtimeCall] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._peers: list[Any] = []

    def reset(self) -> None:
        with self._lock:
            self.behaviour = FakeRealtimeBehaviour()
            self.secret_requests.clear()
            self.secrets.clear()
            self.calls.clear()

    def set_behaviour(self, behaviour: FakeRealtimeBehaviour) -> None:
        with self._lock:
            self.behaviour = behaviour

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_fake{next(self._ids)}"

    def take_secret_refusal(self) -> int | None:
        with self._lock:
            if self.behaviour.refuse_secrets_next > 0:
                self.behaviour.refuse_secrets_next -= 1
                return self.behaviour.refuse_secrets_status
            return None

    def take_call_refusal(self) -> int | None:
        with self._lock:
            b = self.behaviour
            if b.refuse_calls_always:
                return b.refuse_calls_status
            if b.refuse_calls_next > 0:
                b.refuse_calls_next -= 1
                return b.refuse_calls_status
            return None

    def issue_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answers `POST /v1/realtime/client_secrets` as the GA API does: value, expires_at, session."""
        requested = body.get("session") if isinstance(body.get("session"), dict) else {}
        expires_after = body.get("expires_after") if isinstance(body.get("expires_after"), dict) else {}
        seconds = int(expires_after.get("seconds") or 600)
        now = int(time.time())
        audio = requested.get("audio") if isinstance(requested.get("audio"), dict) else {}
        audio_in = audio.get("input") if isinstance(audio.get("input"), dict) else {}
        audio_out = audio.get("output") if isinstance(audio.get("output"), dict) else {}
        session = {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.next_id("sess"),
            "model": requested.get("model") or "gpt-realtime",
            "output_modalities": requested.get("output_modalities") or ["audio"],
            "instructions": requested.get("instructions") or "You are a helpful assistant.",
            "tools": requested.get("tools") or [],
            "tool_choice": requested.get("tool_choice") or "auto",
            "max_output_tokens": requested.get("max_output_tokens") or "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "expires_at": 0,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": audio_in.get("transcription"),
                    "noise_reduction": None,
                    "turn_detection": audio_in.get("turn_detection")
                    or {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
                        "idle_timeout_ms": None, "create_response": True, "interrupt_response": True},
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": audio_out.get("voice") or "alloy",
                    "speed": 1.0,
                },
            },
            "include": None,
        }
        answer = {"value": f"ek_fake_{uuid.uuid4().hex}", "expires_at": now + seconds, "session": session}
        with self._lock:
            self.secret_requests.append(body)
            self.secrets[answer["value"]] = {"expires_at": answer["expires_at"], "session": session}
        return answer

    def secret_session(self, authorization: str | None) -> tuple[str | None, dict[str, Any] | None]:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, None
        issued = self.secrets.get(token.strip())
        if issued is None or issued["expires_at"] < time.time():
            return token.strip(), None
        return token.strip(), issued["session"]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "behaviour": self.behaviour.model_dump(),
                "secret_requests": list(self.secret_requests),
                "calls": [call.model_dump() for call in self.calls],
            }


def _error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": type_, "param": None, "code": code}},
        headers=CORS_HEADERS,
    )


class _Peer:
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
        item = {**item, "id": item.get("id") or self.realtime.next_id("item"), "object": "realtime.item", "status": "completed"}
        if item.get("type") == "function_call_output":
            self.messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": str(item.get("output", ""))})
            self._send("conversation.item.added", previous_item_id=None, item=item)
            self._send("conversation.item.done", previous_item_id=None, item=item)
            return
        if item.get("type") != "message":
            return
        content = [part for part in item.get("content") or [] if isinstance(part, dict)]
        spoken = next((p.get("transcript") for p in content if p.get("type") == "input_audio" and p.get("transcript")), None)
        typed = " ".join(str(p.get("text", "")) for p in content if p.get("type") == "input_text").strip()
        if spoken:
            # As if the visitor had said it: what server VAD and input transcription would report.
            self._send("input_audio_buffer.speech_started", audio_start_ms=0, item_id=item["id"])
            self._send("input_audio_buffer.speech_stopped", audio_end_ms=1200, item_id=item["id"])
            self._send("input_audio_buffer.committed", previous_item_id=None, item_id=item["id"])
            heard = {**item, "content": [{"type": "input_audio", "transcript": None}]}
            self._send("conversation.item.added", previous_item_id=None, item=heard)
            self._send("conversation.item.done", previous_item_id=None, item=heard)
            self._send("conversation.item.input_audio_transcription.completed", item_id=item["id"], content_index=0,
                       transcript=spoken, usage={"type": "duration", "seconds": 1.2})
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
        tools = [{"type": "function", "function": {"name": t.get("name")}} for t in self.session.get("tools") or []
                 if isinstance(t, dict)]
        if exact:
            text, tool_call = exact.group(1).strip().strip('"'), None
        else:
            reply = self.llm.behaviour.reply_for(self.messages, tools)
            text, tool_call = reply.text, reply.tool_call
        self._send("response.created", response={"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []})
        if tool_call is not None:
            call_id = self.realtime.next_id("call")
            arguments = json.dumps(tool_call.arguments)
            item = {"id": item_id, "type": "function_call", "status": "completed", "name": tool_call.name,
                    "call_id": call_id, "arguments": arguments}
            self._send("response.output_item.added", response_id=response_id, output_index=0, item={**item, "arguments": ""})
            for piece in _WORD.findall(arguments):
                self._send("response.function_call_arguments.delta", response_id=response_id, item_id=item_id,
                           output_index=0, call_id=call_id, delta=piece)
            self._send("response.function_call_arguments.done", response_id=response_id, item_id=item_id, output_index=0,
                       call_id=call_id, name=tool_call.name, arguments=arguments)
            self._send("response.output_item.done", response_id=response_id, output_index=0, item=item)
            self.messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": tool_call.name, "arguments": arguments}}]})
            self._send("response.done", response={"id": response_id, "object": "realtime.response", "status": "completed", "output": [item]})
            return
        text = text or ""
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "output_audio", "transcript": text}]}
        self._send("response.output_item.added", response_id=response_id, output_index=0, item={**item, "status": "in_progress", "content": []})
        self._send("response.content_part.added", response_id=response_id, item_id=item_id, output_index=0, content_index=0,
                   part={"type": "output_audio", "transcript": ""})
        self._send("output_audio_buffer.started", response_id=response_id)
        for piece in _WORD.findall(text):
            self._send("response.output_audio_transcript.delta", response_id=response_id, item_id=item_id, output_index=0,
                       content_index=0, delta=piece)
        self._send("response.output_audio_transcript.done", response_id=response_id, item_id=item_id, output_index=0,
                   content_index=0, transcript=text)
        self._send("response.content_part.done", response_id=response_id, item_id=item_id, output_index=0, content_index=0,
                   part={"type": "output_audio", "transcript": text})
        self._send("response.output_item.done", response_id=response_id, output_index=0, item=item)
        self._send("response.done", response={"id": response_id, "object": "realtime.response", "status": "completed", "output": [item]})
        self._send("output_audio_buffer.stopped", response_id=response_id)
        self.messages.append({"role": "assistant", "content": text})


def install_realtime_calls(app: FastAPI, llm: Any) -> None:
    """Adds `POST /v1/realtime/calls` (the WebRTC SDP exchange) and `/_fake/realtime` to the fake app.

    `llm` is the fake's `FakeOpenAI` state; its `realtime` attribute holds the Realtime state.
    """
    realtime: FakeRealtime = llm.realtime

    @app.options("/v1/realtime/calls")
    async def calls_preflight() -> Response:
        return Response(status_code=204, headers=CORS_HEADERS)

    @app.post("/v1/realtime/calls")
    async def create_call(request: Request) -> Response:
        record = FakeRealtimeCall(call_id=realtime.next_id("rtc"), received_at=time.time(),
                                  authorization=request.headers.get("authorization"))
        with realtime._lock:
            realtime.calls.append(record)

        def answered(response: Response) -> Response:
            record.status_code = response.status_code
            return response

        token, session = realtime.secret_session(record.authorization)
        record.secret = token
        if token is None:
            return answered(_error(401, "You didn't provide an API key.", code="invalid_api_key"))
        if session is None:
            return answered(_error(401, "Incorrect or expired ephemeral key provided.", code="invalid_api_key"))
        if (status := realtime.take_call_refusal()) is not None:
            return answered(_error(status, "The Realtime service is unavailable (refused by the fake Realtime API).",
                                   type_="server_error"))
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/sdp":
            return answered(_error(400, "Send the SDP offer with Content-Type: application/sdp."))
        offer = (await request.body()).decode(errors="replace")
        if not offer.startswith("v=0"):
            return answered(_error(400, "The body is not an SDP offer."))
        try:
            import aiortc  # noqa: F401
        except ImportError:
            return answered(_error(501, "The fake Realtime endpoint needs aiortc (pip install aiortc).", type_="server_error"))
        peer = _Peer(realtime, llm, record, session)
        realtime._peers.append(peer)
        try:
            answer = await peer.answer(offer)
        except Exception as error:  # noqa: BLE001  (a malformed offer is the client's problem: say so)
            await peer.close()
            return answered(_error(400, f"The SDP offer could not be used: {error}"))
        return answered(Response(
            content=answer, status_code=201, media_type="application/sdp",
            headers={**CORS_HEADERS, "Location": f"/v1/realtime/calls/{record.call_id}"},
        ))

    @app.get("/_fake/realtime")
    async def realtime_records() -> dict[str, Any]:
        return realtime.snapshot()

    @app.put("/_fake/realtime/behaviour")
    async def realtime_behaviour(new: FakeRealtimeBehaviour) -> FakeRealtimeBehaviour:
        realtime.set_behaviour(new)
        return new

    @app.delete("/_fake/realtime")
    async def realtime_reset() -> dict[str, Any]:
        peers, realtime._peers = realtime._peers, []
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)
        realtime.reset()
        return {"cleared": True}
