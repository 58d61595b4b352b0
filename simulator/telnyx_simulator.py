"""A stand-in for Telnyx Call Control, so CloudGreet can take phone calls without a phone network.

Towards our API it behaves like Telnyx does: it places calls by POSTing signed webhooks
(bodies shaped like real traffic, see /work/shared/reference/telnyx-webhooks), it serves the
Call Control command API under /v2 that the real `telnyx` SDK talks to, and it plays the
person on the line from a `CallScript`. It also reproduces the faults of real traffic
(at-least-once, reordered and late webhooks, failing commands, calls that ended) because
those are exactly what a durable call workflow must survive.

Beyond the inbound call it plays the other legs our app creates: escalation transfers
(`transfer`: a second leg in the same call session, answered, unanswered or busy as the
call's script says), call-backs (`POST /v2/calls`, with answering-machine detection, picked
up by a scripted person, a voicemail box, nobody, or a busy line) and SMS (`POST
/v2/messages`, recorded, idempotent on the Idempotency-Key header).

Everything of one simulator runs on one asyncio event loop. `TelnyxSimulatorServer` runs
that loop (and uvicorn) in a background thread and offers thread-safe entry points to code
running on another loop, such as a pytest-asyncio test.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import math
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx
import nacl.signing
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from simulator.call_script import CallerLine, CallScript, Misbehaviour

log = logging.getLogger("cloudgreet.simulator")

T = TypeVar("T")

DEFAULT_CONNECTION_ID = "2811212257810187875"
# The SDK posts Telnyx's wire names (transcription_start, playback_stop) for the methods
# it calls start_transcription / stop_playback. Both spellings are accepted; commands are
# recorded under the SDK method's name, which is what our code and tests talk about.
ACTION_ALIASES = {
    "transcription_start": "start_transcription",
    "transcription_stop": "stop_transcription",
    "playback_stop": "stop_playback",
    "playback_start": "start_playback",
}
# Telnyx rejects these commands without the parameters; so does the simulator.
REQUIRED_PARAMS = {"speak": ("payload", "voice"), "transfer": ("to",)}
INTERIM_SPACING_SECONDS = 0.02
MAX_INTERIM_TRANSCRIPTS = 3
FINAL_TRANSCRIPT_CONFIDENCE = 0.93
# How long the remote phone rings before the person dialled by our app picks up (never
# longer than the call's ring time).
OUTBOUND_PICKUP_SECONDS = 0.1
# A voicemail box hangs up once the agent has been quiet this long.
VOICEMAIL_SILENCE_SECONDS = 2.0
# Answering-machine detection values that request it (anything but "disabled").
AMD_DISABLED = (None, "", "disabled")
SIP_HANGUP_CAUSES = {"normal_clearing": "200", "timeout": "487", "originator_cancel": "487", "user_busy": "486"}
# With reorder_events, how long an event is held back waiting for one to swap with.
REORDER_WINDOW_SECONDS = 0.05
WEBHOOK_TIMEOUT_SECONDS = 10.0
LATE_TRANSCRIPT = "hello are you still there"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ReceivedCommand:
    """One Call Control command as it reached the simulator, and what it answered."""

    action: str
    call_control_id: str
    command_id: str | None
    body: dict[str, Any]
    received_at: float
    status_code: int
    duplicate: bool = False


@dataclass
class ConversationLine:
    """A sentence heard on the call. Agent lines are logged when they start playing;
    `ended_at` is set when the sentence finished (or was cut off), so a viewer knows
    whether `interrupted` is final."""

    speaker: Literal["caller", "agent", "system"]
    text: str
    at: float
    interrupted: bool = False
    ended_at: float | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One POST of one webhook to our API (a redelivery is another WebhookDelivery)."""

    event_type: str
    event_id: str
    attempt: int
    status_code: int | None
    sent_at: float
    answered_at: float
    body: dict[str, Any]
    error: str | None = None


@dataclass
class TurnTiming:
    """When a caller line's final transcription was sent, and when the agent's first
    speak command after it arrived: the latency the caller hears as silence."""

    line_index: int
    final_transcript_sent_at: float
    first_speak_received_at: float | None = None


@dataclass
class TransferAttempt:
    """One `transfer` command that took effect on a call: the new leg it rang and how that
    went. `outcome` is "ringing" until settled, then "answered", "no_answer", "busy" or
    "cancelled" (the caller or our app hung up while it rang)."""

    to: str
    command_id: str | None
    outcome: Literal["ringing", "answered", "no_answer", "busy", "cancelled"]
    leg_call_control_id: str
    at: float


@dataclass(frozen=True)
class SentMessage:
    """One SMS our app sent through POST /v2/messages."""

    from_number: str
    to_number: str
    text: str
    at: float
    idempotency_key: str | None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(eq=False)
class SimulatedCall:
    """The public record of one simulated call, filled in while the call runs.

    `status` is the phone call's state. `ended` is set once the call has hung up AND every
    webhook of the call was delivered (or given up), so whoever awaits it sees the whole
    record, late and duplicate deliveries included.
    """

    call_control_id: str
    script: CallScript
    direction: Literal["incoming", "outgoing"] = "incoming"
    from_number: str = ""
    to_number: str = ""
    status: Literal["ringing", "active", "ended"] = "ringing"
    conversation: list[ConversationLine] = field(default_factory=list)
    commands: list[ReceivedCommand] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)
    turn_timings: list[TurnTiming] = field(default_factory=list)
    hangup_source: str | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    transfers: list[TransferAttempt] = field(default_factory=list)
    call_session_id: str = ""
    # For the leg a transfer created: the call_control_id of the call transferred.
    transferred_from: str | None = None

    async def wait_ended(self, timeout: float) -> SimulatedCall:
        """Wait until the call is over and its webhooks are delivered."""
        try:
            await asyncio.wait_for(self.ended.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"call {self.call_control_id} still {self.status} after {timeout} s "
                f"({len(self.conversation)} lines, {len(self.deliveries)} deliveries)"
            ) from None
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "direction": self.direction,
            "from_number": self.from_number,
            "to_number": self.to_number,
            "status": self.status,
            "finished": self.ended.is_set(),
            "hangup_source": self.hangup_source,
            "script": self.script.model_dump(mode="json"),
            "conversation": [asdict(line) for line in self.conversation],
            "commands": [asdict(command) for command in self.commands],
            "deliveries": [asdict(delivery) for delivery in self.deliveries],
            "turn_timings": [asdict(timing) for timing in self.turn_timings],
            "transfers": [asdict(transfer) for transfer in self.transfers],
            "call_session_id": self.call_session_id,
            "transferred_from": self.transferred_from,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "direction": self.direction,
            "from_number": self.from_number,
            "to_number": self.to_number,
            "status": self.status,
            "finished": self.ended.is_set(),
        }


