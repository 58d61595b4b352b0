"""The Telnyx simulator's other legs: escalation transfers, call-backs with answering-machine
detection, and SMS, driven with the real telnyx SDK like in test_telnyx_simulator."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
import telnyx

from simulator.call_script import CallScript
from simulator.telnyx.records import SimulatedCall
from tests.test_telnyx_simulator import (
    GREETING,
    TIMEOUT,
    Receptionist,
    phone_network,
    reply_to,
    run_call,
    said,
    sdk_client,
)

OUR_NUMBER = "+15555550100"  # the business line (CallScript's default to_number)
TARGET = "+15555550199"  # the human a call is escalated to
CUSTOMER = "+15555550177"  # the person our app calls back
NOBODY_FREE = "Sorry, nobody is free right now. Anything else I can do?"
MESSAGE = "Hi, this is Bright Smile Dental returning your call. Please call us back."
CONFIRMATION = "Your cleaning is booked for Tuesday at 10:00."


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


TRANSFER_STATE = b64("transferring")
TARGET_STATE = b64("escalation-leg")
DIAL_STATE = b64("callback")
MESSAGE_STATE = b64("voicemail-message")
# Payload keys of the reference files (plus call_control_id, which real AMD events carry).
BRIDGED_KEYS = {
    "call_control_id",
    "call_leg_id",
    "call_session_id",
    "client_state",
    "connection_id",
    "from",
    "state",
    "to",
}
MACHINE_DETECTION_KEYS = {
    "call_control_id",
    "call_leg_id",
    "call_session_id",
    "client_state",
    "connection_id",
    "from",
    "result",
    "to",
}


class Escalating(Receptionist):
    """Transfers the caller to TARGET when they ask for a person; when nobody takes the
    transfer, tells the caller so and carries on."""

    def __init__(self, public_key: str, *, transfer_twice: bool = False, **options: Any) -> None:
        super().__init__(public_key, **options)
        self.transfer_twice = transfer_twice
        self._caller_legs: dict[str, str] = {}  # call_session_id -> the caller's call_control_id
        self._transfer_done: dict[str, asyncio.Event] = {}

    def _transferred(self, call_control_id: str) -> asyncio.Event:
        return self._transfer_done.setdefault(call_control_id, asyncio.Event())

    def _observe(self, data: dict[str, Any]) -> None:
        payload = data["payload"]
        if data["event_type"] == "call.initiated" and payload["direction"] == "incoming":
            self._caller_legs.setdefault(payload["call_session_id"], payload["call_control_id"])
        super()._observe(data)

    async def _react(self, data: dict[str, Any]) -> None:
        payload = data["payload"]
        if payload["client_state"] != TARGET_STATE:
            await super()._react(data)
            return
        # The escalation leg: nothing to say to the human; a failed transfer is told to the caller.
        if data["event_type"] == "call.hangup" and payload["hangup_cause"] in ("timeout", "user_busy"):
            caller = self._caller_legs[payload["call_session_id"]]
            await self._transferred(caller).wait()  # both transfer commands were answered
            try:
                await self.sdk().calls.actions.speak(
                    caller, payload=NOBODY_FREE, voice="female", command_id=f"sorry-{caller}"
                )
            except telnyx.APIError as error:
                self.command_errors.append(error)

    async def _command(self, event_type: str, call_control_id: str, payload: dict[str, Any]) -> None:
        transcription = payload.get("transcription_data") or {}
        if event_type == "call.transcription" and transcription["is_final"] and "person" in transcription["transcript"]:
            try:
                for _ in range(2 if self.transfer_twice else 1):
                    await self.sdk().calls.actions.transfer(
                        call_control_id,
                        to=TARGET,
                        timeout_secs=5,
                        client_state=TRANSFER_STATE,
                        target_leg_client_state=TARGET_STATE,
                        command_id=f"transfer-{call_control_id}",
                    )
            finally:
                self._transferred(call_control_id).set()
            return
        await super()._command(event_type, call_control_id, payload)


class Dialler(Receptionist):
    """Our app calling back: waits for answering-machine detection, greets a human, leaves
    a message on a machine (and hangs up after it, unless told not to)."""

    def __init__(self, public_key: str, *, hang_up_after_message: bool = True, **options: Any) -> None:
        super().__init__(public_key, **options)
        self.hang_up_after_message = hang_up_after_message

    async def _command(self, event_type: str, call_control_id: str, payload: dict[str, Any]) -> None:
        calls = self.sdk().calls.actions
        if event_type == "call.answered":
            return  # not a word before we know who picked up
        if event_type == "call.machine.detection.ended":
            if payload["result"] == "human":
                await self._greet(call_control_id)
            else:
                await calls.speak(
                    call_control_id,
                    payload=MESSAGE,
                    voice="female",
                    client_state=MESSAGE_STATE,
                    command_id=f"message-{call_control_id}",
                )
        elif event_type == "call.speak.ended" and payload["client_state"] == MESSAGE_STATE:
            if self.hang_up_after_message:
                await calls.hangup(call_control_id, command_id=f"hangup-{call_control_id}")
        else:
            await super()._command(event_type, call_control_id, payload)


async def dial(client: telnyx.AsyncTelnyx, command_id: str = "callback-1", **options: Any) -> Any:
    return await client.calls.dial(
        connection_id="conn-1",
        from_=OUR_NUMBER,
        to=CUSTOMER,
        client_state=DIAL_STATE,
        command_id=command_id,
        timeout_secs=5,
        **options,
    )


def event_types(receptionist: Receptionist, call: SimulatedCall) -> list[str]:
    return [event["event_type"] for event in receptionist.events(call.call_control_id)]


# --------------------------------------------------------------------------- transfers


async def test_an_answered_transfer_bridges_both_legs_and_the_call_ends() -> None:
    lines = ["Can I speak to a person please?", "This line is never said."]
    script = CallScript(lines=lines, transfer_talk_seconds=0.05)
    async with phone_network(Escalating) as (server, receptionist):
        call = await run_call(server, script)
        [attempt] = call.transfers
        leg = await server.wait_ended(server.simulator.calls[attempt.leg_call_control_id], TIMEOUT)

    assert receptionist.rejected == [] and receptionist.command_errors == []
    assert (attempt.to, attempt.command_id, attempt.outcome) == (TARGET, f"transfer-{call.call_control_id}", "answered")
    assert call.to_json()["transfers"][0]["leg_call_control_id"] == leg.call_control_id
    assert said(call) == [
        ("agent", GREETING),
        ("caller", lines[0]),
        ("system", f"[transferred to {TARGET}, answered]"),
    ], "once bridged the caller talks to the human, not to the agent"
    assert (call.status, call.hangup_source) == ("ended", "caller")

    [bridged] = receptionist.events(call.call_control_id, "call.bridged")
    assert set(bridged["payload"]) >= BRIDGED_KEYS
    assert (bridged["payload"]["client_state"], bridged["payload"]["state"]) == (TRANSFER_STATE, "bridged")
    [hangup] = receptionist.events(call.call_control_id, "call.hangup")
    assert hangup["payload"]["hangup_source"] == "caller"

    assert (leg.direction, leg.transferred_from, leg.status) == ("outgoing", call.call_control_id, "ended")
    assert event_types(receptionist, leg) == ["call.initiated", "call.answered", "call.bridged", "call.hangup"]
    leg_events = receptionist.events(leg.call_control_id)
    initiated = leg_events[0]["payload"]
    assert (initiated["direction"], initiated["from"], initiated["to"]) == ("outgoing", OUR_NUMBER, TARGET)
    assert initiated["call_session_id"] == call.call_session_id == leg.call_session_id
    assert initiated["call_control_id"] != call.call_control_id
    assert {event["payload"]["client_state"] for event in leg_events} == {TARGET_STATE}
    assert set(leg_events[2]["payload"]) >= BRIDGED_KEYS


@pytest.mark.parametrize(
    ("behaviour", "cause", "outcome", "label"),
    [("no_answer", "timeout", "no_answer", "no answer"), ("busy", "user_busy", "busy", "busy")],
)
async def test_an_unanswered_transfer_hangs_up_the_new_leg_and_the_caller_carries_on(
    behaviour: str, cause: str, outcome: str, label: str
) -> None:
    lines = ["Can I talk to a person?", "Okay, then book me for Tuesday."]
    script = CallScript(lines=lines, on_call_answers={TARGET: behaviour}, ring_seconds=0.05)
    async with phone_network(Escalating, transfer_twice=True) as (server, receptionist):
        call = await run_call(server, script)
        [attempt] = call.transfers
        leg = await server.wait_ended(server.simulator.calls[attempt.leg_call_control_id], TIMEOUT)

    assert receptionist.command_errors == []
    assert attempt.outcome == outcome
    transfers = [(c.status_code, c.duplicate) for c in call.commands if c.action == "transfer"]
    assert transfers == [(200, False), (200, True)], "the repeated command_id rang no second leg"
    assert [c for c in server.simulator.calls.values() if c.transferred_from == call.call_control_id] == [leg]

    assert event_types(receptionist, leg) == ["call.initiated", "call.hangup"]
    hangup = receptionist.events(leg.call_control_id, "call.hangup")[0]["payload"]
    assert (hangup["hangup_cause"], hangup["client_state"]) == (cause, TARGET_STATE)
    assert hangup["call_session_id"] == call.call_session_id

    sorry = next(c for c in call.commands if c.command_id == f"sorry-{call.call_control_id}")
    assert sorry.status_code == 200, "the caller's leg was still up after the transfer failed"
    assert said(call) == [
        ("agent", GREETING),
        ("caller", lines[0]),
        ("system", f"[transferred to {TARGET}, {label}]"),
        ("agent", NOBODY_FREE),
        ("caller", lines[1]),
        ("agent", reply_to(lines[1])),
    ]
    assert call.hangup_source == "caller"
    assert not any(body["data"]["event_type"] == "call.bridged" for body in receptionist.bodies)


# --------------------------------------------------------------------------- warm transfers: a leg dialled linked to the call


def heard_final_words(bodies: list[dict[str, Any]]) -> bool:
    return any(
        b["data"]["event_type"] == "call.transcription" and b["data"]["payload"]["transcription_data"]["is_final"]
        for b in bodies
    )


async def dial_on_call(client: telnyx.AsyncTelnyx, call: SimulatedCall, command_id: str = "on-call-1") -> str:
    dialled = await client.calls.dial(
        connection_id="conn-1",
        from_=OUR_NUMBER,
        to=TARGET,
        link_to=call.call_control_id,
        answering_machine_detection="detect",
        client_state=TARGET_STATE,
        command_id=command_id,
        timeout_secs=5,
    )
    return dialled.data.call_control_id


async def test_a_leg_dialled_linked_to_a_call_shares_its_session_and_is_bridged_only_on_command() -> None:
    script = CallScript(lines=["I need someone now"], hang_up_at_end=False)
    async with phone_network() as (server, receptionist):
        call = server.place_call(script)
        await receptionist.wait_for(heard_final_words)
        async with sdk_client(server) as client:
            leg_id = await dial_on_call(client, call)
            # The receptionist greets whoever answers; a person on call presses 1 once it went quiet.
            await receptionist.wait_for(
                lambda bodies: any(
                    b["data"]["event_type"] == "call.dtmf.received"
                    and b["data"]["payload"]["call_control_id"] == leg_id
                    for b in bodies
                )
            )
            assert [(t.to, t.outcome, t.bridged) for t in call.transfers] == [(TARGET, "answered", False)]
            with pytest.raises(telnyx.UnprocessableEntityError):
                await client.calls.actions.bridge(
                    call.call_control_id, call_control_id_to_bridge_with="v3:not-a-call", command_id="bridge-0"
                )
            await client.calls.actions.bridge(
                call.call_control_id, call_control_id_to_bridge_with=leg_id, command_id="bridge-1"
            )
        leg = server.simulator.calls[leg_id]
        await server.wait_ended(call, TIMEOUT)
        await server.wait_ended(leg, TIMEOUT)

    assert leg.linked_to == call.call_control_id and leg.call_session_id == call.call_session_id
    [detection] = receptionist.events(leg_id, "call.machine.detection.ended")
    assert detection["payload"]["result"] == "human"
    assert receptionist.events(leg_id, "call.bridged") and receptionist.events(call.call_control_id, "call.bridged")
    assert [(t.to, t.outcome, t.bridged) for t in call.transfers] == [(TARGET, "answered", True)]
    assert ("caller", "[DTMF 1]") in said(leg)
    assert call.hangup_source == "caller", "the caller talked to the person, then hung up, and the leg went with it"
    assert server.simulator.refusals == []


async def test_a_caller_who_gives_up_on_hold_leaves_the_linked_leg_for_our_app_to_hang_up() -> None:
    script = CallScript(
        lines=["I need someone now"], on_call_answers={TARGET: "no_key_press"}, hold_patience_seconds=0.5
    )
    async with phone_network() as (server, receptionist):
        call = server.place_call(script)
        await receptionist.wait_for(heard_final_words)
        async with sdk_client(server) as client:
            leg_id = await dial_on_call(client, call)
            await server.wait_ended(call, TIMEOUT)
            leg = server.simulator.calls[leg_id]
            assert leg.status == "active", "Telnyx does not hang up a leg that was only linked"
            await client.calls.actions.hangup(leg_id, command_id="hangup-on-call")
        await server.wait_ended(leg, TIMEOUT)

    assert call.hangup_source == "caller" and ("system", "[hung up on hold]") in said(call)
    assert [line for line in said(leg) if line[0] == "caller"] == [], "nobody pressed a key"
    assert [(t.to, t.outcome, t.bridged) for t in call.transfers] == [(TARGET, "answered", False)]


# --------------------------------------------------------------------------- call-backs


async def test_a_call_back_answered_by_a_human_reports_human_then_the_person_talks() -> None:
    answer = "Yes, this is Sam."
    async with phone_network(Dialler) as (server, receptionist):
        server.expect_outbound_call(CUSTOMER, CallScript(lines=[answer]))
        async with sdk_client(server) as client:
            dialled = await dial(client, answering_machine_detection="detect")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)

    assert receptionist.command_errors == []
    assert call.call_control_id == dialled.data.call_control_id and call.direction == "outgoing"
    types = event_types(receptionist, call)
    assert types[:3] == ["call.initiated", "call.answered", "call.machine.detection.ended"]
    events = receptionist.events(call.call_control_id)
    assert [event["payload"]["client_state"] for event in events[:3]] == [DIAL_STATE] * 3
    detection = events[2]["payload"]
    assert set(detection) >= MACHINE_DETECTION_KEYS
    assert (detection["result"], detection["call_control_id"]) == ("human", call.call_control_id)
    assert (detection["from"], detection["to"]) == (OUR_NUMBER, CUSTOMER)

    assert said(call) == [("agent", GREETING), ("caller", answer), ("agent", reply_to(answer))]
    [transcribe] = [c for c in call.commands if c.action == "start_transcription"]
    first_transcript = next(d for d in call.deliveries if d.event_type == "call.transcription")
    assert transcribe.received_at <= first_transcript.sent_at, "heard only after start_transcription"
    assert call.hangup_source == "callee"
    assert types[-1] == "call.hangup"


async def test_a_voicemail_box_records_the_message_until_the_app_hangs_up() -> None:
    async with phone_network(Dialler) as (server, receptionist):
        server.expect_outbound_call(CUSTOMER, CallScript(callee="voicemail"))
        async with sdk_client(server) as client:
            await dial(client, answering_machine_detection="detect")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)

    assert receptionist.command_errors == []
    types = event_types(receptionist, call)
    assert types[:3] == ["call.initiated", "call.answered", "call.machine.detection.ended"]
    detection = receptionist.events(call.call_control_id, "call.machine.detection.ended")[0]["payload"]
    assert (detection["result"], detection["client_state"]) == ("machine", DIAL_STATE)
    assert said(call) == [("agent", MESSAGE)]
    assert not any(line.interrupted for line in call.conversation)
    assert "call.transcription" not in types
    assert (call.commands[-1].action, call.hangup_source) == ("hangup", "caller"), "our app hung up"


async def test_a_voicemail_box_hangs_up_once_the_agent_is_quiet() -> None:
    options = {"voicemail_silence_seconds": 0.1}
    async with phone_network(Dialler, simulator_options=options, hang_up_after_message=False) as (
        server,
        _receptionist,
    ):
        server.expect_outbound_call(CUSTOMER, CallScript(callee="voicemail"))
        async with sdk_client(server) as client:
            await dial(client, answering_machine_detection="detect")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)

    assert said(call) == [("agent", MESSAGE)]
    assert call.hangup_source == "callee", "the machine hung up"
    assert "hangup" not in [c.action for c in call.commands]


async def test_an_unanswered_call_back_times_out_without_being_answered() -> None:
    async with phone_network(Dialler) as (server, receptionist):
        server.expect_outbound_call(CUSTOMER, CallScript(callee="no_answer", ring_seconds=0.05))
        async with sdk_client(server) as client:
            await dial(client, answering_machine_detection="detect")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)

    assert event_types(receptionist, call) == ["call.initiated", "call.hangup"]
    hangup = receptionist.events(call.call_control_id, "call.hangup")[0]["payload"]
    assert (hangup["hangup_cause"], hangup["client_state"]) == ("timeout", DIAL_STATE)
    assert call.conversation == []


async def test_a_dial_repeated_with_its_command_id_places_one_call() -> None:
    async with phone_network() as (server, _):
        server.expect_outbound_call(CUSTOMER, CallScript(callee="busy"))
        async with sdk_client(server) as client:
            first = await dial(client, command_id="callback-7")
            again = await dial(client, command_id="callback-7")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)

    assert first.data.call_control_id == again.data.call_control_id == call.call_control_id
    assert [c for c in server.simulator.calls.values() if c.to_number == CUSTOMER] == [call]
    dials = [(c.action, c.status_code, c.duplicate) for c in call.commands]
    assert dials == [("dial", 200, False), ("dial", 200, True)]


async def test_outbound_expectations_are_used_in_order_then_a_listening_human() -> None:
    answer = "Sam speaking."
    async with phone_network() as (server, receptionist):
        server.expect_outbound_call(CUSTOMER, CallScript(callee="busy"))
        server.expect_outbound_call(CUSTOMER, CallScript(lines=[answer]))
        async with sdk_client(server) as client:
            for attempt in range(3):
                await dial(client, command_id=f"callback-{attempt}")
        calls = [await server.wait_for_outbound_call(CUSTOMER, TIMEOUT) for _ in range(3)]
        for call in calls:
            await server.wait_ended(call, TIMEOUT)

    busy, human, default = calls
    assert len({call.call_control_id for call in calls}) == 3
    assert [c.command_id for call in calls for c in call.commands if c.action == "dial"] == [
        "callback-0",
        "callback-1",
        "callback-2",
    ]
    assert event_types(receptionist, busy) == ["call.initiated", "call.hangup"]
    hangup = receptionist.events(busy.call_control_id, "call.hangup")[0]["payload"]
    assert (hangup["hangup_cause"], hangup["hangup_source"]) == ("user_busy", "callee")
    assert said(human) == [("agent", GREETING), ("caller", answer), ("agent", reply_to(answer))]
    assert said(default) == [("agent", GREETING)] and default.hangup_source == "callee"
    assert "call.machine.detection.ended" not in event_types(receptionist, human), "no AMD requested"


async def test_the_control_api_takes_outbound_expectations_and_lists_calls_and_messages() -> None:
    async with phone_network() as (server, _), httpx.AsyncClient(base_url=server.control_url) as http:
        created = await http.post(
            "/simulator/outbound-expectations", json={"to_number": CUSTOMER, "script": {"callee": "busy"}}
        )
        bad = await http.post(
            "/simulator/outbound-expectations", json={"to_number": CUSTOMER, "script": {"callee": "robot"}}
        )
        async with sdk_client(server) as client:
            await dial(client)
            await client.messages.send(from_=OUR_NUMBER, to=CUSTOMER, text="Sorry we missed you.")
        call = await server.wait_for_outbound_call(CUSTOMER, TIMEOUT)
        await server.wait_ended(call, TIMEOUT)
        listing = (await http.get("/simulator/calls")).json()
        record = (await http.get(f"/simulator/calls/{call.call_control_id}")).json()
        messages = (await http.get("/simulator/messages")).json()

    assert created.status_code == 201 and bad.status_code == 422
    assert [(c["call_control_id"], c["direction"], c["to_number"], c["status"]) for c in listing] == [
        (call.call_control_id, "outgoing", CUSTOMER, "ended"),
    ]
    assert (record["script"]["callee"], record["hangup_source"], record["transfers"]) == ("busy", "callee", [])
    assert [(m["from_number"], m["to_number"], m["text"], m["idempotency_key"]) for m in messages] == [
        (OUR_NUMBER, CUSTOMER, "Sorry we missed you.", None),
    ]


# --------------------------------------------------------------------------- SMS


async def test_an_sms_is_recorded_once_per_idempotency_key() -> None:
    async with phone_network() as (server, _), sdk_client(server) as client:
        first = await client.messages.send(
            from_=OUR_NUMBER, to=CUSTOMER, text=CONFIRMATION, idempotency_key="confirm-1"
        )
        again = await client.messages.send(
            from_=OUR_NUMBER, to=CUSTOMER, text=CONFIRMATION, idempotency_key="confirm-1"
        )
        other = await client.messages.send(from_=OUR_NUMBER, to=CUSTOMER, text="See you soon.")

    messages = server.simulator.messages
    assert [(m.from_number, m.to_number, m.text, m.idempotency_key) for m in messages] == [
        (OUR_NUMBER, CUSTOMER, CONFIRMATION, "confirm-1"),
        (OUR_NUMBER, CUSTOMER, "See you soon.", None),
    ]
    assert first.data.id == again.data.id == messages[0].id
    assert other.data.id == messages[1].id != first.data.id
    assert (first.data.record_type, first.data.direction, first.data.text) == ("message", "outbound", CONFIRMATION)
    assert first.data.from_.phone_number == OUR_NUMBER
    assert [(to.phone_number, to.status) for to in first.data.to] == [(CUSTOMER, "queued")]


async def test_an_sms_needs_a_bearer_token_a_recipient_and_a_text() -> None:
    async with phone_network() as (server, _):
        async with httpx.AsyncClient() as http:
            anonymous = await http.post(f"{server.base_url}/messages", json={"to": CUSTOMER, "text": "Hi"})
            no_recipient = await http.post(
                f"{server.base_url}/messages", json={"text": "Hi"}, headers={"Authorization": "Bearer test-key"}
            )
        async with sdk_client(server) as client:
            with pytest.raises(telnyx.UnprocessableEntityError) as no_text:
                await client.messages.send(from_=OUR_NUMBER, to=CUSTOMER)

    assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["code"] == "10009"
    assert no_recipient.status_code == 422
    assert no_recipient.json()["errors"][0]["source"] == {"pointer": "/to"}
    assert no_text.value.body["errors"][0]["source"] == {"pointer": "/text"}
    assert server.simulator.messages == []


REALTIME_URI = "sip:proj_cloudgreet@sip.api.openai.com;transport=tls"


async def test_a_ringing_call_is_transferred_to_a_sip_uri_with_custom_headers_and_bad_ones_are_refused() -> None:
    """As Telnyx: a call may be transferred before it is answered (it is bridged when the far end answers);
    `to` may be a SIP URI, and `custom_headers` go on its INVITE. What no INVITE could carry is refused."""
    async with phone_network(answer=False) as (server, receptionist):
        call = server.place_call(CallScript(hang_up_at_end=False, transfer_talk_seconds=0.05))
        await receptionist.wait_for(lambda bodies: any(b["data"]["event_type"] == "call.initiated" for b in bodies))
        refusals = []
        async with sdk_client(server) as client:
            for to, headers in (
                ("sip:proj_cloudgreet", [{"name": "X-CloudGreet-Dialed", "value": OUR_NUMBER}]),  # no host
                ("sip:@sip.api.openai.com", []),  # no user
                (REALTIME_URI, [{"name": "X CloudGreet Dialed", "value": OUR_NUMBER}]),  # no SIP token
                (REALTIME_URI, [{"name": "X-CloudGreet-Dialed", "value": f"{OUR_NUMBER}\r\nVia: x"}]),  # two lines
                (REALTIME_URI, [{"name": "X-CloudGreet-Dialed"}]),  # no value
            ):
                with pytest.raises(telnyx.UnprocessableEntityError) as raised:
                    await client.calls.actions.transfer(call.call_control_id, to=to, custom_headers=headers)  # type: ignore[list-item]
                refusals.append(raised.value.body["errors"][0]["source"]["pointer"])
            assert call.transfers == [], "nothing refused is rung"
            await client.calls.actions.transfer(
                call.call_control_id,
                to=REALTIME_URI,
                custom_headers=[{"name": "X-CloudGreet-Dialed", "value": OUR_NUMBER}],
                command_id="realtime-handover",
            )
        await server.wait_ended(call, TIMEOUT)
        server.simulator.refusals.clear()  # provoked above

    assert refusals == ["/to", "/to", "/custom_headers/0/name", "/custom_headers/0/value", "/custom_headers/0/value"]
    [attempt] = call.transfers
    assert (attempt.to, attempt.outcome, attempt.bridged) == (REALTIME_URI, "answered", True)
    assert [c.action for c in call.commands if c.status_code == 200] == ["transfer"], "never answered by us"
    assert [line for line in call.conversation if line.speaker == "agent"] == []
    assert receptionist.events(call.call_control_id, "call.bridged")
