"""The Telnyx simulator against a stand-in for our API that uses the real telnyx SDK.

The stand-in (`Receptionist`) verifies every webhook with `client.webhooks.unwrap` and drives
the call with real SDK commands, so what passes here is what the SDK accepts from Telnyx.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import nacl.signing
import pytest
import telnyx
from fastapi import FastAPI, Request, Response

from simulator.call_script import CallerLine, CallScript, Misbehaviour, load_call_script
from simulator.serving import UvicornThread
from simulator.simulate_client import SimulatorUnavailable, run_simulated_call
from simulator.telnyx.records import SimulatedCall
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, sign_webhook, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator

TIMEOUT = 30.0
GREETING = "Thanks for calling Bright Smile Dental, how can I help?"
GREETING_STATE = base64.b64encode(b"greeting").decode()
# Payload keys of the real deliveries in tests/fixtures/telnyx-webhooks.
REFERENCE_KEYS = {
    "call.initiated": {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "caller_id_name",
        "calling_party_type",
        "client_state",
        "connection_codecs",
        "connection_id",
        "direction",
        "from",
        "from_sip_uri",
        "offered_codecs",
        "start_time",
        "state",
        "to",
        "to_sip_uri",
    },
    "call.answered": {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "calling_party_type",
        "client_state",
        "codec",
        "connection_id",
        "from",
        "sampling_rate",
        "start_time",
        "to",
    },
    "call.speak.started": {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "calling_party_type",
        "client_state",
        "connection_id",
        "speak_id",
    },
    "call.speak.ended": {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "calling_party_type",
        "client_state",
        "connection_id",
        "speak_id",
        "status",
    },
    "call.hangup": {
        "call_control_id",
        "call_leg_id",
        "call_quality_stats",
        "call_session_id",
        "calling_party_type",
        "client_state",
        "connection_id",
        "end_time",
        "from",
        "hangup_cause",
        "hangup_source",
        "sip_hangup_cause",
        "start_time",
        "to",
    },
    "call.transcription": {
        "call_control_id",
        "call_leg_id",
        "call_session_id",
        "client_state",
        "connection_id",
        "transcription_data",
    },
}


def reply_to(transcript: str) -> str:
    return f"You said: {transcript}"


class Receptionist:
    """Plays our API on loopback: checks each webhook's signature with the telnyx SDK, answers
    it, and reacts like a receptionist would (answer, transcribe, greet, reply) via the SDK."""

    def __init__(
        self,
        public_key: str,
        *,
        answer: bool = True,
        transcribe: bool = True,
        greeting: str = GREETING,
        speak_greeting_twice: bool = False,
        stop_playback_on_speech: bool = False,
        fail_first_delivery_of: frozenset[str] = frozenset(),
    ) -> None:
        self.public_key = public_key
        self.answer = answer
        self.transcribe = transcribe
        self.greeting = greeting
        self.speak_greeting_twice = speak_greeting_twice
        self.stop_playback_on_speech = stop_playback_on_speech
        self.fail_first_delivery_of = fail_first_delivery_of
        self.telnyx_base_url = ""
        self.bodies: list[dict[str, Any]] = []  # accepted deliveries, in arrival order
        self.refused: list[dict[str, Any]] = []  # deliveries answered with HTTP 500 on purpose
        self.rejected: list[str] = []  # signature failures
        self.command_errors: list[Exception] = []
        self._seen_event_ids: set[str] = set()
        self._speaking: dict[str, bool] = {}
        self._hung_up: set[str] = set()
        self._changed = threading.Condition()
        self._tasks: set[asyncio.Task] = set()
        self._client: telnyx.AsyncTelnyx | None = None

    def sdk(self) -> telnyx.AsyncTelnyx:
        if self._client is None:
            self._client = telnyx.AsyncTelnyx(
                api_key="test-key", public_key=self.public_key, base_url=self.telnyx_base_url, max_retries=0
            )
        return self._client

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI):
            yield
            if self._client is not None:
                await self._client.close()

        app = FastAPI(lifespan=lifespan)
        app.post("/webhooks/telnyx")(self._webhook)
        return app

    async def _webhook(self, request: Request) -> Response:
        raw = (await request.body()).decode()
        try:
            self.sdk().webhooks.unwrap(raw, headers=dict(request.headers))
        except ValueError as error:
            self.rejected.append(str(error))
            return Response(status_code=400)
        body = json.loads(raw)
        if body["meta"]["attempt"] == 1 and body["data"]["event_type"] in self.fail_first_delivery_of:
            self._record(self.refused, body)
            return Response(status_code=500)
        self._observe(body["data"])
        self._record(self.bodies, body)
        return Response(status_code=200)

    def _record(self, into: list[dict[str, Any]], body: dict[str, Any]) -> None:
        with self._changed:
            into.append(body)
            self._changed.notify_all()

    def _observe(self, data: dict[str, Any]) -> None:
        """Track the call's state at once; send commands in the background, like our API."""
        if data["id"] in self._seen_event_ids:
            return
        self._seen_event_ids.add(data["id"])
        call_control_id = data["payload"]["call_control_id"]
        if data["event_type"] == "call.speak.started":
            self._speaking[call_control_id] = True
        elif data["event_type"] == "call.speak.ended":
            self._speaking[call_control_id] = False
        elif data["event_type"] == "call.hangup":
            self._hung_up.add(call_control_id)
        task = asyncio.get_running_loop().create_task(self._react(data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _react(self, data: dict[str, Any]) -> None:
        payload = data["payload"]
        call_control_id = payload["call_control_id"]
        if call_control_id in self._hung_up:
            return
        try:
            await self._command(data["event_type"], call_control_id, payload)
        except telnyx.APIError as error:
            self.command_errors.append(error)

    async def _command(self, event_type: str, call_control_id: str, payload: dict[str, Any]) -> None:
        calls = self.sdk().calls.actions
        if event_type == "call.initiated" and payload["direction"] == "incoming" and self.answer:
            await calls.answer(call_control_id, command_id=f"answer-{call_control_id}")
        elif event_type == "call.answered" and self.answer:
            await self._greet(call_control_id)
        elif event_type == "call.transcription":
            await self._hear(call_control_id, payload["transcription_data"])
        elif event_type == "call.dtmf.received":
            await calls.speak(call_control_id, payload=f"You pressed {payload['digit']}.", voice="female")

    async def _greet(self, call_control_id: str) -> None:
        calls = self.sdk().calls.actions
        if self.transcribe:
            await calls.start_transcription(call_control_id, command_id=f"transcribe-{call_control_id}")
        for _ in range(2 if self.speak_greeting_twice else 1):
            await calls.speak(
                call_control_id,
                payload=self.greeting,
                voice="female",
                client_state=GREETING_STATE,
                command_id=f"greeting-{call_control_id}",
            )

    async def _hear(self, call_control_id: str, transcription: dict[str, Any]) -> None:
        calls = self.sdk().calls.actions
        if not transcription["is_final"]:
            if self.stop_playback_on_speech and self._speaking.get(call_control_id):
                await calls.stop_playback(call_control_id, command_id=str(uuid.uuid4()))
            return
        await calls.speak(
            call_control_id, payload=reply_to(transcription["transcript"]), voice="female", command_id=str(uuid.uuid4())
        )

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = TIMEOUT) -> None:
        """Wait (without blocking the test's loop) until the accepted webhooks satisfy predicate."""

        def wait() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate(list(self.bodies)), timeout)

        assert await asyncio.to_thread(wait), "the receptionist never saw the expected webhooks"

    def events(self, call_control_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """The `data` of accepted deliveries for one call, duplicates included."""
        return [
            body["data"]
            for body in self.bodies
            if body["data"]["payload"]["call_control_id"] == call_control_id
            and event_type in (None, body["data"]["event_type"])
        ]


@asynccontextmanager
async def phone_network(
    receptionist_class: type[Receptionist] = Receptionist,
    simulator_options: dict[str, Any] | None = None,
    **receptionist_options: Any,
) -> AsyncIterator[tuple[TelnyxSimulatorServer, Receptionist]]:
    """A simulator and a receptionist, each served by uvicorn in its own thread."""
    seed, public_key = generate_signing_key()
    receptionist = receptionist_class(public_key, **receptionist_options)
    receiver = UvicornThread(receptionist.app())
    await asyncio.to_thread(receiver.start)
    try:
        simulator = TelnyxSimulator(
            f"{receiver.url}/webhooks/telnyx",
            signing_key_from_b64(seed),
            speech_seconds_per_char=0.002,
            caller_pause_seconds=0.1,
            **(simulator_options or {}),
        )
        server = TelnyxSimulatorServer(simulator)
        async with server:
            receptionist.telnyx_base_url = server.base_url
            yield server, receptionist
    finally:
        await asyncio.to_thread(receiver.stop)


async def run_call(server: TelnyxSimulatorServer, script: CallScript) -> SimulatedCall:
    call = server.place_call(script)
    return await server.wait_ended(call, TIMEOUT)


def sdk_client(server: TelnyxSimulatorServer) -> telnyx.AsyncTelnyx:
    return telnyx.AsyncTelnyx(api_key="test-key", base_url=server.base_url, max_retries=0)


def said(call: SimulatedCall) -> list[tuple[str, str]]:
    return [(line.speaker, line.text) for line in call.conversation]


def first_deliveries(call: SimulatedCall) -> list[dict[str, Any]]:
    return [delivery.body["data"] for delivery in call.deliveries if delivery.attempt == 1]


# --------------------------------------------------------------------------- a whole call


async def test_inbound_call_runs_from_greeting_to_caller_hangup() -> None:
    lines = ["I'd like to book a cleaning.", "Tomorrow at ten works."]
    async with phone_network() as (server, receptionist):
        call = await run_call(server, CallScript(lines=lines))

    assert receptionist.rejected == [] and receptionist.command_errors == []
    assert call.status == "ended" and call.hangup_source == "caller"
    assert said(call) == [
        ("agent", GREETING),
        ("caller", lines[0]),
        ("agent", reply_to(lines[0])),
        ("caller", lines[1]),
        ("agent", reply_to(lines[1])),
    ]
    assert not any(line.interrupted for line in call.conversation)

    events = receptionist.events(call.call_control_id)
    types = [event["event_type"] for event in events]
    assert types[:2] == ["call.initiated", "call.answered"]
    assert types[-1] == "call.hangup"
    assert types.count("call.speak.started") == types.count("call.speak.ended") == 3
    for event in events:
        assert REFERENCE_KEYS.get(event["event_type"], set()) <= set(event["payload"]), event["event_type"]
    initiated, hangup = events[0]["payload"], events[-1]["payload"]
    assert (initiated["direction"], initiated["state"], initiated["client_state"]) == ("incoming", "parked", None)
    assert (initiated["from"], initiated["to"]) == ("+15555550142", "+15555550100")
    assert (hangup["hangup_cause"], hangup["hangup_source"]) == ("normal_clearing", "caller")
    assert len({event["id"] for event in events}) == len(events), "a fresh data.id per event"


async def test_caller_speech_arrives_as_interim_then_final_transcriptions() -> None:
    line = "I'd like to book a cleaning."
    async with phone_network() as (server, receptionist):
        call = await run_call(server, CallScript(lines=[line]))

    events = receptionist.events(call.call_control_id, "call.transcription")
    transcripts = [event["payload"]["transcription_data"] for event in events]
    assert transcripts == [
        {"transcript": "I'd like to", "is_final": False, "confidence": None},
        {"transcript": line, "is_final": False, "confidence": None},
        {"transcript": line, "is_final": True, "confidence": 0.93},
    ]
    [timing] = call.turn_timings
    assert timing.line_index == 0
    assert timing.first_speak_received_at is not None
    assert timing.first_speak_received_at >= timing.final_transcript_sent_at


async def test_client_state_set_by_a_command_is_echoed_back() -> None:
    async with phone_network() as (server, receptionist):
        call = await run_call(server, CallScript(lines=["Hello?"]))

    events = receptionist.events(call.call_control_id)
    assert events[0]["payload"]["client_state"] is None  # nothing set yet
    greeting_started = receptionist.events(call.call_control_id, "call.speak.started")[0]
    assert greeting_started["payload"]["client_state"] == GREETING_STATE
    assert events[-1]["payload"]["client_state"] == GREETING_STATE  # the call keeps the last one set


async def test_the_commands_received_are_recorded_in_order() -> None:
    async with phone_network() as (server, _):
        call = await run_call(server, CallScript(lines=["Hello?"]))

    assert [(c.action, c.status_code, c.duplicate) for c in call.commands] == [
        ("answer", 200, False),
        ("start_transcription", 200, False),
        ("speak", 200, False),
        ("speak", 200, False),
    ]
    greeting = call.commands[2]
    assert greeting.command_id == f"greeting-{call.call_control_id}"
    assert greeting.body["payload"] == GREETING and greeting.body["voice"] == "female"


async def test_a_keypad_line_posts_dtmf_received() -> None:
    async with phone_network() as (server, receptionist):
        call = await run_call(server, CallScript(lines=[CallerLine(dtmf="1")]))

    [dtmf] = receptionist.events(call.call_control_id, "call.dtmf.received")
    assert dtmf["payload"]["digit"] == "1"
    assert said(call) == [("agent", GREETING), ("caller", "[DTMF 1]"), ("agent", "You pressed 1.")]
    assert call.turn_timings[0].first_speak_received_at is not None


async def test_the_guard_hangs_up_a_call_that_never_gets_transcribed() -> None:
    async with phone_network(transcribe=False) as (server, receptionist):
        call = await run_call(server, CallScript(lines=["Hello?"], max_call_seconds=2))

    assert call.hangup_source == "caller"
    assert said(call) == [("agent", GREETING)], "no transcription, so the caller was never heard"
    assert receptionist.events(call.call_control_id)[-1]["event_type"] == "call.hangup"


async def test_the_app_hanging_up_ends_the_call_as_callee() -> None:
    async with phone_network(answer=False) as (server, receptionist):
        call = server.place_call(CallScript(hang_up_at_end=False))
        await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.initiated" for b in bodies))
        async with sdk_client(server) as client:
            await client.calls.actions.hangup(call.call_control_id)
        await server.wait_ended(call, TIMEOUT)

    assert call.hangup_source == "callee"
    assert receptionist.events(call.call_control_id, "call.hangup")[0]["payload"]["hangup_source"] == "callee"


# --------------------------------------------------------------------------- signing


def test_webhook_signatures_verify_with_the_telnyx_sdk() -> None:
    seed, public_key = generate_signing_key()
    raw = json.dumps({"data": {"event_type": "call.initiated", "id": str(uuid.uuid4()), "payload": {}}})
    timestamp = str(int(time.time()))
    headers = sign_webhook(signing_key_from_b64(seed), raw, timestamp)
    client = telnyx.Telnyx(api_key="test-key", public_key=public_key)

    assert client.webhooks.unwrap(raw, headers=headers).data.event_type == "call.initiated"
    with pytest.raises(ValueError, match="Signature verification failed"):
        client.webhooks.unwrap(raw.replace("initiated", "answered"), headers=headers)
    _, other_public_key = generate_signing_key()
    with pytest.raises(ValueError):
        client.webhooks.unwrap(raw, headers=headers, key=other_public_key)


def test_a_bad_signing_key_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="base64"):
        signing_key_from_b64("not base64!")
    with pytest.raises(ValueError, match="32-byte"):
        signing_key_from_b64(base64.b64encode(b"short").decode())
    seed, public_key = generate_signing_key()
    assert base64.b64encode(bytes(signing_key_from_b64(seed).verify_key)).decode() == public_key
    assert isinstance(signing_key_from_b64(seed), nacl.signing.SigningKey)


