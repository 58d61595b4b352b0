"""The ladder's last two rungs: a person, then a promised call-back.

Escalation rings the on-call numbers in order, each as a warm transfer (`warm_transfer`): a leg of
its own, answering-machine detection, a briefing, and a bridge only once the person presses 1.
When nobody takes the call (or nobody is on call), the caller leaves a message and is promised
an urgent call-back, then hears goodbye. On a channel that cannot transfer or call back (a browser),
the caller is told what a phone call would do. The escalation's record never holds the caller up:
it is written with the call's records (`EscalationRecord`), or, for calls begun before that, awaited
(`AwaitedEscalationRecord`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import EscalationOpening, FollowUps, TransferAttempt, TransferStepTaken
    from business.config import BusinessConfig
    from domain.vocabulary import (
        CallOutcome,
        CallStatus,
        Channel,
        Direction,
        EscalationStatus,
        FallbackLevel,
        Speaker,
        TransferOutcome,
    )
    from receptionist.briefings import briefing
    from receptionist.callback_refusals import refusal_words
    from receptionist.unasked_words import (
        ASK_FOR_MESSAGE,
        CALL_BACK_AT,
        CALL_BACK_SOON,
        CANNOT_PUT_THROUGH,
        NOBODY_ANSWERED,
        PLEASE_HOLD,
        PROMISE_GOODBYE,
        WEB_CALL_US,
        WEB_ESCALATION,
        WEB_PROMISE,
        words_in,
    )
    from workflows.call_messages import TransferLeg
    from workflows.call_options import (
        RECORD_KEEPING,
        RECORD_WRITE,
        TRANSFER_ANSWER_MARGIN,
        WAIT_FOR_MESSAGE,
        WHILE_THE_CALLER_WAITS,
    )
    from workflows.waiting import wait_until

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_callbacks import Callbacks
from workflows.call_channel import CallChannel
from workflows.call_language import language_of
from workflows.call_progress import CallProgress
from workflows.warm_transfer import WARM_TRANSFERS, HoldMessages, OnCallAttempt

# The last rung's promise while the database does not answer: when is not known yet.
PROMISE_KEPT = CALL_BACK_SOON["en"]


class EscalationRecord:
    """One escalation on record: opened while the caller holds if the database answers within seconds,
    else with the call's records; its transfer attempts and its end always with the call's records."""

    def __init__(self, books: Bookkeeping, opening: EscalationOpening) -> None:
        self._books = books
        self._opening = opening
        self._id: int | None = None

    @property
    def reason(self) -> str:
        return self._opening.reason

    async def open(self) -> None:
        try:
            self._id = await workflow.execute_activity_method(
                FollowUps.open_escalation, self._opening, **WHILE_THE_CALLER_WAITS
            )
        except ActivityError as error:
            workflow.logger.warning("escalation kept until the database answers: %s", error)
            self._books.keep("escalation", self._open_kept)

    async def _open_kept(self) -> None:
        self._id = await workflow.execute_activity_method(FollowUps.open_escalation, self._opening, **RECORD_WRITE)

    async def attempted(
        self, attempt: int, number: str, outcome: TransferOutcome, steps: list[TransferStepTaken]
    ) -> None:
        at = workflow.now()
        self._books.keep(
            f"transfer attempt {attempt}",
            lambda: self._write(
                lambda escalation_id: workflow.execute_activity_method(
                    FollowUps.record_transfer_attempt,
                    TransferAttempt(
                        escalation_id=escalation_id, attempt=attempt, number=number, outcome=outcome, at=at, steps=steps
                    ),
                    **RECORD_WRITE,
                )
            ),
        )

    async def closed(self, status: EscalationStatus) -> None:
        self._books.keep(
            "escalation's end",
            lambda: self._write(
                lambda escalation_id: workflow.execute_activity_method(
                    FollowUps.close_escalation, args=[escalation_id, status], **RECORD_WRITE
                )
            ),
        )

    async def _write(self, write: Callable[[int], Awaitable[object]]) -> None:
        if self._id is None:  # the opening was refused for good; the call's records say why
            return
        await write(self._id)


class AwaitedEscalationRecord:
    """The escalation's record as calls begun before records-in-background keep it: each step awaited."""

    def __init__(self, opening: EscalationOpening) -> None:
        self._opening = opening
        self._id = 0

    @property
    def reason(self) -> str:
        return self._opening.reason

    async def open(self) -> None:
        self._id = await workflow.execute_activity_method(FollowUps.open_escalation, self._opening, **RECORD_KEEPING)

    async def attempted(
        self, attempt: int, number: str, outcome: TransferOutcome, steps: list[TransferStepTaken]
    ) -> None:
        await workflow.execute_activity_method(
            FollowUps.record_transfer_attempt,
            TransferAttempt(
                escalation_id=self._id, attempt=attempt, number=number, outcome=outcome, at=workflow.now(), steps=steps
            ),
            **RECORD_KEEPING,
        )

    async def closed(self, status: EscalationStatus) -> None:
        await workflow.execute_activity_method(FollowUps.close_escalation, args=[self._id, status], **RECORD_KEEPING)


