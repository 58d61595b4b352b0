"""The call-backs a call deals with: promising one, keeping earlier promises, reporting on a returned call.

A promise is a stored call-back and a `CallbackWorkflow` child that outlives the call and dials
the caller when it is due; an urgent one texts the owner too. A caller who rings first keeps
their pending promises themselves, except an urgent one: caller ID is easy to spoof, so the
greeting asks about it and only a caller who says it is sorted releases it
(`activities.owed_callbacks`). An outbound call tells the `CallbackWorkflow` that dialled it how
it went.

The schedule_callback activity may refuse a promise (the caps against flooding a number, a number
not to dial); the caller then hears why instead of a promise, and the call asks no more for
what it was refused. A phone call is called back on the caller's own number; a web visitor has
none, so only on a number they typed, heard read back and confirmed in a later turn.
"""

from __future__ import annotations

import re

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, FailureError
from temporalio.workflow import ParentClosePolicy

from workflows.patches import patched

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import CallbackRequest, FollowUps, PendingCallbacksQuery, ScheduledCallback
    from activities.owed_callbacks import OwedCallback, OwedCallbacks, PendingCallbacks
    from activities.telnyx_commands import TextMessage
    from domain.vocabulary import (
        BusinessKnowledge,
        CallbackCallOutcome,
        CallbackRefusal,
        CallOutcome,
        Channel,
        Speaker,
        Utterance,
    )
    from receptionist.callback_refusals import WEB_NUMBER_NEEDED, read_back_words, refusal_words
    from receptionist.owed_callbacks import opening_with_question, says_sorted
    from receptionist.tool_dispatch import TakenMessage
    from workflows.call_messages import CallbackOutcome
    from workflows.call_options import RECORD_KEEPING, RECORD_WRITE, WHILE_THE_CALLER_WAITS, ActivityOptions
    from workflows.callback import CallbackPlan, CallbackWorkflow

from workflows.call_bookkeeping import Bookkeeping
from workflows.call_language import language_of
from workflows.call_progress import CallProgress

# Web conversations that began before this scheduled a call-back to no number at all.
WEB_NUMBER_CONFIRMED = "web-call-back-to-a-confirmed-number"
# The key of a refusal that holds for every number: this call has had its call-backs.
EVERY_NUMBER = ""
# Calls that began before urgent call-backs were asked about kept them all when the number called.
URGENT_CALLBACKS_ASKED = "urgent-callbacks-asked"
# What the brain reads when the database is down as it takes a message.
MESSAGE_KEPT = (
    "Message taken. The records are unavailable for a moment: the call-back is scheduled as soon as they are "
    "back, and we will call you back as soon as we can."
)