# --------------------------------------------------------------------------- commands


async def test_a_repeated_command_id_takes_effect_once() -> None:
    async with phone_network(speak_greeting_twice=True) as (server, receptionist):
        call = await run_call(server, CallScript(lines=["Hello?"]))

    greetings = [c for c in call.commands if c.command_id == f"greeting-{call.call_control_id}"]
    assert [(c.status_code, c.duplicate) for c in greetings] == [(200, False), (200, True)]
    assert said(call) == [("agent", GREETING), ("caller", "Hello?"), ("agent", reply_to("Hello?"))]
    assert len(receptionist.events(call.call_control_id, "call.speak.started")) == 2


async def test_a_command_on_an_ended_call_is_422_call_has_already_ended() -> None:
    async with phone_network() as (server, _):
        call = await run_call(server, CallScript(lines=["Bye."]))
        async with sdk_client(server) as client:
            with pytest.raises(telnyx.UnprocessableEntityError) as raised:
                await client.calls.actions.speak(call.call_control_id, payload="Are you there?", voice="female")

    assert raised.value.status_code == 422
    assert "90018" in json.dumps(raised.value.body)
    assert raised.value.body["errors"][0]["title"] == "Call has already ended"
    assert (call.commands[-1].action, call.commands[-1].status_code) == ("speak", 422)


