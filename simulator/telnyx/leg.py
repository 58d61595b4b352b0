"""One call leg: the network side of one phone call, from ringing to hang-up.

An incoming leg waits for our app to answer; an outgoing leg (a dial, or the second leg of a
transfer) rings and is picked up, or not (`callee`). While it is up, the leg answers our app's
commands and, on its own event loop, runs what the line does, each part in its own module:
the person speaking (`caller`), the sentences played to them (`playback`), transfers to other
legs (`transfers`) and the webhooks about it all (`outbox`). The leg holds what they share:
its ids, its state (ringing, active, ended; transcribing) and a signal that wakes whoever
waits for that state to change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from simulator.telnyx import webhook_bodies
from simulator.telnyx.callee import Callee
from simulator.telnyx.caller import Caller
from simulator.telnyx.command_errors import CommandErrors
from simulator.telnyx.command_rules import refusal_of
from simulator.telnyx.commands import CALL_ENDED, OK, REQUIRED_PARAMS, UNEXPECTED, first_missing, missing_param
from simulator.telnyx.outbox import WebhookOutbox
from simulator.telnyx.playback import Playback
from simulator.telnyx.recordings import SimulatedRecording
from simulator.telnyx.records import SimulatedCall
from simulator.telnyx.transfers import Transfers

if TYPE_CHECKING:
    from simulator.telnyx.simulator import TelnyxSimulator

# Telnyx Deepgram's silence before a final transcript when transcription_start names no utterance_end_ms.
DEFAULT_ENDPOINTING_SECONDS = 0.7
# With late_events_after_hangup, what the caller is still heard saying after hanging up.
LATE_TRANSCRIPT = "hello are you still there"


class CallLeg:
    """The person on the line, the audio playing to them, the webhooks about it and the
    commands it receives."""

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
        self.call_leg_id = webhook_bodies.new_leg_id()
        self.call_session_id = call_session_id or webhook_bodies.new_leg_id()
        call.call_session_id = self.call_session_id
        self.connection_id = connection_id
        self.start_time = webhook_bodies.iso_now()
        self.end_time: str | None = None
        self.client_state: str | None = None
        self.hangup_cause = "normal_clearing"
        self.transcribing = False
        # As transcription_start asked (a script with `endpointing` waits this long for the final).
        self.interim_results = True
        self.endpointing_seconds = DEFAULT_ENDPOINTING_SECONDS
        self.recording: SimulatedRecording | None = None  # from record_start to the hang-up
        self.seen_command_ids: set[str] = set()
        self.failures_left = call.script.misbehaviour.fail_commands
        self.command_errors = CommandErrors(call.script.misbehaviour)
        self.outbox = WebhookOutbox(simulator, call, call.script.misbehaviour)
        self.playback = Playback(self)
        self.caller = Caller(self)
        self.callee = Callee(self)
        self.transfers = Transfers(self)
        self.tasks: list[asyncio.Task[None]] = []  # the person and the audio (not the deliveries)
        self.person_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._guard: asyncio.TimerHandle | None = None

    # ---- lifecycle

    def start(self) -> None:
        """Ring: post call.initiated and start the deliveries, the person and the audio."""
        self.post("call.initiated", webhook_bodies.initiated(self.ids(), self.call, self.start_time))
        self.outbox.start()
        self.person_task = self.loop.create_task(self._run_person())
        self.tasks = [self.loop.create_task(self.playback.run()), self.person_task]
        self._guard = self.loop.call_later(self.call.script.max_call_seconds, self.end_call, True)

    async def _run_person(self) -> None:
        if self.call.direction == "incoming":
            await self.caller.run()
        else:
            await self.callee.run()

    def pick_up(self) -> None:
        """An outgoing leg is answered at the far end."""
        if self.call.status == "ringing":
            self.call.status = "active"
            self.post("call.answered", webhook_bodies.answered(self.ids(), self.call, self.start_time))
            self.playback.line_answered()
            self.notify()

    def end_call(self, by_person: bool, cause: str = "normal_clearing") -> None:
        """Hang up: by the person on the line (script end, guard, busy) or by our app
        (command) or Telnyx on its behalf (ring timeout, the other leg of a transfer)."""
        if self.call.status == "ended":
            return
        self.call.status = "ended"
        self.end_time = webhook_bodies.iso_now()
        self.hangup_cause = cause
        self.call.hangup_source = self._hangup_source(by_person)
        self._stop_background_work()
        self.post("call.hangup", webhook_bodies.hangup(self.ids(), self.call, self.start_time, self.end_time, cause))
        self._save_recording()
        if self.call.script.misbehaviour.late_events_after_hangup:
            self._post_late_events()
        self.outbox.close()
        self.notify()
        self.transfers.hung_up()

    def _save_recording(self) -> None:
        """The recording stops with the call, and Telnyx posts where to fetch it."""
        recording = self.recording
        if recording is None:
            return
        recording.ended_at = time.time()
        self.sim.recordings[recording.id] = recording
        self.post("call.recording.saved", recording.saved_payload(self.ids(), self.sim.public_url))

    def _hangup_source(self, by_person: bool) -> str:
        person_called_us = self.call.direction == "incoming"
        return "caller" if by_person == person_called_us else "callee"

    def _stop_background_work(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
        for task in self.tasks:  # the delivery task keeps running to drain the outbox
            if task is not asyncio.current_task():
                task.cancel()
        self.playback.cut_off()

    def _post_late_events(self) -> None:
        self.post("call.transcription", webhook_bodies.transcription(self.ids(), LATE_TRANSCRIPT, is_final=True))
        speak_id = self.playback.last_speak_id or webhook_bodies.new_speak_id()
        self.post("call.speak.ended", webhook_bodies.speak(self.ids(), speak_id, "completed"))

    def abort(self) -> list[asyncio.Task[None]]:
        """Simulator shutdown: stop everything now, without further webhooks."""
        if self._guard is not None:
            self._guard.cancel()
        for task in self.tasks:
            task.cancel()
        delivery = self.outbox.abort()
        self.call.ended.set()
        return [*self.tasks, *([delivery] if delivery is not None else [])]

    # ---- state changes

    def notify(self) -> None:
        """Wake every coroutine waiting for the call's state to change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, timeout: float | None) -> None:
        changed = self._changed
        with suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    async def wait_until(self, seconds_left: Callable[[], float | None]) -> None:
        """Wait until `seconds_left()` (None = not yet known) reaches zero."""
        while True:
            remaining = seconds_left()
            if remaining is not None and remaining <= 0:
                return
            await self.wait_for_change(remaining)

    # ---- webhooks

    def ids(self, client_state: str | None = None) -> dict[str, Any]:
        """The ids every webhook about this leg carries (keys as in real Telnyx traffic)."""
        return {
            "call_control_id": self.call.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "client_state": client_state or self.client_state,
            "connection_id": self.connection_id,
        }

    def post(self, event_type: str, payload: dict[str, Any], turn_index: int | None = None) -> None:
        """Queue a webhook; the leg's outbox sends them in order."""
        self.outbox.post(event_type, payload, turn_index)

    # ---- commands

    def receive(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], bool]:
        """Answer one command as Telnyx would: (HTTP status, JSON body, duplicate)."""
        if self.call.status == "ended":
            return 422, CALL_ENDED, False
        missing = first_missing(body, REQUIRED_PARAMS.get(action, ()))
        if missing:
            return 422, missing_param(missing), False
        if (refused := refusal_of(action, body)) is not None:
            self.sim.refusals.append(f"{action}: {refused['errors'][0]['detail']}")
            return 422, refused, False
        if action == "bridge" and (unbridgeable := self.transfers.bridge_refusal(body)) is not None:
            return 422, unbridgeable, False
        if self.failures_left > 0:
            self.failures_left -= 1
            return 500, UNEXPECTED, False
        error = self.command_errors.draw()
        if error == "before":
            return 500, UNEXPECTED, False
        command_id = body.get("command_id")
        duplicate = bool(command_id and command_id in self.seen_command_ids)
        if not duplicate:
            if command_id:
                self.seen_command_ids.add(command_id)
            self._act(action, body)
        return (500, UNEXPECTED, duplicate) if error == "after" else (200, OK, duplicate)

    def _act(self, action: str, body: dict[str, Any]) -> None:
        if body.get("client_state"):
            self.client_state = body["client_state"]
        handler = {
            "answer": self._answer,
            "speak": self.playback.queue_speak,
            "start_transcription": self._start_transcription,
            "stop_transcription": self._stop_transcription,
            "stop_playback": self.playback.stop_command,
            "hangup": self._hang_up_command,
            "transfer": self.transfers.start,
            "bridge": self.transfers.bridge_command,
            "start_recording": self._start_recording,
        }.get(action)
        if handler is not None:
            handler(body)
        self.notify()

    def _answer(self, body: dict[str, Any]) -> None:
        if self.call.direction != "incoming" or self.call.status != "ringing":
            return
        self.call.status = "active"
        self.transcribing = self.transcribing or bool(body.get("transcription"))
        self.post("call.answered", webhook_bodies.answered(self.ids(), self.call, self.start_time))

    def _start_transcription(self, body: dict[str, Any]) -> None:
        self.transcribing = True
        config = body.get("transcription_engine_config") or {}
        self.interim_results = config.get("interim_results", True)
        if "utterance_end_ms" in config:
            self.endpointing_seconds = config["utterance_end_ms"] / 1000

    def _start_recording(self, body: dict[str, Any]) -> None:
        if self.recording is None and self.call.status == "active":
            self.recording = SimulatedRecording(
                call_control_id=self.call.call_control_id,
                call_leg_id=self.call_leg_id,
                call_session_id=self.call_session_id,
                connection_id=self.connection_id,
                channels=str(body["channels"]),
                format=str(body["format"]),
                started_at=time.time(),
            )

    def _stop_transcription(self, body: dict[str, Any]) -> None:
        self.transcribing = False

    def _hang_up_command(self, body: dict[str, Any]) -> None:
        cancelling = self.call.direction == "outgoing" and self.call.status == "ringing"
        self.end_call(by_person=False, cause="originator_cancel" if cancelling else "normal_clearing")
