"""Escalations: a `transfer` command rings a human on a new leg of the same call session, or our
app dials one itself with `link_to` this call (a warm transfer) and later `bridge`s the two.

The caller is on hold meanwhile (so their script waits; hold_patience_seconds may hang them up).
A `transfer` bridges whatever picks up; a dialled leg is bridged only by our app's `bridge`.
Bridged, the caller stops their script, talks for the script's transfer_talk_seconds and hangs
up, which ends the human's leg too. If the target does not answer or is busy, the caller is
still with the agent, who is expected to speak again. Each leg rung is recorded on the caller's
call (`TransferAttempt`); who answers which number is the call script's `on_call_answers`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from simulator.call_script import CallerLine, CallScript
from simulator.telnyx import webhook_bodies
from simulator.telnyx.callee import ring_seconds
from simulator.telnyx.command_rules import invalid_param
from simulator.telnyx.commands import first_number
from simulator.telnyx.records import ConversationLine, SimulatedCall, TransferAttempt
from simulator.telnyx.sip_far_end import invite_of, sip_host

if TYPE_CHECKING:
    from simulator.telnyx.leg import CallLeg


class Transfers:
    """A leg's transfers: on the caller's leg, the legs it rang; on such a leg, the caller's
    leg and the attempt it answers. Once answered, the two legs are bridged."""

    def __init__(self, leg: CallLeg) -> None:
        self.leg = leg
        self.legs: list[CallLeg] = []
        self.parent: CallLeg | None = None
        self.attempt: TransferAttempt | None = None
        self.bridged_to: CallLeg | None = None
        self.bridge_on_answer = True  # a transfer's leg; a leg our app dialled waits for its `bridge`

    def start(self, body: dict[str, Any]) -> None:
        """`transfer`: ring the target on a new leg of the same call session, as the script says."""
        caller = self.leg
        to = first_number(body["to"])
        script = CallScript(
            from_number=str(body.get("from") or caller.call.to_number),
            to_number=to,
            hang_up_at_end=False,
            max_call_seconds=caller.call.script.max_call_seconds,
        )
        call = SimulatedCall(
            webhook_bodies.new_call_control_id(),
            script,
            "outgoing",
            script.from_number,
            to,
            transferred_from=caller.call.call_control_id,
        )
        target = caller.sim.open_leg(call, caller.connection_id, caller.call_session_id)
        target.client_state = body.get("target_leg_client_state") or None
        # A transfer bridges whatever picks up: a voicemail box, or someone who would not have said yes.
        answers = self.on_call_answer(to)
        target.callee.answer_behaviour = answers if answers in ("busy", "no_answer") else "answer"
        target.callee.ring_seconds = ring_seconds(body, caller.call.script)
        far_end = caller.sim.sip_far_ends.get(sip_host(to) or "")
        if far_end is not None:
            invite = invite_of(body, to, script.from_number)
            target.callee.sip_far_end = lambda: far_end(invite)
            # The far end is no scripted phone: Telnyx gives up after the transfer's timeout_secs (30 by default).
            timeout = body.get("timeout_secs")
            target.callee.ring_seconds = float(timeout) if isinstance(timeout, int) and timeout > 0 else 30.0
        self._ring(target, body)
        target.start()

    def on_call_answer(self, to: str) -> str:
        return self.leg.call.script.on_call_answers.get(to, "answer")

    def on_call_script(self, to: str) -> CallScript:
        """Whom our app reaches dialling `to` linked to this call: a person who presses 1 once our
        app has spoken, or waits without a key; a voicemail box, nobody, or a busy line."""
        answers = self.on_call_answer(to)
        return CallScript(
            from_number=self.leg.call.to_number,
            to_number=to,
            lines=[CallerLine(dtmf="1")] if answers == "answer" else [],
            hang_up_at_end=False,
            max_call_seconds=self.leg.call.script.max_call_seconds,
            ring_seconds=self.leg.call.script.ring_seconds,
            callee="human" if answers in ("answer", "no_key_press") else answers,
        )

    def link(self, target: CallLeg, body: dict[str, Any]) -> None:
        """Our app dialled a leg with `link_to` this call: it shares the session, and the caller is
        on hold until it is bridged or ends."""
        target.transfers.bridge_on_answer = False
        self._ring(target, body)
        patience = self.leg.call.script.hold_patience_seconds
        if patience is not None and len(self.legs) == 1:
            self.leg.tasks.append(self.leg.loop.create_task(self._hang_up_when_patience_runs_out(patience)))

    def _ring(self, target: CallLeg, body: dict[str, Any]) -> None:
        target.transfers.parent = self.leg
        target.transfers.attempt = TransferAttempt(
            target.call.to_number, body.get("command_id"), "ringing", target.call.call_control_id, time.time()
        )
        self.leg.call.transfers.append(target.transfers.attempt)
        self.legs.append(target)

    async def _hang_up_when_patience_runs_out(self, patience: float) -> None:
        await asyncio.sleep(patience)
        if self.bridged_to is None:
            self._log("[hung up on hold]")
            self.leg.end_call(by_person=True)

    def on_hold(self) -> bool:
        """A leg rung for this call is up and not bridged to it: the caller hears ringback or
        hold messages, and waits."""
        return any(leg.call.status != "ended" and leg.transfers.bridged_to is None for leg in self.legs)

    def picked_up(self, target: CallLeg) -> None:
        """A leg rung for this call was picked up: a transfer's is bridged at once."""
        assert target.transfers.attempt is not None
        target.transfers.attempt.outcome = "answered"
        if target.transfers.bridge_on_answer:
            self.bridge(target, stop_playback=True)

    def bridge_refusal(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Telnyx's 422 body for a `bridge` with a call it cannot bridge this leg with, or None."""
        other = self.leg.sim.leg(str(body["call_control_id"]))
        if other is None or other is self.leg:
            return invalid_param("call_control_id", "The call_control_id to bridge with is not a call of yours.")
        if other.call.status != "active":
            return invalid_param("call_control_id", "The call to bridge with is not answered or has ended.")
        if other.transfers.parent is not self.leg and self.parent is not other:
            return invalid_param("call_control_id", "The simulator bridges a call only with a leg rung for it.")
        return None

    def bridge_command(self, body: dict[str, Any]) -> None:
        """`bridge` (checked by `bridge_refusal`): connect this leg with the call named by `call_control_id`."""
        other = self.leg.sim.leg(str(body["call_control_id"]))
        assert other is not None
        if other.transfers.parent is self.leg:
            self.bridge(other, stop_playback=False)
        else:
            other.transfers.bridge(self.leg, stop_playback=False)

    def bridge(self, target: CallLeg, *, stop_playback: bool) -> None:
        """Bridge the caller to the human on `target`; the caller stops their script, talks for
        transfer_talk_seconds and hangs up. A transfer's bridge also ends what the agent was saying."""
        caller = self.leg
        if caller.call.status == "ended":
            return
        assert target.transfers.attempt is not None
        target.transfers.attempt.bridged = True
        caller.call.status = "active"
        self.bridged_to, target.transfers.bridged_to = target, caller
        if stop_playback:
            caller.playback.stop(clear_queue=True)
        if caller.person_task is not None and caller.person_task is not asyncio.current_task():
            caller.person_task.cancel()
        now = time.time()
        for line in caller.call.conversation:
            if line.speaker == "caller" and line.ended_at is None:
                line.ended_at, line.interrupted = now, True
        self._log(
            f"[transferred to {target.call.to_number}, answered]"
            if stop_playback
            else f"[bridged with {target.call.to_number}]"
        )
        caller.post("call.bridged", webhook_bodies.bridged(caller.ids(), caller.call))
        target.post("call.bridged", webhook_bodies.bridged(target.ids(), target.call))
        caller.tasks.append(caller.loop.create_task(self._hang_up_after_talk()))
        caller.notify()

    async def _hang_up_after_talk(self) -> None:
        await asyncio.sleep(self.leg.call.script.transfer_talk_seconds)
        self.leg.end_call(by_person=True)

    def leg_ended(self, target: CallLeg) -> None:
        """A transfer leg hung up: a ringing one failed (the caller carries on with the
        agent), a bridged one takes the caller's leg down with it."""
        caller = self.leg
        attempt = target.transfers.attempt
        assert attempt is not None
        if self.bridged_to is target:
            caller.end_call(by_person=False)
            return
        if attempt.outcome == "ringing":
            attempt.outcome = {"timeout": "no_answer", "user_busy": "busy"}.get(target.hangup_cause, "cancelled")
        if caller.call.status == "ended":
            return
        outcome = attempt.outcome.replace("_", " ")
        self._log(
            f"[transferred to {attempt.to}, {outcome}]"
            if target.transfers.bridge_on_answer
            else f"[{attempt.to} hung up, {outcome}]"
        )
        # The caller was on hold, not listening to the agent: it waits for the agent to speak again.
        caller.playback.person_spoke()
        caller.notify()

    def hung_up(self) -> None:
        """This leg ended: a target still ringing is cancelled, a bridged one ends; a target's
        end is reported to the caller's leg."""
        for target in self.legs:
            # A transfer's leg goes with the call; a leg our app dialled only if bridged to it (else our app hangs it up).
            if target.transfers.bridge_on_answer or target.transfers.bridged_to is self.leg:
                target.end_call(False, "originator_cancel" if target.call.status == "ringing" else "normal_clearing")
        if self.parent is not None:
            self.parent.transfers.leg_ended(self.leg)

    def _log(self, text: str) -> None:
        now = time.time()
        self.leg.call.conversation.append(ConversationLine("system", text, now, ended_at=now))