async def test_a_failed_command_retried_with_its_command_id_takes_effect_once() -> None:
    script = CallScript(hang_up_at_end=False, misbehaviour=Misbehaviour(fail_commands=1))
    async with phone_network(answer=False) as (server, receptionist):
        call = server.place_call(script)
        await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.initiated" for b in bodies))
        async with sdk_client(server) as client:
            with pytest.raises(telnyx.InternalServerError) as raised:
                await client.calls.actions.answer(call.call_control_id, command_id="answer-once")
            await client.calls.actions.answer(call.call_control_id, command_id="answer-once")
            await client.calls.actions.answer(call.call_control_id, command_id="answer-once")
            await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.answered" for b in bodies))
            await client.calls.actions.hangup(call.call_control_id, command_id="hangup")
        await server.wait_ended(call, TIMEOUT)

    assert raised.value.body["errors"][0]["code"] == "10007"
    answers = [c for c in call.commands if c.action == "answer"]
    assert [(c.status_code, c.duplicate) for c in answers] == [(500, False), (200, False), (200, True)]
    assert len(receptionist.events(call.call_control_id, "call.answered")) == 1


async def test_commands_need_a_bearer_token_and_a_known_call() -> None:
    async with phone_network(answer=False) as (server, receptionist):
        call = server.place_call(CallScript(hang_up_at_end=False, max_call_seconds=5))
        async with httpx.AsyncClient() as http:
            anonymous = await http.post(f"{server.base_url}/calls/{call.call_control_id}/actions/answer", json={})
        async with sdk_client(server) as client:
            with pytest.raises(telnyx.NotFoundError) as unknown:
                await client.calls.actions.speak("v3:no-such-call", payload="Hi", voice="female")
            await client.calls.actions.hangup(call.call_control_id)
        await server.wait_ended(call, TIMEOUT)

    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "10009"
    assert unknown.value.body["errors"][0]["code"] == "90015"
    assert call.commands[0].status_code == 401
    assert receptionist.events(call.call_control_id, "call.answered") == []


