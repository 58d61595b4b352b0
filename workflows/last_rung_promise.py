"""`LastRungPromiseWorkflow`: a call-back the API promised on its own, taken over by Temporal.

While Temporal was unreachable the API answered a call itself, promised a call-back and kept the
promise in its local outbox (api/last_rung.py). Once Temporal is back the API starts this workflow,
once per call (its id comes from the call_control_id, REJECT_DUPLICATE), and forgets the promise.
The workflow puts the call on record, schedules the call-back as any call would, and hands it to
a `CallbackWorkflow`, which keeps it however long the database or the workers take to come back.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.call_records import CallClosing, CallOpening, CallRecords, ErrorRecord
    from activities.follow_ups import CallbackRequest, FollowUps
    from domain.vocabulary import CallOutcome, CallStatus, Direction, FallbackLevel
    from workflows.call_options import RECORD_KEEPING
    from workflows.callback import CallbackPlan, CallbackWorkflow


class LastRungPromise(BaseModel):
    """What the caller was promised, as the API wrote it in its outbox before answering."""

    call_control_id: str
    caller_number: str
    dialed_number: str | None = None
    business_name: str | None = None  # as the caller heard it; None: the generic sentence
    rang_at: datetime  # the call's call.initiated
    answered_at: datetime  # when the API gave up waiting for Temporal


def last_rung_workflow_id(call_control_id: str) -> str:
    return f"last-rung-{call_control_id}"


def last_rung_callback_workflow_id(call_control_id: str) -> str:
    return f"callback-{call_control_id}-last-rung"


@workflow.defn
class LastRungPromiseWorkflow:
    @workflow.run
    async def run(self, promise: LastRungPromise) -> str:
        workflow_id = workflow.info().workflow_id
        call_id = promise.call_control_id
        context = await workflow.execute_activity_method(
            CallRecords.open_call,
            CallOpening(
                call_control_id=call_id,
                workflow_id=workflow_id,
                caller_number=promise.caller_number,
                dialed_number=promise.dialed_number,
                direction=Direction.INCOMING,
                started_at=promise.rang_at,
            ),
            **RECORD_KEEPING,
        )
        callback_workflow_id = last_rung_callback_workflow_id(call_id)
        scheduled = await workflow.execute_activity_method(
            FollowUps.schedule_callback,
            CallbackRequest(
                idempotency_key=f"{workflow_id}/callback",
                business_id=context.business_id,
                business=context.business,
                call_id=call_id,
                caller_number=promise.caller_number,
                # Said when the call-back is answered ("returning your call about ..."): nothing to add.
                reason="",
                # Due when the business is open at the time of the call, or opens next.
                now=promise.answered_at,
                workflow_id=callback_workflow_id,
            ),
            **RECORD_KEEPING,
        )
        await workflow.start_child_workflow(
            CallbackWorkflow.run,
            CallbackPlan(
                callback_id=scheduled.callback_id,
                caller_number=promise.caller_number,
                from_number=scheduled.from_number,
                due_at=scheduled.due_at,
                max_attempts=scheduled.max_attempts,
                retry_spacing_seconds=scheduled.retry_spacing_seconds,
                ring_seconds=scheduled.ring_seconds,
            ),
            id=callback_workflow_id,
            # The promise outlives this hand-over.
            parent_close_policy=ParentClosePolicy.ABANDON,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        waited = (promise.answered_at - promise.rang_at).total_seconds()
        await workflow.execute_activity_method(
            CallRecords.record_error,
            ErrorRecord(
                key=f"{workflow_id}/cause",
                call_control_id=call_id,
                source="last_rung",
                message=(
                    f"Temporal was unreachable for {waited:.0f} s of ringing: the API answered the call itself, "
                    "promised a call-back and handed the promise over when Temporal was back"
                ),
                context={"callback_workflow_id": callback_workflow_id},
            ),
            **RECORD_KEEPING,
        )
        await workflow.execute_activity_method(
            CallRecords.close_call,
            CallClosing(
                call_control_id=call_id,
                status=CallStatus.ENDED,
                hangup_cause=None,
                ended_at=promise.answered_at,
                outcome=CallOutcome.MESSAGE,
                fallback_level=FallbackLevel.CALLBACK_PROMISE,
            ),
            **RECORD_KEEPING,
        )
        return callback_workflow_id
