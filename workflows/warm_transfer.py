"""A warm transfer: each on-call number is rung on a leg of its own and bridged only once a person says yes.

The leg is dialled with answering-machine detection and linked to the caller's call session
(`dial_on_call`); its webhooks reach this call through the leg's signed tag (`TransferLeg.warm`)
and are filed in `CallProgress.on_call_legs`. A machine, no answer, a busy line, a person who
hangs up or presses no key after the briefing: the leg is hung up and the ladder goes on. Only
the key press bridges the person to the caller. The briefing is texted as the phone starts
ringing, and the caller hears a hold message every few seconds meanwhile (`HoldMessages`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import TransferStepTaken
    from activities.telnyx_commands import CallCommand, OnCallDial, SpeakCommand, TelnyxCommands, TextMessage
    from domain.vocabulary import TransferOutcome, TransferStep
    from receptionist.briefings import TAKE_IT_KEY, Briefing
    from receptionist.unasked_words import STILL_HOLDING, words_in
    from workflows.call_messages import OnCallLeg, TransferLeg, client_state_tag
    from workflows.call_options import (
        HOLD_MESSAGE_SPACING,
        TELNYX_COMMAND,
        TRANSFER_ANSWER_MARGIN,
        WAIT_FOR_BRIDGE,
        WAIT_FOR_KEY_PRESS,
        WAIT_FOR_MACHINE_DETECTION,
        WAIT_FOR_SPEECH_TO_FINISH,
    )
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_channel import CallChannel
from workflows.call_language import language_of
from workflows.call_progress import CallProgress

# Calls whose escalation began before warm transfers went on with Telnyx's cold `transfer`.
WARM_TRANSFERS = "warm-transfers"

# How Telnyx names the end of a dialled leg that nobody picked up.
UNANSWERED = {"timeout": TransferOutcome.NO_ANSWER, "user_busy": TransferOutcome.BUSY, "busy": TransferOutcome.BUSY}


class HoldMessages:
    """The caller's side while the on-call numbers ring: a hold message every few seconds, not silence."""

    def __init__(self, progress: CallProgress, channel: CallChannel, escalation: int) -> None:
        self._progress = progress
        self._channel = channel
        self._escalation = escalation
        self._holding = False
        self._task: asyncio.Task[None] | None = None
        self._said = 0  # numbers the messages' command ids, across stops and starts

    def start(self) -> None:
        self._holding = True
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """No more hold messages; the one playing is cut off, so the caller is put through to silence."""
        self._holding = False
        if self._task is not None:
            await self._task
            self._task = None
        if self._progress.agent_speaking() and not self._progress.over:
            await self._channel.stop()

    async def _run(self) -> None:
        progress = self._progress
        while True:
            await wait_until(lambda: not self._holding or progress.over, HOLD_MESSAGE_SPACING)
            if not self._holding or progress.over:
                return
            self._said += 1
            await self._channel.say(
                words_in(STILL_HOLDING, language_of(progress)),
                f"escalation-{self._escalation}/still-holding-{self._said}",
            )