async def test_commands_off_the_sdk_types_or_the_documented_limits_are_refused_and_not_played() -> None:
    async with phone_network(answer=False) as (server, receptionist):
        call = server.place_call(CallScript(hang_up_at_end=False, max_call_seconds=5))
        await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.initiated" for b in bodies))
        async with sdk_client(server) as client:
            await client.calls.actions.answer(call.call_control_id)
            refusals = []
            for attempt in (
                # A language outside the SDK's enum, as an unchecked string from elsewhere would send it.
                client.calls.actions.speak(
                    call.call_control_id, payload="Hola", voice="female", extra_body={"language": "es-XX"}
                ),
                client.calls.actions.speak(call.call_control_id, payload="x" * 3001, voice="female"),
                client.calls.actions.speak(
                    call.call_control_id, payload="Hi", voice="female", client_state="not base64!"
                ),
                client.calls.actions.transfer(call.call_control_id, to="555-0199"),
                client.calls.dial(connection_id="conn-1", to="+15555550199", from_="CloudGreet"),
                client.messages.send(to="5550199", text="Your code is 1234"),
            ):
                with pytest.raises(telnyx.UnprocessableEntityError) as raised:
                    await attempt
                refusals.append(raised.value.body["errors"][0])
            await client.calls.actions.hangup(call.call_control_id)
        await server.wait_ended(call, TIMEOUT)

    assert [(r["code"], r["source"]["pointer"]) for r in refusals] == [
        ("10015", "/language"),
        ("10015", "/payload"),
        ("10015", "/client_state"),
        ("10016", "/to"),
        ("10016", "/from"),
        ("10016", "/to"),
    ]
    assert [c for c in call.conversation if c.speaker == "agent"] == [], "nothing refused was played"
    assert server.simulator.messages == []


