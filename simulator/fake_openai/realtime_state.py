"""The Realtime half of the fake's state: the client secrets it issued, the WebRTC calls it
answered (every event of both sides) and how it misbehaves (`FakeRealtimeBehaviour`: refusing
offers or secrets, to exercise the demo page's retry, reconnect and fallback).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# The service's turn detection when a session does not choose (its documented defaults).
SERVER_VAD: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class FakeRealtimeBehaviour(BaseModel):
    """How the fake Realtime endpoint misbehaves; counters are consumed by the requests they affect."""

    model_config = ConfigDict(extra="forbid")

    refuse_calls_next: int = Field(default=0, ge=0, description="Refuse this many SDP offers")
    refuse_calls_always: bool = False
    refuse_calls_status: int = Field(default=503, ge=400, le=599)
    refuse_secrets_next: int = Field(default=0, ge=0, description="Refuse this many client secret requests")
    refuse_secrets_status: int = Field(default=400, ge=400, le=599)
    refuse_secrets_message: str = "Invalid value for 'session.model' (refused by the fake Realtime API)."
    hold_replies: bool = Field(
        default=False, description="Keep every response active after its first delta until this is set back to false"
    )
    transcripts_after_response: bool = Field(
        default=True, description="Send a spoken turn's input transcription after the response it started"
    )


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
    created_with: str = Field(
        default="client_secret",
        description="client_secret (a browser's SDP) or api_key (the server's multipart create)",
    )
    requested_session: dict[str, Any] | None = Field(
        default=None, description="The session the server's multipart create asked for (api_key calls)"
    )
    control_channels: int = Field(default=0, description="WebSockets that joined the call (call_id=...)")
    hung_up: bool = False
    sip_status: str | None = Field(default=None, description="ringing, accepted, rejected or referred (SIP calls)")
    referred_to: str | None = None
    webhook_status: int | None = Field(default=None, description="How the project answered the incoming webhook")


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
        # Client events the fake refused (what the service would have refused), and server events
        # the fake failed to shape as the SDK says: both mean a bug unless a test provoked them.
        self.refusals: list[dict[str, Any]] = []
        self.shape_errors: list[str] = []
        self._held: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def reset(self) -> None:
        with self._lock:
            self.behaviour = FakeRealtimeBehaviour()
            self.secret_requests.clear()
            self.secrets.clear()
            self.calls.clear()
            self.refusals.clear()
            self.shape_errors.clear()
        self._release_replies()

    def set_behaviour(self, behaviour: FakeRealtimeBehaviour) -> None:
        with self._lock:
            self.behaviour = behaviour
        if not behaviour.hold_replies:
            self._release_replies()

    async def while_replies_held(self) -> None:
        """Returns at once, or when `hold_replies` is turned off (from any thread)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self.behaviour.hold_replies:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._held.append((loop, waiter))
        await waiter

    def _release_replies(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for loop, waiter in held:
            loop.call_soon_threadsafe(_release, waiter)

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
        requested: dict[str, Any] = body["session"] if isinstance(body.get("session"), dict) else {}
        expires_after: dict[str, Any] = body["expires_after"] if isinstance(body.get("expires_after"), dict) else {}
        seconds = int(expires_after.get("seconds") or 600)
        now = int(time.time())
        session = self.new_session(requested)
        answer: dict[str, Any] = {
            "value": f"ek_fake_{uuid.uuid4().hex}",
            "expires_at": now + seconds,
            "session": session,
        }
        with self._lock:
            self.secret_requests.append(body)
            self.secrets[answer["value"]] = {"expires_at": answer["expires_at"], "session": session}
        return answer

    def new_session(self, requested: dict[str, Any]) -> dict[str, Any]:
        """The session the service reports for a (validated) request: its fields, else the defaults."""
        audio: dict[str, Any] = requested["audio"] if isinstance(requested.get("audio"), dict) else {}
        audio_in: dict[str, Any] = audio["input"] if isinstance(audio.get("input"), dict) else {}
        audio_out: dict[str, Any] = audio["output"] if isinstance(audio.get("output"), dict) else {}
        session: dict[str, Any] = {
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
                    # Sent as null, it is off (the client commits and asks for responses).
                    "turn_detection": audio_in.get("turn_detection", SERVER_VAD),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": audio_out.get("voice") or "alloy",
                    "speed": 1.0,
                },
            },
            "include": None,
        }
        return session

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
