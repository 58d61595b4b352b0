"""Whoever our app rings on an outgoing leg: a call-back's dial (POST /v2/calls) or a transfer's target.

The phone rings; then a human picks up, a voicemail box answers, nobody does (Telnyx gives up
after the ring time, cause "timeout") or the line is busy at once ("user_busy"), as the call's
script says. When our app asked for answering-machine detection, Telnyx reports what picked up
(`call.machine.detection.ended`). A human then plays the script's lines like any caller; a
voicemail box records whatever the agent says and hangs up once the agent has gone quiet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from simulator.call_script import CallScript
from simulator.telnyx import webhook_bodies

if TYPE_CHECKING:
    from simulator.telnyx.leg import CallLeg

AnswerBehaviour = Literal["answer", "voicemail", "no_answer", "busy"]
# How long the remote phone rings before the person dialled by our app picks up (never
# longer than the call's ring time).
OUTBOUND_PICKUP_SECONDS = 0.1
# A voicemail box hangs up once the agent has been quiet this long.
VOICEMAIL_SILENCE_SECONDS = 2.0
# Answering-machine detection values that request it (anything but "disabled").
AMD_DISABLED = (None, "", "disabled")


def ring_seconds(body: dict[str, Any], script: CallScript) -> float:
    """How long a dialled phone rings before Telnyx gives up: the script's ring time, cut
    short by the command's timeout_secs."""
    timeout = body.get("timeout_secs")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return min(float(timeout), script.ring_seconds)
    return script.ring_seconds


def amd_requested(body: dict[str, Any]) -> bool:
    return body.get("answering_machine_detection") not in AMD_DISABLED


class Callee:
    """The far end of an outgoing leg: who picks up, after how long it gives up ringing,
    whether our app asked for answering-machine detection."""

    def __init__(self, leg: CallLeg) -> None:
        self.leg = leg
        self.answer_behaviour: AnswerBehaviour = "answer"
        self.ring_seconds = leg.call.script.ring_seconds
        self.detect_machine = False
        # A SIP URI's far end (sip_far_end.py): it picks up, declines, or lets the transfer ring out.
        self.sip_far_end: Callable[[], Awaitable[bool]] | None = None

    async def run(self) -> None:
        if not await self._ring():
            return
        parent = self.leg.transfers.parent
        if parent is not None:
            parent.transfers.picked_up(self.leg)
            if self.leg.transfers.bridge_on_answer:
                return  # a transfer's human, who talks until the caller leaves
        machine = self.answer_behaviour == "voicemail"
        if self.detect_machine:
            result = "machine" if machine else "human"
            self.leg.post(
                "call.machine.detection.ended", webhook_bodies.machine_detection(self.leg.ids(), self.leg.call, result)
            )
        await (self._run_voicemail() if machine else self.leg.caller.run())

    async def _ring(self) -> bool:
        """The phone rings: True once picked up, False if the leg ended unanswered."""
        if self.sip_far_end is not None:
            return await self._ring_sip_far_end(self.sip_far_end)
        if self.answer_behaviour == "busy":
            self.leg.end_call(by_person=True, cause="user_busy")
            return False
        if self.answer_behaviour == "no_answer":
            await asyncio.sleep(self.ring_seconds)
            self.leg.end_call(by_person=False, cause="timeout")
            return False
        await asyncio.sleep(min(OUTBOUND_PICKUP_SECONDS, self.ring_seconds))
        self.leg.pick_up()
        return True

    async def _ring_sip_far_end(self, far_end: Callable[[], Awaitable[bool]]) -> bool:
        try:
            answered = await asyncio.wait_for(far_end(), self.ring_seconds)
        except TimeoutError:
            self.leg.end_call(by_person=False, cause="timeout")
            return False
        if not answered:
            self.leg.end_call(by_person=True, cause="call_rejected")
            return False
        self.leg.pick_up()
        return True

    async def _run_voicemail(self) -> None:
        """A voicemail box: records what the agent says (the conversation) and hangs up once
        the agent has been quiet for a while (or our app hangs up, or the guard fires)."""
        await self.leg.wait_until(self._seconds_until_voicemail_gives_up)
        self.leg.end_call(by_person=True)

    def _seconds_until_voicemail_gives_up(self) -> float | None:
        idle_since = self.leg.playback.idle_since
        if idle_since is None:
            return None
        return idle_since + self.leg.sim.voicemail_silence_seconds - self.leg.loop.time()