async def test_dialling_out_creates_a_call_the_script_can_drive() -> None:
    async with phone_network() as (server, receptionist):
        server.simulator.expect_outbound_call("+15555550199", CallScript(lines=["Yes, this is Sam."]))
        async with sdk_client(server) as client:
            dialled = await client.calls.dial(connection_id="conn-1", to="+15555550199", from_="+15555550100")
        call = server.simulator.calls[dialled.data.call_control_id]
        await server.wait_ended(call, TIMEOUT)

    assert dialled.data.record_type == "call"
    assert call.direction == "outgoing"
    initiated = receptionist.events(call.call_control_id, "call.initiated")[0]["payload"]
    assert (initiated["direction"], initiated["from"], initiated["to"]) == ("outgoing", "+15555550100", "+15555550199")
    answer = "Yes, this is Sam."
    assert said(call) == [("agent", GREETING), ("caller", answer), ("agent", reply_to(answer))]
    assert call.hangup_source == "callee", "the person we dialled hung up"
    assert next(c.action for c in call.commands) == "dial"


# --------------------------------------------------------------------------- barge-in


async def test_a_barge_in_line_is_spoken_over_the_agent_and_stop_playback_cuts_it_off() -> None:
    long_greeting = "Welcome to Bright Smile Dental. " + "We offer cleanings, checkups and whitening. " * 60
    line = CallerLine(text="Sorry, what does a cleaning cost?", barge_in=True, barge_in_after_seconds=0.2)
    async with phone_network(greeting=long_greeting, stop_playback_on_speech=True) as (server, receptionist):
        call = await run_call(server, CallScript(lines=[line]))

    assert receptionist.command_errors == []
    greeting, caller, reply = call.conversation
    assert (greeting.speaker, greeting.interrupted) == ("agent", True)
    assert caller.speaker == "caller" and greeting.at < caller.at < greeting.ended_at
    assert (reply.text, reply.interrupted) == (reply_to(line.text), False)
    assert "stop_playback" in [c.action for c in call.commands]

    sent = [(d.body["data"]["event_type"], d.body["data"]["payload"]) for d in call.deliveries]
    first_transcription = next(i for i, (kind, _) in enumerate(sent) if kind == "call.transcription")
    greeting_ended = next(i for i, (kind, _) in enumerate(sent) if kind == "call.speak.ended")
    assert first_transcription < greeting_ended, "the caller spoke while the greeting was playing"
    assert sent[greeting_ended][1]["status"] == "interrupted"