# --------------------------------------------------------------------------- signing


def generate_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 key pair: (private seed base64 for the simulator, public key base64
    for our API's TELNYX_PUBLIC_KEY)."""
    key = nacl.signing.SigningKey.generate()
    return _b64(bytes(key)), _b64(bytes(key.verify_key))


def signing_key_from_b64(seed_b64: str) -> nacl.signing.SigningKey:
    try:
        seed = base64.b64decode(seed_b64, validate=True)
    except ValueError as error:
        raise ValueError(f"the simulator signing key is not valid base64: {error}") from None
    if len(seed) != 32:
        raise ValueError(f"the simulator signing key must be a 32-byte seed, got {len(seed)} bytes")
    return nacl.signing.SigningKey(seed)


def sign_webhook(signing_key: nacl.signing.SigningKey, raw_body: str, timestamp: str) -> dict[str, str]:
    """Headers exactly as Telnyx signs: Ed25519 over f"{timestamp}|{raw body}"."""
    signature = signing_key.sign(f"{timestamp}|{raw_body}".encode()).signature
    return {
        "content-type": "application/json",
        "telnyx-signature-ed25519": _b64(signature),
        "telnyx-timestamp": timestamp,
    }


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --------------------------------------------------------------------------- errors


def telnyx_error(code: str, title: str, detail: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


AUTH_FAILED = telnyx_error(
    "10009", "Authentication failed", "The required authentication headers were missing or invalid."
)
CALL_ENDED = telnyx_error(
    "90018", "Call has already ended", "This call is no longer active and can't receive commands."
)
UNEXPECTED = {"errors": [{"code": "10007", "title": "Unexpected error"}]}
OK = {"data": {"result": "ok"}}


def _unknown_call(call_control_id: str) -> dict[str, Any]:
    return telnyx_error("90015", "Invalid Call Control ID", f"No call with call_control_id {call_control_id!r}.")


def _missing_param(name: str) -> dict[str, Any]:
    error = telnyx_error("10004", "Missing required parameter", f"The '{name}' parameter is required.")
    error["errors"][0]["source"] = {"pointer": f"/{name}"}
    return error


def _authorized(authorization: str | None) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _missing(body: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((name for name in names if not body.get(name)), None)


# --------------------------------------------------------------------------- helpers


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _new_call_control_id() -> str:
    return "v3:" + secrets.token_urlsafe(40)


def _new_leg_id() -> str:
    return str(uuid.uuid1(node=secrets.randbits(48)))


def _ring_seconds(body: dict[str, Any], script: CallScript) -> float:
    """How long a dialled phone rings before Telnyx gives up: the script's ring time, cut
    short by the command's timeout_secs."""
    timeout = body.get("timeout_secs")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return min(float(timeout), script.ring_seconds)
    return script.ring_seconds


def _amd_requested(body: dict[str, Any]) -> bool:
    return body.get("answering_machine_detection") not in AMD_DISABLED


def _first_number(to: Any) -> str:
    return str(to[0]) if isinstance(to, list) and to else str(to)


def _interim_prefixes(words: list[str]) -> list[str]:
    """Growing prefixes of the line, about one per three words, at most three."""
    count = min(MAX_INTERIM_TRANSCRIPTS, max(1, math.ceil(len(words) / 3)))
    return [" ".join(words[: math.ceil(len(words) * k / count)]) for k in range(1, count + 1)]


@dataclass(eq=False)
class _Speak:
    text: str
    voice: str
    client_state: str | None
    speak_id: str = field(default_factory=lambda: secrets.token_urlsafe(8)[:10])
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    line: ConversationLine | None = None


@dataclass(frozen=True)
class _Event:
    event_type: str
    data: dict[str, Any]
    turn_index: int | None = None  # set on the webhook that closes a caller turn


_CLOSE = None  # end-of-call marker in a call's outbox


# --------------------------------------------------------------------------- one call


AnswerBehaviour = Literal["answer", "voicemail", "no_answer", "busy"]


class _CallLeg:
    """The network side of one call: the person on the line, the audio playing to them,
    the webhooks about it and the commands it receives.

    An incoming leg waits for our app to answer. An outgoing leg (a dial, or the second leg
    of a transfer) rings and is picked up, or not, as `answer_behaviour` says.
    """

    def __init__(
        self,
        simulator: TelnyxSimulator,
        call: SimulatedCall,
        connection_id: str,
        call_session_id: str | None = None,
    ) -> None:
        self.sim = simulator
        self.call = call
        self.loop = asyncio.get_running_loop()
        self.call_leg_id = _new_leg_id()
        self.call_session_id = call_session_id or _new_leg_id()
        call.call_session_id = self.call_session_id
        self.connection_id = connection_id
        self.start_time = _iso_now()
        self.end_time: str | None = None
        self.client_state: str | None = None
        self.transcribing = False
        self.speak_queue: deque[_Speak] = deque()
        self.playing: _Speak | None = None
        self.last_speak_id: str | None = None
        self.idle_since: float | None = self.loop.time()
        self.agent_spoke_since_caller = False
        self.first_agent_start_since_caller: float | None = None
        self.seen_command_ids: set[str] = set()
        self.failures_left = call.script.misbehaviour.fail_commands
        self.outbox: asyncio.Queue[_Event | None] = asyncio.Queue()
        self.outbox_closed = False
        self._changed = asyncio.Event()
        self._delivery: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the person and the audio
        self._person: asyncio.Task[None] | None = None
        self._guard: asyncio.TimerHandle | None = None
        self.hangup_cause = "normal_clearing"
        # Outgoing legs: who picks up, after how long it gives up ringing, whether our app
        # asked for answering-machine detection.
        self.answer_behaviour: AnswerBehaviour = "answer"
        self.ring_seconds = call.script.ring_seconds
        self.detect_machine = False
        # Transfers: the legs this call was transferred to; on such a leg, the call it was
        # transferred from and the attempt it answers; once answered, the two are bridged.
        self.transfer_legs: list[_CallLeg] = []
        self.transfer_parent: _CallLeg | None = None
        self.transfer_attempt: TransferAttempt | None = None
        self.bridged_to: _CallLeg | None = None

    @property
    def misbehaviour(self) -> Misbehaviour:
        return self.call.script.misbehaviour

    # ---- lifecycle

    def start(self) -> None:
        """Ring: post call.initiated and start the person, the audio and the deliveries."""
        self.post("call.initiated", self._initiated_payload())
        self._delivery = self.loop.create_task(self._deliver_events())
        self._person = self.loop.create_task(self._run_person())
        self._tasks = [self.loop.create_task(self._play_speeches()), self._person]
        self._guard = self.loop.call_later(self.call.script.max_call_seconds, self.end_call, True)

    def _pick_up(self) -> None:
        if self.call.status == "ringing":
            self.call.status = "active"
            self.post("call.answered", self._answered_payload())
            if self.playing is None and not self.speak_queue:
                self.idle_since = self.loop.time()  # silence on the line starts now
            self._notify()

    def end_call(self, by_person: bool, cause: str = "normal_clearing") -> None:
        """Hang up: by the person on the line (script end, guard, busy) or by our app
        (command) or Telnyx on its behalf (ring timeout, the other leg of a transfer)."""
        if self.call.status == "ended":
            return
        self.call.status = "ended"
        self.end_time = _iso_now()
        self.hangup_cause = cause
        self.call.hangup_source = self._hangup_source(by_person)
        self._stop_background_work()
        self.post("call.hangup", self._hangup_payload())
        if self.misbehaviour.late_events_after_hangup:
            self._post_late_events()
        self.outbox_closed = True
        self.outbox.put_nowait(_CLOSE)
        self._notify()
        for leg in self.transfer_legs:  # a leg still ringing is cancelled, a bridged one ends
            leg.end_call(False, "originator_cancel" if leg.call.status == "ringing" else "normal_clearing")
        if self.transfer_parent is not None:
            self.transfer_parent._transfer_leg_ended(self)

    def _hangup_source(self, by_person: bool) -> str:
        person_called_us = self.call.direction == "incoming"
        return "caller" if by_person == person_called_us else "callee"

    def _stop_background_work(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
        for task in self._tasks:  # the delivery task keeps running to drain the outbox
            if task is not asyncio.current_task():
                task.cancel()
        if self.playing is not None and self.playing.line is not None:
            self.playing.line.interrupted = True
            self.playing.line.ended_at = time.time()

    def abort(self) -> list[asyncio.Task[None]]:
        """Simulator shutdown: stop everything now, without further webhooks."""
        if self._guard is not None:
            self._guard.cancel()
        tasks = [task for task in [*self._tasks, self._delivery] if task is not None]
        for task in tasks:
            task.cancel()
        self.call.ended.set()
        return tasks

    def _notify(self) -> None:
        """Wake every coroutine waiting for the call's state to change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for_change(self, timeout: float | None) -> None:
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            pass

    # ---- payloads (keys as in real Telnyx traffic)

    def _ids(self, client_state: str | None = None) -> dict[str, Any]:
        return {
            "call_control_id": self.call.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "client_state": client_state or self.client_state,
            "connection_id": self.connection_id,
        }

    def _numbers(self) -> dict[str, Any]:
        return {"from": self.call.from_number, "to": self.call.to_number}

    def _initiated_payload(self) -> dict[str, Any]:
        incoming = self.call.direction == "incoming"
        return self._ids() | self._numbers() | {
            "caller_id_name": self.call.from_number,
            "calling_party_type": "pstn",
            "connection_codecs": "PCMA,PCMU,VP8,H264",
            "direction": self.call.direction,
            "from_sip_uri": f"{self.call.from_number.lstrip('+')}@192.0.2.10:5060",
            "offered_codecs": "PCMU,G729",
            "start_time": self.start_time,
            "state": "parked" if incoming else "bridging",
            "to_sip_uri": f"{self.call.to_number}@192.0.2.20:5060",
        }

    def _answered_payload(self) -> dict[str, Any]:
        return self._ids() | self._numbers() | {
            "calling_party_type": "pstn",
            "codec": "PCMU",
            "sampling_rate": 8000,
            "start_time": self.start_time,
        }

    def _speak_payload(self, speak: _Speak, status: str | None = None) -> dict[str, Any]:
        payload = self._ids(speak.client_state) | {"calling_party_type": "pstn", "speak_id": speak.speak_id}
        return payload | ({"status": status} if status else {})

    def _hangup_payload(self) -> dict[str, Any]:
        return self._ids() | self._numbers() | {
            "call_quality_stats": {
                "inbound": {"jitter_max_variance": "0.00", "jitter_packet_count": "0", "mos": "4.50",
                            "packet_count": "1472", "skip_packet_count": "22"},
                "outbound": {"packet_count": "268", "skip_packet_count": "0"},
            },
            "calling_party_type": "pstn",
            "end_time": self.end_time,
            "hangup_cause": self.hangup_cause,
            "hangup_source": self.call.hangup_source,
            "sip_hangup_cause": SIP_HANGUP_CAUSES.get(self.hangup_cause, "200"),
            "start_time": self.start_time,
        }

    def _bridged_payload(self) -> dict[str, Any]:
        return self._ids() | self._numbers() | {"state": "bridged"}

    def _machine_detection_payload(self, result: str) -> dict[str, Any]:
        # The documented example lacks call_control_id; real deliveries carry it.
        return self._ids() | self._numbers() | {"result": result}

    def _transcription_payload(self, transcript: str, is_final: bool) -> dict[str, Any]:
        confidence = FINAL_TRANSCRIPT_CONFIDENCE if is_final else None
        return self._ids() | {
            "transcription_data": {"confidence": confidence, "is_final": is_final, "transcript": transcript},
        }

    def _dtmf_payload(self, digit: str) -> dict[str, Any]:
        return self._ids() | self._numbers() | {"digit": digit}

    def _post_late_events(self) -> None:
        self.post("call.transcription", self._transcription_payload(LATE_TRANSCRIPT, is_final=True))
        late = _Speak(text="", voice="", client_state=None)
        late.speak_id = self.last_speak_id or late.speak_id
        self.post("call.speak.ended", self._speak_payload(late, "completed"))

    # ---- webhooks

    def post(self, event_type: str, payload: dict[str, Any], turn_index: int | None = None) -> None:
        """Queue a webhook; the call's delivery task sends them in order."""
        if self.outbox_closed:
            return
        data = {
            "event_type": event_type,
            "id": str(uuid.uuid4()),
            "occurred_at": _iso_now(),
            "payload": payload,
            "record_type": "event",
        }
        self.outbox.put_nowait(_Event(event_type, data, turn_index))

    async def _deliver_events(self) -> None:
        try:
            closing = False
            while not closing:
                batch, closing = await self._next_batch()
                for event in batch:
                    await self._deliver(event)
        finally:
            self.call.ended.set()

    async def _next_batch(self) -> tuple[list[_Event], bool]:
        event = await self.outbox.get()
        if event is _CLOSE:
            return [], True
        if not self.misbehaviour.reorder_events:
            return [event], False
        await asyncio.sleep(REORDER_WINDOW_SECONDS)
        try:
            follower = self.outbox.get_nowait()
        except asyncio.QueueEmpty:
            return [event], False
        if follower is _CLOSE:
            return [event], True
        return [follower, event], False

    async def _deliver(self, event: _Event) -> None:
        """At least once: retry non-2xx answers with meta.attempt + 1, like Telnyx."""
        attempt = 1
        while not await self._post_webhook(event, attempt) and attempt < self.sim.max_delivery_attempts:
            await asyncio.sleep(0.05 * attempt)
            attempt += 1
        if self.misbehaviour.duplicate_events:
            await self._post_webhook(event, attempt + 1)

    async def _post_webhook(self, event: _Event, attempt: int) -> bool:
        body = {"data": event.data, "meta": {"attempt": attempt, "delivered_to": self.sim.webhook_url}}
        raw = json.dumps(body, sort_keys=True)
        headers = sign_webhook(self.sim.signing_key, raw, str(int(time.time())))
        sent_at = time.time()
        self._note_turn_sent(event, sent_at)
        status, error = await self.sim.send_webhook(raw.encode(), headers)
        self.call.deliveries.append(
            WebhookDelivery(event.event_type, event.data["id"], attempt, status, sent_at, time.time(), body, error)
        )
        return status is not None and 200 <= status < 300

    def _note_turn_sent(self, event: _Event, sent_at: float) -> None:
        if event.turn_index is None:
            return
        if all(timing.line_index != event.turn_index for timing in self.call.turn_timings):
            self.call.turn_timings.append(TurnTiming(event.turn_index, sent_at))

    def _note_speak_received(self, received_at: float) -> None:
        for timing in self.call.turn_timings:
            if timing.first_speak_received_at is None:
                timing.first_speak_received_at = received_at

    # ---- commands

    def receive(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        """Answer one command as Telnyx would: (HTTP status, JSON body, duplicate)."""
        if self.call.status == "ended":
            return 422, CALL_ENDED, False
        missing = _missing(body, REQUIRED_PARAMS.get(action, ()))
        if missing:
            return 422, _missing_param(missing), False
        if self.failures_left > 0:
            self.failures_left -= 1
            return 500, UNEXPECTED, False
        command_id = body.get("command_id")
        if command_id and command_id in self.seen_command_ids:
            return 200, OK, True
        if command_id:
            self.seen_command_ids.add(command_id)
        self._act(action, body)
        return 200, OK, False

    def _act(self, action: str, body: dict[str, Any]) -> None:
        if body.get("client_state"):
            self.client_state = body["client_state"]
        handler = {
            "answer": self._answer,
            "speak": self._queue_speak,
            "start_transcription": self._start_transcription,
            "stop_transcription": self._stop_transcription,
            "stop_playback": self._stop_playback_command,
            "hangup": self._hang_up_command,
            "transfer": self._transfer,
        }.get(action)
        if handler is not None:
            handler(body)
        self._notify()

    def _answer(self, body: dict[str, Any]) -> None:
        if self.call.direction != "incoming" or self.call.status != "ringing":
            return
        self.call.status = "active"
        self.transcribing = self.transcribing or bool(body.get("transcription"))
        self.post("call.answered", self._answered_payload())

    def _start_transcription(self, body: dict[str, Any]) -> None:
        self.transcribing = True

    def _stop_transcription(self, body: dict[str, Any]) -> None:
        self.transcribing = False

    def _hang_up_command(self, body: dict[str, Any]) -> None:
        cancelling = self.call.direction == "outgoing" and self.call.status == "ringing"
        self.end_call(by_person=False, cause="originator_cancel" if cancelling else "normal_clearing")

    # ---- transfers (this leg is the call transferred; its transfer_legs ring the targets)

    def _transfer(self, body: dict[str, Any]) -> None:
        """Ring the target on a new leg of the same call session, as the script says."""
        to = _first_number(body["to"])
        script = CallScript(
            from_number=str(body.get("from") or self.call.to_number),
            to_number=to,
            hang_up_at_end=False,
            max_call_seconds=self.call.script.max_call_seconds,
        )
        call = SimulatedCall(
            _new_call_control_id(), script, "outgoing", script.from_number, to,
            transferred_from=self.call.call_control_id,
        )
        leg = self.sim._open_leg(call, self.connection_id, self.call_session_id)
        leg.client_state = body.get("target_leg_client_state") or None
        leg.answer_behaviour = self.call.script.on_call_answers.get(to, "answer")
        leg.ring_seconds = _ring_seconds(body, self.call.script)
        leg.transfer_parent = self
        leg.transfer_attempt = TransferAttempt(to, body.get("command_id"), "ringing", call.call_control_id, time.time())
        self.call.transfers.append(leg.transfer_attempt)
        self.transfer_legs.append(leg)
        leg.start()

    def _ringing_transfers(self) -> int:
        return sum(1 for leg in self.transfer_legs if leg.call.status == "ringing")

    def _transfer_answered(self, leg: _CallLeg) -> None:
        """The human picked up: bridge the caller to them; the caller stops its script,
        talks for transfer_talk_seconds and hangs up."""
        assert leg.transfer_attempt is not None
        leg.transfer_attempt.outcome = "answered"
        if self.call.status == "ended":
            return
        self.call.status = "active"
        self.bridged_to, leg.bridged_to = leg, self
        self._stop_playback(clear_queue=True)
        if self._person is not None and self._person is not asyncio.current_task():
            self._person.cancel()
        now = time.time()
        for line in self.call.conversation:
            if line.speaker == "caller" and line.ended_at is None:
                line.ended_at, line.interrupted = now, True
        self._log_system(f"[transferred to {leg.call.to_number}, answered]")
        self.post("call.bridged", self._bridged_payload())
        leg.post("call.bridged", leg._bridged_payload())
        self._tasks.append(self.loop.create_task(self._hang_up_after_talk()))
        self._notify()

    async def _hang_up_after_talk(self) -> None:
        await asyncio.sleep(self.call.script.transfer_talk_seconds)
        self.end_call(by_person=True)

    def _transfer_leg_ended(self, leg: _CallLeg) -> None:
        """A transfer leg hung up: a ringing one failed (the caller carries on with the
        agent), a bridged one takes the caller's leg down with it."""
        attempt = leg.transfer_attempt
        assert attempt is not None
        if attempt.outcome == "ringing":
            outcome = {"timeout": "no_answer", "user_busy": "busy"}.get(leg.hangup_cause, "cancelled")
            attempt.outcome = outcome
            if self.call.status == "ended":
                return
            self._log_system(f"[transferred to {attempt.to}, {outcome.replace('_', ' ')}]")
            # The caller heard ringing, not the agent: it waits for the agent to speak again.
            self.agent_spoke_since_caller = False
            self.first_agent_start_since_caller = None
            self._notify()
        elif self.bridged_to is leg:
            self.end_call(by_person=False)

    def _log_system(self, text: str) -> None:
        now = time.time()
        self.call.conversation.append(ConversationLine("system", text, now, ended_at=now))

    def _queue_speak(self, body: dict[str, Any]) -> None:
        if body.get("stop") in ("current", "all"):
            self._stop_playback(clear_queue=body["stop"] == "all")
        self.speak_queue.append(_Speak(str(body["payload"]), str(body["voice"]), body.get("client_state")))
        self.idle_since = None
        self._note_speak_received(time.time())

    def _stop_playback_command(self, body: dict[str, Any]) -> None:
        self._stop_playback(clear_queue=body.get("stop", "all") != "current")

    def _stop_playback(self, clear_queue: bool) -> None:
        if clear_queue:
            self.speak_queue.clear()
        if self.playing is not None:
            self.playing.stopped.set()
        elif not self.speak_queue and self.idle_since is None:
            self.idle_since = self.loop.time()

    # ---- the audio played to the person

    async def _play_speeches(self) -> None:
        while True:
            await self._play(await self._next_speak())

    async def _next_speak(self) -> _Speak:
        while not self.speak_queue:
            await self._wait_for_change(None)
        return self.speak_queue.popleft()

    async def _play(self, speak: _Speak) -> None:
        self._start_playing(speak)
        seconds = max(0.01, len(speak.text) * self.sim.speech_seconds_per_char)
        try:
            await asyncio.wait_for(speak.stopped.wait(), seconds)
            status = "interrupted"
        except TimeoutError:
            status = "completed"
        self._finish_playing(speak, status)

    def _start_playing(self, speak: _Speak) -> None:
        self.playing = speak
        self.last_speak_id = speak.speak_id
        self.idle_since = None
        self.agent_spoke_since_caller = True
        if self.first_agent_start_since_caller is None:
            self.first_agent_start_since_caller = self.loop.time()
        speak.line = ConversationLine("agent", speak.text, time.time())
        self.call.conversation.append(speak.line)
        self.post("call.speak.started", self._speak_payload(speak))
        self._notify()

    def _finish_playing(self, speak: _Speak, status: str) -> None:
        assert speak.line is not None
        speak.line.interrupted = status == "interrupted"
        speak.line.ended_at = time.time()
        self.post("call.speak.ended", self._speak_payload(speak, status))
        self.playing = None
        if not self.speak_queue:
            self.idle_since = self.loop.time()
        self._notify()

    # ---- the person on the line

    async def _run_person(self) -> None:
        if self.call.direction == "incoming":
            await self._run_caller()
            return
        if not await self._ring():
            return
        if self.transfer_parent is not None:
            self.transfer_parent._transfer_answered(self)  # a human, who talks until the caller leaves
            return
        machine = self.answer_behaviour == "voicemail"
        if self.detect_machine:
            result = "machine" if machine else "human"
            self.post("call.machine.detection.ended", self._machine_detection_payload(result))
        await (self._run_voicemail() if machine else self._run_caller())

    async def _ring(self) -> bool:
        """An outgoing leg rings: True once picked up, False if it ended unanswered."""
        if self.answer_behaviour == "busy":
            self.end_call(by_person=True, cause="user_busy")
            return False
        if self.answer_behaviour == "no_answer":
            await asyncio.sleep(self.ring_seconds)
            self.end_call(by_person=False, cause="timeout")
            return False
        await asyncio.sleep(min(OUTBOUND_PICKUP_SECONDS, self.ring_seconds))
        self._pick_up()
        return True

    async def _run_voicemail(self) -> None:
        """A voicemail box: records what the agent says (the conversation) and hangs up once
        the agent has been quiet for a while (or our app hangs up, or the guard fires)."""
        await self._wait_until(self._seconds_until_voicemail_gives_up)
        self.end_call(by_person=True)

    def _seconds_until_voicemail_gives_up(self) -> float | None:
        if self.idle_since is None:
            return None
        return self.idle_since + self.sim.voicemail_silence_seconds - self.loop.time()

    async def _run_caller(self) -> None:
        for index, line in enumerate(self.call.script.lines):
            await self._wait_for_my_turn(line)
            await self._say(index, line)
        await self._wait_until(lambda: self._seconds_until_reply_heard(needs_transcription=False))
        if self.call.script.hang_up_at_end:
            self.end_call(by_person=True)

    async def _wait_for_my_turn(self, line: CallerLine) -> None:
        needs_transcription = line.dtmf is None
        if line.barge_in:
            await self._wait_until(lambda: self._seconds_until_barge_in(line, needs_transcription))
        else:
            await self._wait_until(lambda: self._seconds_until_reply_heard(needs_transcription))

    async def _wait_until(self, seconds_left) -> None:
        """Wait until `seconds_left()` (None = not yet known) reaches zero."""
        while True:
            remaining = seconds_left()
            if remaining is not None and remaining <= 0:
                return
            await self._wait_for_change(remaining)

    def _can_hear(self, needs_transcription: bool) -> bool:
        # While a transfer rings, the caller hears ringback and waits.
        return (
            self.call.status == "active"
            and (self.transcribing or not needs_transcription)
            and self._ringing_transfers() == 0
        )

    def _seconds_until_reply_heard(self, needs_transcription: bool) -> float | None:
        """The person talks once the agent has said something and then fell silent."""
        if not self._can_hear(needs_transcription) or not self.agent_spoke_since_caller:
            return None
        if self.idle_since is None:
            return None
        pause = self.call.script.caller_pause_seconds
        return self.idle_since + (self.sim.caller_pause_seconds if pause is None else pause) - self.loop.time()

    def _seconds_until_barge_in(self, line: CallerLine, needs_transcription: bool) -> float | None:
        started = self.first_agent_start_since_caller
        if not self._can_hear(needs_transcription) or started is None:
            return None
        return started + line.barge_in_after_seconds - self.loop.time()

    async def _say(self, index: int, line: CallerLine) -> None:
        self.agent_spoke_since_caller = False
        self.first_agent_start_since_caller = None
        if line.dtmf is not None:
            now = time.time()
            self.call.conversation.append(ConversationLine("caller", f"[DTMF {line.dtmf}]", now, ended_at=now))
            self.post("call.dtmf.received", self._dtmf_payload(line.dtmf), turn_index=index)
            return
        text = line.text.strip()
        spoken = ConversationLine("caller", text, time.time())
        self.call.conversation.append(spoken)
        for prefix in _interim_prefixes(text.split()):
            self.post("call.transcription", self._transcription_payload(prefix, is_final=False))
            await asyncio.sleep(INTERIM_SPACING_SECONDS)
        self.post("call.transcription", self._transcription_payload(text, is_final=True), turn_index=index)
        spoken.ended_at = time.time()


# --------------------------------------------------------------------------- the network


class TelnyxSimulator:
    """Telnyx Call Control as seen by our API: places calls, serves commands.

    Must be used from one event loop (the one serving its app); see TelnyxSimulatorServer.
    """

    def __init__(
        self,
        webhook_url: str,
        signing_key: nacl.signing.SigningKey,
        *,
        speech_seconds_per_char: float = 0.03,
        caller_pause_seconds: float = 0.4,
        max_delivery_attempts: int = 5,
        connection_id: str = DEFAULT_CONNECTION_ID,
        voicemail_silence_seconds: float = VOICEMAIL_SILENCE_SECONDS,
    ) -> None:
        self.webhook_url = webhook_url
        self.signing_key = signing_key
        self.speech_seconds_per_char = speech_seconds_per_char
        self.caller_pause_seconds = caller_pause_seconds
        self.max_delivery_attempts = max(1, max_delivery_attempts)
        self.connection_id = connection_id
        self.voicemail_silence_seconds = voicemail_silence_seconds
        self.calls: dict[str, SimulatedCall] = {}
        self.commands: list[ReceivedCommand] = []  # every command, unknown calls included
        self.messages: list[SentMessage] = []  # every SMS sent, in order, once per Idempotency-Key
        self._legs: dict[str, _CallLeg] = {}
        self._outbound_scripts: dict[str, deque[CallScript]] = {}
        self._dials: dict[str, _CallLeg] = {}  # by the dial's command_id
        self._dialled: list[SimulatedCall] = []  # calls our app dialled, in order
        self._claimed: set[str] = set()  # call_control_ids handed out by wait_for_outbound_call
        self._dialled_changed = asyncio.Event()
        self._messages_by_key: dict[str, tuple[SentMessage, dict[str, Any]]] = {}
        self._http: httpx.AsyncClient | None = None

    @property
    def public_key_b64(self) -> str:
        return _b64(bytes(self.signing_key.verify_key))

    async def place_call(self, script: CallScript) -> SimulatedCall:
        """A person dials our number: call.initiated goes out and the script starts."""
        call = SimulatedCall(_new_call_control_id(), script, "incoming", script.from_number, script.to_number)
        self._open_leg(call, self.connection_id).start()
        return call

    def expect_outbound_call(self, to_number: str, script: CallScript) -> None:
        """Script who answers (script.callee) when our app dials `to_number`. Expectations
        are used in order, one per dial; a dial with none left reaches a human without
        lines, who listens to the agent and hangs up once it went quiet."""
        self._outbound_scripts.setdefault(to_number, deque()).append(script)

    async def wait_for_outbound_call(self, to_number: str, timeout: float) -> SimulatedCall:
        """The next call our app dialled to `to_number` that no one has claimed yet."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self._dialled:
                if call.to_number == to_number and call.call_control_id not in self._claimed:
                    self._claimed.add(call.call_control_id)
                    return call
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"our app dialled no new call to {to_number} within {timeout} s")
            try:
                await asyncio.wait_for(self._dialled_changed.wait(), remaining)
            except TimeoutError:
                pass

    def _open_leg(self, call: SimulatedCall, connection_id: str, call_session_id: str | None = None) -> _CallLeg:
        leg = _CallLeg(self, call, connection_id, call_session_id)
        self.calls[call.call_control_id] = call
        self._legs[call.call_control_id] = leg
        return leg

    # ---- Call Control API

    def handle_command(
        self, call_control_id: str, action: str, body: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        """POST /v2/calls/{call_control_id}/actions/{action}: (HTTP status, JSON body)."""
        action = ACTION_ALIASES.get(action, action)
        leg = self._legs.get(call_control_id)
        duplicate = False
        if not _authorized(authorization):
            status, answer = 401, AUTH_FAILED
        elif leg is None:
            status, answer = 404, _unknown_call(call_control_id)
        else:
            status, answer, duplicate = leg.receive(action, body)
        command = ReceivedCommand(
            action, call_control_id, body.get("command_id"), body, time.time(), status, duplicate
        )
        self._record(command, leg)
        return status, answer

    def dial(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """POST /v2/calls: our app calls a person (call-backs). A dial repeated with the
        same command_id answers the call the first one created."""
        command_id = body.get("command_id")
        if not _authorized(authorization):
            self._record(ReceivedCommand("dial", "", command_id, body, time.time(), 401), None)
            return 401, AUTH_FAILED
        if command_id and command_id in self._dials:
            leg = self._dials[command_id]
            self._record(
                ReceivedCommand("dial", leg.call.call_control_id, command_id, body, time.time(), 200, True), leg
            )
            return 200, {"data": self._dial_answer(leg)}
        missing = _missing(body, ("connection_id", "to", "from"))
        if missing:
            self._record(ReceivedCommand("dial", "", command_id, body, time.time(), 422), None)
            return 422, _missing_param(missing)
        leg = self._start_outbound(body)
        if command_id:
            self._dials[command_id] = leg
        self._record(ReceivedCommand("dial", leg.call.call_control_id, command_id, body, time.time(), 200), leg)
        return 200, {"data": self._dial_answer(leg)}

    def _start_outbound(self, body: dict[str, Any]) -> _CallLeg:
        to_number = _first_number(body["to"])
        expected = self._outbound_scripts.get(to_number)
        script = expected.popleft() if expected else CallScript()
        call = SimulatedCall(_new_call_control_id(), script, "outgoing", str(body["from"]), to_number)
        leg = self._open_leg(call, str(body["connection_id"]))
        leg.client_state = body.get("client_state") or None
        leg.answer_behaviour = "answer" if script.callee == "human" else script.callee
        leg.ring_seconds = _ring_seconds(body, script)
        leg.detect_machine = _amd_requested(body)
        self._dialled.append(call)
        self._dialled_changed.set()
        self._dialled_changed = asyncio.Event()
        leg.start()
        return leg

    @staticmethod
    def _dial_answer(leg: _CallLeg) -> dict[str, Any]:
        # Telnyx documents is_alive as always false for dial: dialling is asynchronous.
        return {
            "call_control_id": leg.call.call_control_id,
            "call_leg_id": leg.call_leg_id,
            "call_session_id": leg.call_session_id,
            "is_alive": False,
            "record_type": "call",
            "start_time": leg.start_time,
        }

    def _record(self, command: ReceivedCommand, leg: _CallLeg | None) -> None:
        self.commands.append(command)
        if leg is not None:
            leg.call.commands.append(command)

    # ---- Messaging API

    def send_message(
        self, body: dict[str, Any], authorization: str | None, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """POST /v2/messages: our app sends an SMS. A repeated Idempotency-Key answers the
        first message again and sends nothing."""
        if not _authorized(authorization):
            return 401, AUTH_FAILED
        if idempotency_key and idempotency_key in self._messages_by_key:
            return 200, self._messages_by_key[idempotency_key][1]
        missing = _missing(body, ("to", "text"))
        if missing:
            return 422, _missing_param(missing)
        message = SentMessage(
            str(body.get("from") or ""), _first_number(body["to"]), str(body["text"]), time.time(), idempotency_key
        )
        answer = {"data": self._message_answer(message, body)}
        self.messages.append(message)
        if idempotency_key:
            self._messages_by_key[idempotency_key] = (message, answer)
        return 200, answer

    @staticmethod
    def _message_answer(message: SentMessage, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": message.id,
            "record_type": "message",
            "direction": "outbound",
            "type": "SMS",
            "messaging_profile_id": body.get("messaging_profile_id"),
            "from": {"phone_number": message.from_number, "carrier": "", "line_type": ""},
            "to": [{"phone_number": message.to_number, "status": "queued", "carrier": "", "line_type": ""}],
            "text": message.text,
            "media": [],
            "encoding": "GSM-7",
            "parts": 1,
            "errors": [],
            "received_at": datetime.fromtimestamp(message.at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    # ---- plumbing

    async def send_webhook(self, content: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST one signed body to our API: (status code, None) or (None, connection error)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS)
        try:
            response = await self._http.post(self.webhook_url, content=content, headers=headers)
        except httpx.HTTPError as error:
            log.warning("webhook to %s failed: %r", self.webhook_url, error)
            return None, repr(error)
        return response.status_code, None

    async def aclose(self) -> None:
        """Stop every call without further webhooks and close the HTTP client."""
        stopped = [task for leg in self._legs.values() for task in leg.abort()]
        # Let the cancelled work and anyone awaiting `ended` run before the loop goes away.
        await asyncio.gather(*stopped, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None


# --------------------------------------------------------------------------- HTTP app


class OutboundExpectation(BaseModel):
    """Body of POST /simulator/outbound-expectations: who answers our app's next dial to a number."""

    model_config = ConfigDict(extra="forbid")

    to_number: str
    script: CallScript = Field(default_factory=CallScript)


def create_simulator_app(simulator: TelnyxSimulator) -> FastAPI:
    """The Call Control API under /v2 plus the /simulator control API, on one app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await simulator.aclose()

    app = FastAPI(title="CloudGreet Telnyx simulator", lifespan=lifespan)

    @app.post("/v2/calls/{call_control_id}/actions/{action}")
    async def call_command(call_control_id: str, action: str, request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(telnyx_error("10015", "Bad Request", "The body must be a JSON object."), 400)
        status, answer = simulator.handle_command(call_control_id, action, body, request.headers.get("authorization"))
        return JSONResponse(answer, status)

    @app.post("/v2/calls")
    async def dial(request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(telnyx_error("10015", "Bad Request", "The body must be a JSON object."), 400)
        status, answer = simulator.dial(body, request.headers.get("authorization"))
        return JSONResponse(answer, status)

    @app.get("/v2/balance")
    async def balance(request: Request) -> JSONResponse:
        # The cheap authenticated GET that CloudGreet's health check makes, answered as Telnyx does.
        if not _authorized(request.headers.get("authorization")):
            return JSONResponse(AUTH_FAILED, 401)
        return JSONResponse({"data": {"record_type": "balance", "balance": "100.00", "credit_limit": "0.00",
                                      "available_credit": "100.00", "pending": "0.00", "currency": "USD"}})

    @app.post("/v2/messages")
    async def send_message(request: Request) -> JSONResponse:
        body = await _command_body(request)
        if body is None:
            return JSONResponse(telnyx_error("10015", "Bad Request", "The body must be a JSON object."), 400)
        status, answer = simulator.send_message(
            body, request.headers.get("authorization"), request.headers.get("idempotency-key")
        )
        return JSONResponse(answer, status)

    @app.post("/simulator/outbound-expectations", status_code=201)
    async def expect_outbound_call(expectation: OutboundExpectation) -> dict[str, Any]:
        simulator.expect_outbound_call(expectation.to_number, expectation.script)
        return {"to_number": expectation.to_number, "pending": len(simulator._outbound_scripts[expectation.to_number])}

    @app.get("/simulator/messages")
    async def list_messages() -> list[dict[str, Any]]:
        return [asdict(message) for message in simulator.messages]

    @app.post("/simulator/calls", status_code=201)
    async def place_call(script: CallScript) -> dict[str, str]:
        call = await simulator.place_call(script)
        return {"call_control_id": call.call_control_id}

    @app.get("/simulator/calls")
    async def list_calls() -> list[dict[str, Any]]:
        return [call.summary() for call in simulator.calls.values()]

    @app.get("/simulator/calls/{call_control_id}")
    async def get_call(call_control_id: str) -> dict[str, Any]:
        call = simulator.calls.get(call_control_id)
        if call is None:
            raise HTTPException(404, f"no simulated call {call_control_id!r}")
        return call.to_json()

    return app


async def _command_body(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


# --------------------------------------------------------------------------- running it


class UvicornThread:
    """Serves one ASGI app with uvicorn in a daemon thread with its own event loop,
    on a port chosen by the OS, so tests and `cloudgreet dev` need no free-port guessing."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True, name=f"uvicorn:{self.port}")
        self._thread.start()
        self._wait_started(timeout)

    def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._server.serve(sockets=[sock]))
        finally:
            loop.close()

    def _wait_started(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the server's loop from any thread."""
        if self.loop is None:
            raise RuntimeError("the server is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


class TelnyxSimulatorServer:
    """The simulator served on 127.0.0.1 in a background thread.

    Usable as `with` or `async with`. Code on another thread or event loop (tests) must go
    through `place_call` / `wait_ended` / `run`, which hop onto the server's loop.
    """

    def __init__(self, simulator: TelnyxSimulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.simulator = simulator
        self._runner = UvicornThread(create_simulator_app(simulator), host, port)

    @property
    def control_url(self) -> str:
        return self._runner.url

    @property
    def base_url(self) -> str:
        return self._runner.url + "/v2"

    def start(self) -> TelnyxSimulatorServer:
        self._runner.start()
        return self

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> TelnyxSimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> TelnyxSimulatorServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that must run on the simulator's loop."""
        return await asyncio.wrap_future(self._runner.submit(coro))

    def place_call(self, script: CallScript, timeout: float = 10.0) -> SimulatedCall:
        """Place a call from any thread (or event loop); returns once call.initiated is queued."""
        return self._runner.submit(self.simulator.place_call(script)).result(timeout)

    def expect_outbound_call(self, to_number: str, script: CallScript, timeout: float = 10.0) -> None:
        """From any thread: script who answers our app's next dial to `to_number`."""

        async def expect() -> None:
            self.simulator.expect_outbound_call(to_number, script)

        self._runner.submit(expect()).result(timeout)

    async def wait_for_outbound_call(self, to_number: str, timeout: float) -> SimulatedCall:
        """Await, from another event loop, the next not yet claimed call our app dialled to
        `to_number` (each call is handed out once)."""
        return await self.run(self.simulator.wait_for_outbound_call(to_number, timeout))

    async def wait_ended(self, call: SimulatedCall, timeout: float) -> SimulatedCall:
        """Await, from another event loop, the end of a call (webhooks delivered)."""
        return await self.run(call.wait_ended(timeout))

    async def wait_for(
        self,
        probe: Callable[[], Awaitable[T] | T],
        predicate: Callable[[T], bool],
        timeout: float = 30.0,
        interval: float = 0.05,
    ) -> T:
        """Poll `probe` on the caller's loop until `predicate` holds for its value.

        For watching the app under test mid-call (e.g. a workflow query), where the value
        lives outside the simulator. Errors of the probe count as "not yet".
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: object = None
        while True:
            try:
                value = probe()
                if inspect.isawaitable(value):
                    value = await value
                if predicate(value):
                    return value
                last = value
            except Exception as error:  # noqa: BLE001 - retried until the deadline
                last = error
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s; last probe gave {last!r}")
            await asyncio.sleep(interval)


def run_simulator(
    host: str,
    port: int,
    webhook_url: str,
    signing_key_b64: str,
    speech_seconds_per_char: float = 0.03,
    caller_pause_seconds: float = 0.4,
) -> None:
    """Serve the simulator until interrupted (used by `cloudgreet dev`)."""
    simulator = TelnyxSimulator(
        webhook_url,
        signing_key_from_b64(signing_key_b64),
        speech_seconds_per_char=speech_seconds_per_char,
        caller_pause_seconds=caller_pause_seconds,
    )
    uvicorn.run(create_simulator_app(simulator), host=host, port=port, log_level="info")
