"""`TelnyxSimulator`: Telnyx Call Control as our API sees it, on one asyncio event loop.

It places calls to our number (`place_call`), dials out when our app asks (`dial`, for
call-backs; `expect_outbound_call` scripts who answers), answers the Call Control commands of
every call it knows (`handle_command`), sends SMS (`send_message`) and posts every leg's signed
webhooks to our API (`webhook_url`). Each call's own behaviour is its `CallLeg`
(simulator/telnyx/leg.py). The HTTP app (app.py) and the server thread (server.py) put it on
the network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import httpx
import nacl.signing

from simulator.call_script import CallScript
from simulator.telnyx import texts, webhook_bodies
from simulator.telnyx.callee import VOICEMAIL_SILENCE_SECONDS, amd_requested, ring_seconds
from simulator.telnyx.command_rules import invalid_param, refusal_of
from simulator.telnyx.commands import (
    ACTION_ALIASES,
    AUTH_FAILED,
    authorized,
    first_missing,
    first_number,
    missing_param,
    telnyx_error,
    unknown_call,
)
from simulator.telnyx.leg import CallLeg
from simulator.telnyx.number_inventory import NumberInventory
from simulator.telnyx.recordings import SimulatedRecording
from simulator.telnyx.records import ReceivedCommand, SentMessage, SimulatedCall
from simulator.telnyx.signing import public_key_b64
from simulator.telnyx.sip_far_end import SipFarEnd
from simulator.telnyx.texts import ReceivedText

log = logging.getLogger("cloudgreet.simulator")

DEFAULT_CONNECTION_ID = "2811212257810187875"
WEBHOOK_TIMEOUT_SECONDS = 10.0
# A webhook not answered 2xx is posted again after each of these delays, then given up: Telnyx's
# retry policy (`webhook_retries_policies`: at most 5 retries, at most 60 s of delays in all). This
# quick one suits tests about other things; tests/test_api_restart.py sets a policy as an
# application would, long enough to outlast a restart of our API.
DEFAULT_WEBHOOK_RETRIES_MS = (50, 100, 150, 200)
MAX_WEBHOOK_RETRIES = 5
MAX_WEBHOOK_RETRY_DELAY_MS = 60_000


def checked_retries(retries_ms: Sequence[int]) -> tuple[int, ...]:
    """A retry policy as Telnyx accepts it, or ValueError saying why not."""
    retries = tuple(retries_ms)
    if len(retries) > MAX_WEBHOOK_RETRIES or sum(retries) > MAX_WEBHOOK_RETRY_DELAY_MS or min(retries, default=0) < 0:
        raise ValueError(f"at most {MAX_WEBHOOK_RETRIES} retries of at most {MAX_WEBHOOK_RETRY_DELAY_MS} ms in all")
    return retries


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
        webhook_retries_ms: Sequence[int] = DEFAULT_WEBHOOK_RETRIES_MS,
        connection_id: str = DEFAULT_CONNECTION_ID,
        voicemail_silence_seconds: float = VOICEMAIL_SILENCE_SECONDS,
    ) -> None:
        self.webhook_url = webhook_url
        # The messaging profile's webhook URL: ours is beside the voice one.
        self.messaging_webhook_url = webhook_url.rsplit("/", 1)[0] + "/messaging-handler"
        self.signing_key = signing_key
        self.speech_seconds_per_char = speech_seconds_per_char
        self.caller_pause_seconds = caller_pause_seconds
        self.webhook_retries_ms = checked_retries(webhook_retries_ms)
        self.connection_id = connection_id
        self.voicemail_silence_seconds = voicemail_silence_seconds
        self.calls: dict[str, SimulatedCall] = {}
        self.commands: list[ReceivedCommand] = []  # every command, unknown calls included
        self.messages: list[SentMessage] = []  # every SMS sent, in order, once per Idempotency-Key
        # Every request refused by Telnyx's rules (command_rules): from our app, each one is a bug.
        self.refusals: list[str] = []
        self.recordings: dict[str, SimulatedRecording] = {}  # saved, by recording id; deleted ones stay marked
        self.numbers = NumberInventory()  # numbers for sale, and our orders of them
        # Who answers a transfer to a SIP URI at each host (sip_far_end.py); a host not listed answers as a phone.
        self.sip_far_ends: dict[str, SipFarEnd] = {}
        # Where this simulator is served, for the download URLs of recordings (set by its server).
        self.public_url = ""
        self._legs: dict[str, CallLeg] = {}
        self._outbound_scripts: dict[str, deque[CallScript]] = {}
        self._dials: dict[str, CallLeg] = {}  # by the dial's command_id
        self._dialled: list[SimulatedCall] = []  # calls our app dialled, in order
        self._claimed: set[str] = set()  # call_control_ids handed out by wait_for_outbound_call
        self._dialled_changed = asyncio.Event()
        self._messages_by_key: dict[str, tuple[SentMessage, dict[str, Any]]] = {}
        # Texts people sent to our numbers, and who texted STOP to which of our numbers (ours, theirs).
        self.received_texts: list[ReceivedText] = []
        self.stopped: set[tuple[str, str]] = set()
        self._http: httpx.AsyncClient | None = None

    def set_webhook_retries(self, retries_ms: Sequence[int]) -> None:
        """The retry policy of webhooks posted from now on, as an application's owner sets it at Telnyx."""
        self.webhook_retries_ms = checked_retries(retries_ms)

    @property
    def public_key_b64(self) -> str:
        return public_key_b64(self.signing_key)

    async def place_call(self, script: CallScript) -> SimulatedCall:
        """A person dials our number: call.initiated goes out and the script starts."""
        call = SimulatedCall(
            webhook_bodies.new_call_control_id(), script, "incoming", script.from_number, script.to_number
        )
        self.open_leg(call, self.connection_id).start()
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
            with suppress(TimeoutError):
                await asyncio.wait_for(self._dialled_changed.wait(), remaining)

    def open_leg(self, call: SimulatedCall, connection_id: str, call_session_id: str | None = None) -> CallLeg:
        """A new leg of this network (not yet ringing: its owner sets it up, then starts it)."""
        leg = CallLeg(self, call, connection_id, call_session_id)
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
        if not authorized(authorization):
            status, answer = 401, AUTH_FAILED
        elif leg is None:
            status, answer = 404, unknown_call(call_control_id)
        else:
            status, answer, duplicate = leg.receive(action, body)
        command = ReceivedCommand(action, call_control_id, body.get("command_id"), body, time.time(), status, duplicate)
        self._record(command, leg)
        return status, answer

    def dial(self, body: dict[str, Any], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """POST /v2/calls: our app calls a person (call-backs). A dial repeated with the
        same command_id answers the call the first one created."""
        command_id = body.get("command_id")
        if not authorized(authorization):
            self._record(ReceivedCommand("dial", "", command_id, body, time.time(), 401), None)
            return 401, AUTH_FAILED
        if command_id and command_id in self._dials:
            leg = self._dials[command_id]
            self._record(
                ReceivedCommand("dial", leg.call.call_control_id, command_id, body, time.time(), 200, True), leg
            )
            return 200, {"data": self._dial_answer(leg)}
        missing = first_missing(body, ("connection_id", "to", "from"))
        refused = missing_param(missing) if missing else refusal_of("dial", body)
        linked = self._legs.get(str(body["link_to"])) if body.get("link_to") and refused is None else None
        if refused is None and body.get("link_to") and (linked is None or linked.call.status == "ended"):
            # Not refused by Telnyx's rules: the call to link to may have ended a moment before.
            self._record(ReceivedCommand("dial", "", command_id, body, time.time(), 422), None)
            return 422, invalid_param("link_to", "The call to link to is not an active call.")
        if refused is not None:
            self.refusals.append(f"dial: {refused['errors'][0]['detail']}")
            self._record(ReceivedCommand("dial", "", command_id, body, time.time(), 422), None)
            return 422, refused
        leg = self._start_outbound(body, linked)
        if command_id:
            self._dials[command_id] = leg
        self._record(ReceivedCommand("dial", leg.call.call_control_id, command_id, body, time.time(), 200), leg)
        return 200, {"data": self._dial_answer(leg)}

    def leg(self, call_control_id: str) -> CallLeg | None:
        return self._legs.get(call_control_id)

    def _start_outbound(self, body: dict[str, Any], linked: CallLeg | None) -> CallLeg:
        """Ring the number: as the next script expected for it, or, linked to a call (a warm
        transfer's leg), as that call's script says its on-call numbers answer."""
        to_number = first_number(body["to"])
        expected = self._outbound_scripts.get(to_number)
        if linked is not None:
            script = linked.transfers.on_call_script(to_number)
        else:
            script = expected.popleft() if expected else CallScript()
        call = SimulatedCall(webhook_bodies.new_call_control_id(), script, "outgoing", str(body["from"]), to_number)
        call.linked_to = linked.call.call_control_id if linked is not None else None
        # link_to shares the call session of the call linked to.
        leg = self.open_leg(call, str(body["connection_id"]), linked.call_session_id if linked is not None else None)
        leg.client_state = body.get("client_state") or None
        leg.callee.answer_behaviour = "answer" if script.callee == "human" else script.callee
        leg.callee.ring_seconds = ring_seconds(body, script)
        leg.callee.detect_machine = amd_requested(body)
        if linked is not None:
            linked.transfers.link(leg, body)
        self._dialled.append(call)
        self._dialled_changed.set()
        self._dialled_changed = asyncio.Event()
        leg.start()
        return leg

    @staticmethod
    def _dial_answer(leg: CallLeg) -> dict[str, Any]:
        # Telnyx documents is_alive as always false for dial: dialling is asynchronous.
        return {
            "call_control_id": leg.call.call_control_id,
            "call_leg_id": leg.call_leg_id,
            "call_session_id": leg.call_session_id,
            "is_alive": False,
            "record_type": "call",
            "start_time": leg.start_time,
        }

    def _record(self, command: ReceivedCommand, leg: CallLeg | None) -> None:
        self.commands.append(command)
        if leg is not None:
            leg.call.commands.append(command)

    # ---- Messaging API

    def send_message(
        self, body: dict[str, Any], authorization: str | None, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        """POST /v2/messages: our app sends an SMS. A repeated Idempotency-Key answers the
        first message again and sends nothing."""
        if not authorized(authorization):
            return 401, AUTH_FAILED
        if idempotency_key and idempotency_key in self._messages_by_key:
            return 200, self._messages_by_key[idempotency_key][1]
        missing = first_missing(body, ("to", "text"))
        refused = missing_param(missing) if missing else refusal_of("message", body)
        if refused is not None:
            self.refusals.append(f"message: {refused['errors'][0]['detail']}")
            return 422, refused
        if (str(body.get("from") or ""), first_number(body["to"])) in self.stopped:
            # Telnyx reports this as error 40300 on the message; refused at once here, so a test sees it.
            refused = telnyx_error("40300", "Blocked due to STOP message", "The recipient has opted out (STOP).")
            self.refusals.append(f"message: {refused['errors'][0]['detail']}")
            return 422, refused
        message = SentMessage(
            str(body.get("from") or ""), first_number(body["to"]), str(body["text"]), time.time(), idempotency_key
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
            "received_at": webhook_bodies.iso_time(message.at),
        }

    async def receive_text(
        self, from_number: str, to_number: str, text: str, *, duplicate: bool = False
    ) -> ReceivedText:
        """A person texts our number: message.received goes to the messaging webhook URL, signed.
        Returns once delivered (or given up), with what our API answered to each delivery."""
        received = ReceivedText(from_number, to_number, text)
        word = texts.keyword(text)
        if word in texts.STOP_WORDS:
            self.stopped.add((to_number, from_number))
        elif word in texts.START_WORDS:
            self.stopped.discard((to_number, from_number))
        self.received_texts.append(received)
        await texts.deliver(self, self.messaging_webhook_url, received, duplicate=duplicate)
        return received

    # ---- plumbing

    async def post_webhook(self, url: str, content: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST one signed body to a URL of our API: (status code, None) or (None, connection error)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS)
        try:
            response = await self._http.post(url, content=content, headers=headers)
        except httpx.HTTPError as error:
            log.warning("webhook to %s failed: %r", url, error)
            return None, repr(error)
        return response.status_code, None

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