# --------------------------------------------------------------------------- misbehaving network


async def test_duplicate_events_deliver_each_event_id_twice() -> None:
    script = CallScript(lines=["Hi there."], misbehaviour=Misbehaviour(duplicate_events=True))
    async with phone_network() as (server, receptionist):
        call = await run_call(server, script)

    attempts: dict[str, list[int]] = {}
    for delivery in call.deliveries:
        attempts.setdefault(delivery.event_id, []).append(delivery.attempt)
    assert attempts and all(sorted(tries) == [1, 2] for tries in attempts.values())
    received = [event["id"] for event in receptionist.events(call.call_control_id)]
    assert all(received.count(event_id) == 2 for event_id in attempts)
    assert said(call) == [("agent", GREETING), ("caller", "Hi there."), ("agent", reply_to("Hi there."))]


async def test_a_refused_webhook_is_redelivered_with_the_next_attempt_number() -> None:
    async with phone_network(fail_first_delivery_of=frozenset({"call.answered"})) as (server, receptionist):
        call = await run_call(server, CallScript(lines=["Hello?"]))

    answered = [d for d in call.deliveries if d.event_type == "call.answered"]
    assert [(d.attempt, d.status_code) for d in answered] == [(1, 500), (2, 200)]
    assert answered[0].event_id == answered[1].event_id
    [accepted] = [b for b in receptionist.bodies if b["data"]["event_type"] == "call.answered"]
    assert accepted["meta"]["attempt"] == 2
    assert said(call)[0] == ("agent", GREETING)