class Callbacks:
    def __init__(
        self, progress: CallProgress, books: Bookkeeping, refused: dict[str, ScheduledCallback] | None = None
    ) -> None:
        self._progress = progress
        self._books = books
        # What this call was refused, by number: asked again, the answer is the same, with no activity.
        # A call that continues as new carries them to its next run.
        self._refused: dict[str, ScheduledCallback] = dict(refused or {})
        # A web visitor's numbers read back to them, with the caller turn it was done in.
        self._read_back: dict[str, int] = {}
        self._owed: list[OwedCallback] = []  # urgent, asked about in the greeting, not yet answered

    async def take_message(self, taken: TakenMessage) -> str:
        """The take_message tool: a promised call-back in words, or what the caller is told instead."""
        progress = self._progress
        number = None
        if progress.live.channel == Channel.WEB and patched(WEB_NUMBER_CONFIRMED):
            number = re.sub(r"[^\d+]", "", taken.callback_number or "")
            if not number:
                return WEB_NUMBER_NEEDED
            read_back_in = self._read_back.setdefault(number, progress.live.caller_turns)
            # Confirmed means: read back in an earlier turn, and the visitor has answered since.
            if not (taken.number_confirmed and read_back_in < progress.live.caller_turns):
                return read_back_words(number)
        if progress.records_in_background:
            kept = await self.promise_or_keep(taken.about, taken.message, caller_name=taken.caller_name, number=number)
            if kept is None:
                progress.live.outcome = progress.live.outcome or CallOutcome.MESSAGE
                return MESSAGE_KEPT
            scheduled = kept
        else:
            scheduled = await self.promise(
                taken.about, taken.message, urgent=False, caller_name=taken.caller_name, number=number
            )
        if scheduled.refusal is not None:
            return refusal_words(scheduled.refusal, scheduled.spoken_when, typed=number is not None)
        progress.live.outcome = progress.live.outcome or CallOutcome.MESSAGE
        return f"Message taken. A call-back is scheduled for {scheduled.spoken_when}."

    async def promise(
        self,
        reason: str,
        message: str | None,
        *,
        urgent: bool,
        caller_name: str | None = None,
        number: str | None = None,
    ) -> ScheduledCallback:
        """Schedules a call-back to `number` (the caller's own if None), or hears why not; when it is due, in words."""
        to = (self._progress.other_party() or "") if number is None else number
        if refused := self._refused.get(EVERY_NUMBER) or self._refused.get(to):
            return refused
        sequence = self._progress.next("callback")
        return await self._schedule(sequence, to, reason, message, urgent=urgent, caller_name=caller_name)

    async def promise_or_keep(
        self,
        reason: str,
        message: str | None,
        *,
        urgent: bool = False,
        caller_name: str | None = None,
        number: str | None = None,
    ) -> ScheduledCallback | None:
        """`promise`, or, when the database does not answer within a few seconds, the promise kept with the
        call's records and scheduled once it does (None)."""
        to = (self._progress.other_party() or "") if number is None else number
        if refused := self._refused.get(EVERY_NUMBER) or self._refused.get(to):
            return refused
        sequence = self._progress.next("callback")
        try:
            return await self._schedule(
                sequence, to, reason, message, urgent=urgent, caller_name=caller_name, options=WHILE_THE_CALLER_WAITS
            )
        except ActivityError as error:
            workflow.logger.warning("call-back %d kept until the database answers: %s", sequence, error)
        self._keep(sequence, to, reason, message, caller_name, urgent=urgent)
        return None

    def keep_promise(self, reason: str, message: str | None) -> None:
        """A call-back to the caller, scheduled with the call's records, once the database answers."""
        self._keep(self._progress.next("callback"), self._progress.other_party() or "", reason, message, None)

    def _keep(
        self, sequence: int, to: str, reason: str, message: str | None, caller_name: str | None, *, urgent: bool = False
    ) -> None:
        self._books.keep(
            f"call-back {sequence}",
            lambda: self.schedule_kept(sequence, reason, message, to=to, caller_name=caller_name, urgent=urgent),
        )

    async def schedule_kept(
        self,
        sequence: int,
        reason: str,
        message: str | None,
        *,
        to: str | None = None,
        caller_name: str | None = None,
        urgent: bool = False,
    ) -> None:
        """Schedules, with the call's records, a call-back numbered when it was kept: a write retried
        (the database still down) schedules the same one."""
        if self._progress.context.knowledge == BusinessKnowledge.UNKNOWN:
            # The call's row was refused for good (kept records are written in order): no business to call back for.
            workflow.logger.error("no business known for call-back %d", sequence)
            return
        number = to if to is not None else (self._progress.other_party() or "")
        await self._schedule(
            sequence, number, reason, message, urgent=urgent, caller_name=caller_name, options=RECORD_WRITE
        )

    async def _schedule(
        self,
        sequence: int,
        to: str,
        reason: str,
        message: str | None,
        *,
        urgent: bool,
        caller_name: str | None,
        options: ActivityOptions = RECORD_KEEPING,
    ) -> ScheduledCallback:
        progress = self._progress
        business = progress.context.business
        callback_workflow_id = f"callback-{progress.call_control_id}-{sequence}"
        scheduled = await workflow.execute_activity_method(
            FollowUps.schedule_callback,
            CallbackRequest(
                idempotency_key=f"{workflow.info().workflow_id}/callback-{sequence}",
                business_id=progress.context.business_id,
                business=business,
                call_id=progress.call_control_id,
                caller_number=to,
                caller_name=caller_name,
                reason=reason,
                message=message,
                urgent=urgent,
                now=workflow.now(),
                workflow_id=callback_workflow_id,
                language=language_of(progress),
            ),
            **options,
        )
        if scheduled.refusal is not None or scheduled.callback_id is None or scheduled.due_at is None:
            self._refused[EVERY_NUMBER if scheduled.refusal == CallbackRefusal.CALL_LIMIT else to] = scheduled
            return scheduled
        await workflow.start_child_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=scheduled.callback_id,
                caller_number=scheduled.caller_number or to,
                from_number=scheduled.from_number,
                due_at=scheduled.due_at,
                max_attempts=scheduled.max_attempts,
                retry_spacing_seconds=scheduled.retry_spacing_seconds,
                ring_seconds=scheduled.ring_seconds,
                callback_countries=scheduled.callback_countries,
            ),
            id=callback_workflow_id,
            # The promise outlives this call.
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        if urgent and business.owner_number and business.sms_from_number:
            await self._books.send_text(
                TextMessage(
                    idempotency_key=f"{callback_workflow_id}/owner-sms",
                    from_number=business.sms_from_number,
                    to=business.owner_number,
                    text=f"Urgent call-back for {scheduled.caller_number or to}: {reason}. {message or ''}".strip(),
                )
            )
        return scheduled

    async def keep_pending(self, caller_number: str, options: ActivityOptions = RECORD_KEEPING) -> None:
        """The caller rang before we rang them: the call-backs they were promised are kept by this call,
        the urgent ones once the caller says so."""
        query = PendingCallbacksQuery(business_id=self._progress.context.business_id, caller_number=caller_number)
        if patched(URGENT_CALLBACKS_ASKED):
            await self.keep_sorted(
                await workflow.execute_activity_method(OwedCallbacks.sort_pending_callbacks, query, **options)
            )
        else:
            await self._tell_kept(
                await workflow.execute_activity_method(FollowUps.claim_pending_callbacks, query, **RECORD_KEEPING)
            )

    async def keep_sorted(self, pending: PendingCallbacks) -> None:
        """The caller's call-backs owed, sorted: the kept ones' workflows told, the urgent ones asked about."""
        self._owed = pending.urgent
        await self._tell_kept(pending.kept)

    @property
    def refusals(self) -> dict[str, ScheduledCallback]:
        return self._refused

    def greeting(self, opening_words: str) -> str:
        """The opening words, asking about an urgent call-back still owed to the number."""
        return opening_with_question(opening_words, language_of(self._progress)) if self._owed else opening_words

    async def hear_answer(self, transcript: list[Utterance]) -> None:
        """After the caller's first turn: an owed urgent call-back is settled only if they said it is sorted."""
        if not self._owed:
            return
        owed, self._owed = self._owed, []
        answer = next((u.text for u in transcript if u.speaker == Speaker.CALLER), "")
        if not says_sorted(answer):
            workflow.logger.info("the caller did not say the urgent call-back is sorted: it will be made")
            return
        callback_ids = [c.callback_id for c in owed]
        if self._progress.records_in_background:
            # The caller is not kept waiting: settled with the call's records.
            self._books.keep("urgent call-backs settled", lambda: self._settle(callback_ids, RECORD_WRITE))
            return
        await self._settle(callback_ids, RECORD_KEEPING)

    async def _settle(self, callback_ids: list[int], options: ActivityOptions) -> None:
        settled = await workflow.execute_activity_method(OwedCallbacks.settle_owed_callbacks, callback_ids, **options)
        await self._tell_kept(settled)

    async def _tell_kept(self, workflow_ids: list[str]) -> None:
        for workflow_id in workflow_ids:
            try:
                await workflow.get_external_workflow_handle(workflow_id).signal(CallbackWorkflow.caller_called_in)
            except FailureError:  # the signal failed: a call-back that already finished needs no telling
                workflow.logger.info("call-back %s had already finished", workflow_id)

    async def report(self, outcome: CallbackCallOutcome) -> None:
        """Tells the `CallbackWorkflow` that dialled this call how it went."""
        callback = self._progress.context.callback
        if not (callback and callback.callback_workflow_id):
            return
        try:
            await workflow.get_external_workflow_handle(callback.callback_workflow_id).signal(
                CallbackWorkflow.call_outcome,
                CallbackOutcome(outcome=outcome, call_control_id=self._progress.call_control_id),
            )
        except FailureError:  # the signal failed: the call-back workflow gave up waiting; the record stands
            workflow.logger.warning("could not report %s to %s", outcome, callback.callback_workflow_id)
