"""`CallbackWorkflow`: a promised call-back, kept however long it takes and whatever restarts.

It waits (a Temporal timer) until the promised time, dials the caller, and lets the dialled
call run as a `CallWorkflow` that knows what the first call was about. No answer: it tries
again later, a bounded number of times. If the caller rings first, the promise is kept by
that call and nobody is dialled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.follow_ups import CallbackUpdate, FollowUps
    from activities.telnyx_commands import DIAL_REFUSED, DialCommand, TelnyxCommands
    from domain.vocabulary import CallbackCallOutcome, CallbackStatus
    from workflows.call_messages import CallbackDial, CallbackOutcome, client_state_tag
    from workflows.call_options import RECORD_KEEPING, TELNYX_COMMAND
    from workflows.waiting import wait_until

# The dialled call reports its outcome when it ends; a conversation may take a while.
CALLBACK_CALL_LIMIT = timedelta(hours=1)


class CallbackPlan(BaseModel):
    callback_id: int
    caller_number: str
    from_number: str
    due_at: datetime
    max_attempts: int = 3
    retry_spacing_seconds: float = 600
    ring_seconds: int = 30
    # None in a plan made before they were checked: the dial activity then allows the line's own country.
    callback_countries: list[str] | None = None
    # A visitor of the browser demo asked to be called now ("call me", api/call_me.py).
    asked_online: bool = False


class NumberRefused(Exception):
    """The dial activity refused the number (`DialRefused`)."""


@workflow.defn
class CallbackWorkflow:
    def __init__(self) -> None:
        self._caller_called_in = False
        # By the dialled call's call_control_id: an outcome may be signalled before the dial
        # activity's result is seen (both can land in one workflow task, signals first).
        self._outcomes: dict[str, CallbackOutcome] = {}
        self._status = "waiting"

    @workflow.signal
    def caller_called_in(self) -> None:
        self._caller_called_in = True

    @workflow.signal
    def call_outcome(self, outcome: CallbackOutcome) -> None:
        self._outcomes.setdefault(outcome.call_control_id, outcome)

    @workflow.query
    def status(self) -> str:
        return self._status

    @workflow.run
    async def run(self, plan: CallbackPlan) -> str:
        wait = plan.due_at - workflow.now()
        if wait > timedelta(0):
            await wait_until(lambda: self._caller_called_in, wait)
        for attempt in range(1, plan.max_attempts + 1):
            if self._caller_called_in:
                return await self._end(plan, CallbackStatus.FULFILLED)
            still_needed = await workflow.execute_activity_method(
                FollowUps.begin_callback_attempt, args=[plan.callback_id, attempt], **RECORD_KEEPING
            )
            if not still_needed:
                return await self._end(plan, CallbackStatus.FULFILLED)
            self._status = f"dialing (attempt {attempt})"
            try:
                outcome = await self._dial(plan, attempt)
            except NumberRefused:
                # Not a number to dial (the refusal is in the dial's failure): trying again changes nothing.
                return await self._end(plan, CallbackStatus.REFUSED)
            if outcome == CallbackCallOutcome.ANSWERED:
                return await self._end(plan, CallbackStatus.DONE)
            if outcome == CallbackCallOutcome.VOICEMAIL:
                return await self._end(plan, CallbackStatus.VOICEMAIL)
            if attempt < plan.max_attempts:
                self._status = f"waiting to retry after {outcome}"
                await workflow.execute_activity_method(
                    FollowUps.update_callback,
                    CallbackUpdate(callback_id=plan.callback_id, status=CallbackStatus.PENDING),
                    **RECORD_KEEPING,
                )
                await wait_until(lambda: self._caller_called_in, timedelta(seconds=plan.retry_spacing_seconds))
        return await self._end(plan, CallbackStatus.FAILED)

    async def _dial(self, plan: CallbackPlan, attempt: int) -> CallbackCallOutcome:
        try:
            dialled = await workflow.execute_activity_method(
                TelnyxCommands.dial_caller,
                DialCommand(
                    command_id=f"{workflow.info().workflow_id}/dial-{attempt}",
                    to=plan.caller_number,
                    from_number=plan.from_number,
                    client_state_tag=client_state_tag(
                        CallbackDial(
                            callback_id=plan.callback_id,
                            callback_workflow_id=workflow.info().workflow_id,
                            asked_online=plan.asked_online,
                        )
                    ),
                    ring_timeout_seconds=plan.ring_seconds,
                    callback_countries=plan.callback_countries,
                ),
                **TELNYX_COMMAND,
            )
        except ActivityError as error:
            if isinstance(error.cause, ApplicationError) and error.cause.type == DIAL_REFUSED:
                raise NumberRefused() from error
            return CallbackCallOutcome.FAILED
        dialled_id = dialled.call_control_id
        await wait_until(
            lambda: dialled_id in self._outcomes, timedelta(seconds=plan.ring_seconds) + CALLBACK_CALL_LIMIT
        )
        outcome = self._outcomes.get(dialled_id)
        return outcome.outcome if outcome else CallbackCallOutcome.NO_ANSWER

    async def _end(self, plan: CallbackPlan, status: CallbackStatus) -> str:
        self._status = status
        await workflow.execute_activity_method(
            FollowUps.update_callback, CallbackUpdate(callback_id=plan.callback_id, status=status), **RECORD_KEEPING
        )
        return status