async def test_an_unanswered_webhook_is_posted_again_after_each_delay_of_the_retry_policy_then_given_up() -> None:
    with socket.socket() as probe:  # a port where nothing listens: every delivery fails to connect
        probe.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{probe.getsockname()[1]}/webhooks"
    simulator = TelnyxSimulator(nowhere, nacl.signing.SigningKey.generate(), webhook_retries_ms=[100, 200, 300])
    call = await simulator.place_call(CallScript(lines=["Hello?"], max_call_seconds=0.1))
    await call.wait_ended(10)
    await simulator.aclose()

    initiated = [d for d in call.deliveries if d.event_type == "call.initiated"]
    assert [(d.attempt, d.status_code) for d in initiated] == [(1, None), (2, None), (3, None), (4, None)]
    gaps = [later.sent_at - earlier.answered_at for earlier, later in itertools.pairwise(initiated)]
    assert all(gap >= delay / 1000 for gap, delay in zip(gaps, [100, 200, 300], strict=True)), gaps


@pytest.mark.parametrize("retries_ms", [[1] * 6, [30_000, 30_001], [-1]])
def test_a_retry_policy_telnyx_would_refuse_is_refused(retries_ms) -> None:
    with pytest.raises(ValueError, match="at most 5 retries"):
        TelnyxSimulator(
            "http://127.0.0.1:9/webhooks", nacl.signing.SigningKey.generate(), webhook_retries_ms=retries_ms
        )


async def test_reordered_events_are_swapped_yet_all_delivered_once() -> None:
    script = CallScript(
        lines=["Can I book a cleaning for tomorrow morning please?"], misbehaviour=Misbehaviour(reorder_events=True)
    )
    async with phone_network() as (server, _):
        call = await run_call(server, script)

    delivered = first_deliveries(call)
    ids = [event["id"] for event in delivered]
    assert len(ids) == len(set(ids))
    assert delivered[-1]["event_type"] == "call.hangup"
    occurred = [event["occurred_at"] for event in delivered]
    assert any(later < earlier for earlier, later in itertools.pairwise(occurred)), "some events arrived out of order"


async def test_late_events_arrive_after_the_hangup() -> None:
    script = CallScript(lines=["Thanks, bye."], misbehaviour=Misbehaviour(late_events_after_hangup=True))
    async with phone_network() as (server, receptionist):
        call = await run_call(server, script)

    types = [event["event_type"] for event in first_deliveries(call)]
    after_hangup = types[types.index("call.hangup") + 1 :]
    assert sorted(after_hangup) == ["call.speak.ended", "call.transcription"]
    assert receptionist.events(call.call_control_id)[-1]["event_type"] != "call.hangup"


# --------------------------------------------------------------------------- control API and CLI client


async def test_the_control_api_validates_scripts_and_reports_unknown_calls() -> None:
    async with phone_network() as (server, _), httpx.AsyncClient(base_url=server.control_url) as http:
        bad_line = await http.post("/simulator/calls", json={"lines": [{"text": "Hi", "dtmf": "1"}]})
        bad_type = await http.post("/simulator/calls", json={"max_call_seconds": "soon"})
        unknown = await http.get("/simulator/calls/v3:no-such-call")
        created = await http.post("/simulator/calls", json={"lines": ["Hello?"]})
        call_control_id = created.json()["call_control_id"]
        await server.wait_ended(server.simulator.calls[call_control_id], TIMEOUT)
        record = (await http.get(f"/simulator/calls/{call_control_id}")).json()
        listing = (await http.get("/simulator/calls")).json()

    assert bad_line.status_code == 422 and bad_line.json()["detail"][0]["loc"][:3] == ["body", "lines", 0]
    assert bad_type.status_code == 422 and "max_call_seconds" in bad_type.json()["detail"][0]["loc"]
    assert unknown.status_code == 404
    assert created.status_code == 201
    assert (record["status"], record["finished"]) == ("ended", True)
    assert [line["speaker"] for line in record["conversation"]] == ["agent", "caller", "agent"]
    assert record["commands"] and record["deliveries"] and record["turn_timings"]
    assert listing == [{key: record[key] for key in listing[0]}]