def web_escalation_words(business: BusinessConfig, language: str | None = None) -> str:
    said = words_in(WEB_ESCALATION, language)
    if business.phone_number:
        said = f"{said} {words_in(WEB_CALL_US, language, number=business.phone_number)}"
    return said


class Escalation:
    def __init__(self, progress: CallProgress, channel: CallChannel, books: Bookkeeping, callbacks: Callbacks) -> None:
        self._progress = progress
        self._channel = channel
        self._books = books
        self._callbacks = callbacks

    async def escalate(self, reason: str, *, emergency: bool) -> None:
        progress = self._progress
        await self._books.climb_ladder(FallbackLevel.ESCALATION)
        numbers = progress.context.business.on_call_numbers
        if not self._channel.can_transfer:
            # A browser has no phone line to transfer; say what a caller would get, and never whom
            # (the on-call numbers are private).
            await self._channel.say(
                web_escalation_words(progress.context.business, language_of(progress)), "web-escalation"
            )
            progress.live.outcome = CallOutcome.ESCALATED
            return
        if not numbers:
            await self.promise_callback(reason, urgent=True, nobody_answered=False)
            return
        escalation = progress.next("escalation")
        opening = EscalationOpening(
            idempotency_key=f"{workflow.info().workflow_id}/escalation-{escalation}",
            business_id=progress.context.business_id,
            call_id=progress.call_control_id,
            reason=reason,
        )
        record: EscalationRecord | AwaitedEscalationRecord = (
            EscalationRecord(self._books, opening)
            if progress.records_in_background
            else AwaitedEscalationRecord(opening)
        )
        await record.open()
        await self._channel.say(words_in(PLEASE_HOLD, language_of(progress)), f"escalation-{escalation}/hold")
        our_number = self._our_number()
        if self._channel.kind == Channel.REALTIME_SIP:
            # OpenAI's call is put through by SIP REFER, number by number: no leg of ours to brief or bridge.
            connected = await self._ring_cold(escalation, record)
        elif our_number and patched(WARM_TRANSFERS):
            connected = await self._ring_warm(escalation, record, emergency=emergency, from_number=our_number)
        else:
            connected = await self._ring_cold(escalation, record)
        if connected:
            await record.closed(EscalationStatus.CONNECTED)
            progress.transferred = True
            progress.live.outcome = CallOutcome.ESCALATED
            await self._books.set_status(CallStatus.TRANSFERRED)
            return
        await record.closed(EscalationStatus.CALLER_HUNG_UP if progress.over else EscalationStatus.NOBODY_ANSWERED)
        if not progress.over:
            await self.promise_callback(reason, urgent=True, nobody_answered=True)

    async def _ring_warm(
        self,
        escalation: int,
        record: EscalationRecord | AwaitedEscalationRecord,
        *,
        emergency: bool,
        from_number: str,
    ) -> bool:
        """Rings the on-call numbers in turn, each on a leg of its own (`OnCallAttempt`), the caller on hold."""
        progress = self._progress
        business = progress.context.business
        said = [u.text for u in progress.live.transcript if u.speaker == Speaker.CALLER]
        words = briefing(
            business.name,
            record.reason,
            emergency=emergency,
            caller=progress.other_party(),
            caller_said=said[-1] if said else "",
        )
        hold = HoldMessages(progress, self._channel, escalation)
        hold.start()
        for attempt, number in enumerate(business.on_call_numbers, start=1):
            if progress.over:
                break
            outcome, steps = await OnCallAttempt(progress, self._channel, self._books, escalation, attempt).ring(
                hold,
                number,
                from_number=from_number,
                sms_from_number=business.sms_from_number,
                ring_seconds=progress.context.transfer_ring_seconds,
                briefing=words,
            )
            await record.attempted(attempt, number, outcome, steps)
            if outcome == TransferOutcome.ANSWERED:
                return True
        await hold.stop()
        return False

    async def _ring_cold(self, escalation: int, record: EscalationRecord | AwaitedEscalationRecord) -> bool:
        """Calls that escalated before warm transfers: Telnyx's `transfer` bridges whatever answers."""
        progress = self._progress
        ring = progress.context.transfer_ring_seconds
        for attempt, number in enumerate(progress.context.business.on_call_numbers, start=1):
            if progress.over:
                break
            outcome = await self._ring(escalation, attempt, number, ring)
            await record.attempted(attempt, number, outcome, [])
            if outcome == TransferOutcome.ANSWERED:
                return True
        return False

    def _our_number(self) -> str | None:
        """The number an on-call person sees calling: the business's line this call is on."""
        progress = self._progress
        initiated = progress.initiated
        if initiated is not None and initiated.direction == Direction.OUTGOING:
            return initiated.caller_number or progress.context.business.phone_number
        return progress.live.dialed_number or progress.context.business.phone_number

    async def _ring(self, escalation: int, attempt: int, number: str, ring_seconds: int) -> TransferOutcome:
        """Rings one on-call number and waits for it to answer, decline, or ring out."""
        progress = self._progress
        key = f"{escalation}/{attempt}"
        leg = TransferLeg(parent_call_control_id=progress.call_control_id, escalation=escalation, attempt=attempt)
        sent = await self._channel.transfer(number, leg, ring_seconds, f"escalation-{escalation}/transfer-{attempt}")
        if sent:
            await wait_until(
                lambda: key in progress.leg_outcomes or progress.bridged or progress.over,
                timedelta(seconds=ring_seconds) + TRANSFER_ANSWER_MARGIN,
            )
        if progress.bridged:
            return TransferOutcome.ANSWERED
        heard = progress.leg_outcomes.get(key)
        if heard is not None:
            return heard
        return TransferOutcome.CALLER_HUNG_UP if progress.over else TransferOutcome.NO_ANSWER

    async def promise_callback(self, reason: str, *, urgent: bool, nobody_answered: bool) -> None:
        """The last rung: take a message, promise a call-back that a durable workflow keeps, say goodbye."""
        progress = self._progress
        language = language_of(progress)
        await self._books.climb_ladder(FallbackLevel.CALLBACK_PROMISE)
        if self._channel.kind == Channel.REALTIME_SIP:
            return  # the Realtime model asks for the message and calls take_message: the escalation's answer says so
        if not self._channel.can_call_back:
            await self._channel.say(words_in(WEB_PROMISE, language), "web-promise")
            return
        sorry = words_in(NOBODY_ANSWERED if nobody_answered else CANNOT_PUT_THROUGH, language)
        promise = progress.next("promise")
        await self._channel.say(words_in(ASK_FOR_MESSAGE, language, sorry=sorry), f"promise-{promise}/ask")
        await wait_until(lambda: bool(progress.caller_words) or progress.over, WAIT_FOR_MESSAGE)
        words = progress.take_caller_words()
        message = " ".join((w.transcript or "").strip() for w in words) or None
        if progress.records_in_background:
            kept = await self._callbacks.promise_or_keep(reason, message, urgent=urgent)
            if kept is None:  # scheduled when the database answers
                progress.live.outcome = CallOutcome.MESSAGE
                if not progress.over:
                    goodbye = words_in(PROMISE_GOODBYE, language, promised=words_in(CALL_BACK_SOON, language))
                    await self._channel.say(goodbye, f"promise-{promise}/goodbye")
                    progress.ending = True
                return
            scheduled = kept
        else:
            scheduled = await self._callbacks.promise(reason, message, urgent=urgent)
        if scheduled.refusal is None or scheduled.spoken_when:  # a call-back is promised, now or before
            progress.live.outcome = CallOutcome.MESSAGE
        if not progress.over:
            promised = (
                words_in(CALL_BACK_AT, language, when=scheduled.spoken_when)
                if scheduled.refusal is None
                else refusal_words(scheduled.refusal, scheduled.spoken_when, language=language)
            )
            await self._channel.say(
                words_in(PROMISE_GOODBYE, language, promised=promised), f"promise-{promise}/goodbye"
            )
            progress.ending = True