class OnCallAttempt:
    """One on-call number rung: whoever picks up is briefed, and bridged to the caller on a key press."""

    def __init__(
        self, progress: CallProgress, channel: CallChannel, books: Bookkeeping, escalation: int, attempt: int
    ) -> None:
        self._progress = progress
        self._channel = channel
        self._books = books
        self._tag = TransferLeg(
            parent_call_control_id=progress.call_control_id, escalation=escalation, attempt=attempt, warm=True
        )
        self._step_name = f"escalation-{escalation}/on-call-{attempt}"
        self._steps: list[TransferStepTaken] = []
        self._leg_id = ""  # the leg's call_control_id, once dialled
        self._leg = progress.on_call_legs.setdefault(f"{escalation}/{attempt}", OnCallLeg())

    async def ring(
        self,
        hold: HoldMessages,
        number: str,
        *,
        from_number: str,
        sms_from_number: str | None,
        ring_seconds: int,
        briefing: Briefing,
    ) -> tuple[TransferOutcome, list[TransferStepTaken]]:
        """What became of ringing `number` (ANSWERED: bridged to the caller), and the steps it took."""
        steps = self._steps
        if sms_from_number:
            await self._books.send_text(
                TextMessage(
                    idempotency_key=self._command_id("briefing-sms"),
                    from_number=sms_from_number,
                    to=number,
                    text=briefing.texted,
                )
            )
            self._took(TransferStep.TEXTED)
        leg_id = await self._dial(number, from_number, ring_seconds)
        if leg_id is None:
            return TransferOutcome.FAILED, steps
        self._took(TransferStep.DIALLED)
        self._leg_id = leg_id
        outcome = await self._reach(ring_seconds) or await self._screen(briefing) or await self._put_through(hold)
        if outcome not in (TransferOutcome.ANSWERED, TransferOutcome.HUNG_UP) and not self._leg.ended:
            await self._hang_up()
        return outcome, steps

    async def _reach(self, ring_seconds: int) -> TransferOutcome | None:
        """The phone rings until something picks up (None) or not."""
        progress, leg = self._progress, self._leg
        await wait_until(
            lambda: leg.answered or leg.ended or progress.over,
            timedelta(seconds=ring_seconds) + TRANSFER_ANSWER_MARGIN,
        )
        if progress.over:
            return TransferOutcome.CALLER_HUNG_UP
        if not leg.answered:
            return (
                UNANSWERED.get(leg.hangup_cause or "", TransferOutcome.FAILED)
                if leg.ended
                else TransferOutcome.NO_ANSWER
            )
        self._took(TransferStep.ANSWERED)
        return None

    async def _screen(self, briefing: Briefing) -> TransferOutcome | None:
        """A machine is hung up on; a person is briefed and says yes with a key (None)."""
        progress, leg = self._progress, self._leg
        await wait_until(
            lambda: leg.machine_detection is not None or leg.ended or progress.over, WAIT_FOR_MACHINE_DETECTION
        )
        if progress.over:
            return TransferOutcome.CALLER_HUNG_UP
        if leg.ended:
            return TransferOutcome.HUNG_UP
        if leg.machine_detection == "machine":
            self._took(TransferStep.MACHINE)
            return TransferOutcome.VOICEMAIL
        # A person, or detection not sure or too slow: the key press tells a person from a machine.
        self._took(TransferStep.HUMAN)
        business = progress.context.business
        await self._leg_command(
            TelnyxCommands.speak,
            SpeakCommand(
                call_control_id=self._leg_id,
                command_id=self._command_id("briefing"),
                text=briefing.spoken,
                voice=business.voice,
                language=business.language,
            ),
        )
        self._took(TransferStep.BRIEFED)

        def pressed() -> bool:
            return TAKE_IT_KEY in leg.keys

        await wait_until(
            lambda: leg.speeches_ended > 0 or pressed() or leg.ended or progress.over, WAIT_FOR_SPEECH_TO_FINISH
        )
        await wait_until(lambda: pressed() or leg.ended or progress.over, WAIT_FOR_KEY_PRESS)
        if progress.over:
            return TransferOutcome.CALLER_HUNG_UP
        if not pressed():
            return TransferOutcome.HUNG_UP if leg.ended else TransferOutcome.NO_KEY_PRESS
        self._took(TransferStep.KEY_PRESSED)
        return None

    async def _put_through(self, hold: HoldMessages) -> TransferOutcome:
        """The person said yes: the caller, off hold, is bridged to them."""
        progress, leg = self._progress, self._leg
        await hold.stop()
        if not await self._channel.bridge(self._leg_id, f"{self._step_name}/bridge"):
            return TransferOutcome.CALLER_HUNG_UP
        await wait_until(lambda: progress.bridged or leg.bridged or leg.ended or progress.over, WAIT_FOR_BRIDGE)
        if progress.bridged or leg.bridged:
            self._took(TransferStep.BRIDGED)
            return TransferOutcome.ANSWERED
        if progress.over:
            return TransferOutcome.CALLER_HUNG_UP
        hold.start()  # not bridged: the caller is still held while the next number rings
        return TransferOutcome.HUNG_UP if leg.ended else TransferOutcome.FAILED

    async def _hang_up(self) -> None:
        await self._leg_command(
            TelnyxCommands.hang_up, CallCommand(call_control_id=self._leg_id, command_id=self._command_id("hangup"))
        )
        self._took(TransferStep.HUNG_UP)

    def _took(self, step: TransferStep) -> None:
        self._steps.append(TransferStepTaken(step=step, at=workflow.now()))

    def _command_id(self, what: str) -> str:
        return f"{workflow.info().workflow_id}/{self._step_name}/{what}"

    async def _dial(self, number: str, from_number: str, ring_seconds: int) -> str | None:
        try:
            dialled = await workflow.execute_activity_method(
                TelnyxCommands.dial_on_call,
                OnCallDial(
                    command_id=self._command_id("dial"),
                    to=number,
                    from_number=from_number,
                    caller_call_control_id=self._progress.call_control_id,
                    client_state_tag=client_state_tag(self._tag),  # signed by the activity: a workflow holds no secret
                    ring_timeout_seconds=ring_seconds,
                ),
                **TELNYX_COMMAND,
            )
        except ActivityError as error:
            await self._books.record_error("telnyx.dial_on_call", error)
            return None
        return dialled.call_control_id

    async def _leg_command(self, activity_method: Any, command: CallCommand) -> None:
        """A command to the on-call leg; that leg having ended is no failure (its hang-up is filed)."""
        try:
            await workflow.execute_activity_method(activity_method, command, **TELNYX_COMMAND)
        except ActivityError as error:
            await self._books.record_error(f"telnyx.on-call-{command.command_id.rsplit('/', 1)[-1]}", error)