async def test_the_simulate_client_prints_the_conversation() -> None:
    printed: list[str] = []
    async with phone_network() as (server, _):
        call = await run_simulated_call(server.control_url, CallScript(lines=["Hello?"]), printed.append, TIMEOUT)

    assert printed == [f"Agent: {GREETING}", "Caller: Hello?", f"Agent: {reply_to('Hello?')}"]
    assert call["status"] == "ended"


async def test_the_simulate_client_marks_interrupted_sentences() -> None:
    long_greeting = "Welcome. " + "We offer cleanings and checkups. " * 80
    line = CallerLine(text="Just the price please.", barge_in=True, barge_in_after_seconds=0.2)
    printed: list[str] = []
    async with phone_network(greeting=long_greeting, stop_playback_on_speech=True) as (server, _):
        await run_simulated_call(server.control_url, CallScript(lines=[line]), printed.append, TIMEOUT)

    assert printed[0] == f"Agent: {long_greeting} (interrupted)"
    assert printed[1:] == ["Caller: Just the price please.", f"Agent: {reply_to('Just the price please.')}"]


async def test_the_simulate_client_says_when_the_simulator_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(SimulatorUnavailable, match=url):
        await run_simulated_call(url, CallScript(lines=["Hi"]), print, 5)


# --------------------------------------------------------------------------- call scripts


def test_load_call_script_reads_yaml_with_plain_string_lines(tmp_path) -> None:
    path = tmp_path / "booking.yaml"
    path.write_text(
        "from_number: '+15555550123'\n"
        "lines:\n"
        "  - I'd like to book a cleaning.\n"
        "  - text: Sorry, how much is it?\n"
        "    barge_in: true\n"
        "  - dtmf: '1'\n"
        "misbehaviour:\n"
        "  duplicate_events: true\n"
    )
    script = load_call_script(path)

    assert script.from_number == "+15555550123" and script.to_number == "+15555550100"
    assert script.lines == [
        CallerLine(text="I'd like to book a cleaning."),
        CallerLine(text="Sorry, how much is it?", barge_in=True),
        CallerLine(dtmf="1"),
    ]
    assert script.misbehaviour.duplicate_events and script.hang_up_at_end and script.max_call_seconds == 60


def test_load_call_script_reads_json(tmp_path) -> None:
    path = tmp_path / "call.json"
    path.write_text(json.dumps({"lines": ["Hello?"], "hang_up_at_end": False}))
    assert load_call_script(path) == CallScript(lines=[CallerLine(text="Hello?")], hang_up_at_end=False)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param(name, content, problem, id=name)
        for name, content, problem in [
            ("missing.yaml", None, "cannot read"),
            ("broken.yaml", "lines: [unclosed", "not valid YAML"),
            ("broken.json", "{", "not valid JSON"),
            ("list.yaml", "- Hello", "expected a mapping"),
            ("both.yaml", "lines:\n  - text: Hi\n    dtmf: '1'\n", "lines.0"),
            ("typo.yaml", "line: [Hi]\n", "line: Extra inputs are not permitted"),
            ("digit.yaml", "lines:\n  - dtmf: '12'\n", "one keypad digit"),
        ]
    ],
)
def test_load_call_script_names_the_file_and_the_problem(
    tmp_path, name: str, content: str | None, problem: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError) as raised:
        load_call_script(path)
    assert str(path) in str(raised.value)
    assert problem in str(raised.value)
