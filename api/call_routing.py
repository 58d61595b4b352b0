"""Hands each verified Telnyx event to its call's one workflow, with signal-with-start.

Signal-with-start rather than update-with-start: the server persists the signal (starting the
workflow if the call is new) and answers without waiting for a worker, so the webhook is
acknowledged in milliseconds even when every worker is busy or being redeployed, and the
event is never lost. An update would make Telnyx wait for a worker to run the workflow code.
"""

from __future__ import annotations

from collections import OrderedDict
from enum import Enum

from typing import TYPE_CHECKING

from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.call import CallWorkflow
from workflows.call_messages import CallEvent, CallStart, call_workflow_id

if TYPE_CHECKING:
    from api.dependencies import TemporalConnection


class Delivery(str, Enum):
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"
    CALL_ENDED = "call_ended"
    NOT_NEEDED = "ignored"


class RecentEventIds:
    """Event ids this API process has already handed over; the workflow deduplicates for every replica."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class InterimTranscripts:
    """Forwards only the first interim transcript of each utterance.

    An interim transcript matters to a call only as the first sign that the caller is talking
    (barge-in); the ones after it until the final transcript would each cost the call a
    signal and a workflow task. Per API process: with several replicas, each forwards at most
    its own first one, which the workflow handles the same way.
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self._talking: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def worth_forwarding(self, event: CallEvent) -> bool:
        if event.event_type != "call.transcription":
            return True
        if event.is_final:
            self._talking.pop(event.call_control_id, None)
            return True
        if event.call_control_id in self._talking:
            return False
        self._talking[event.call_control_id] = None
        if len(self._talking) > self._capacity:
            self._talking.popitem(last=False)
        return True


class CallRouter:
    def __init__(self, temporal: "TemporalConnection", task_queue: str) -> None:
        self._temporal = temporal
        self._task_queue = task_queue
        self._recent = RecentEventIds()
        self._interims = InterimTranscripts()

    async def deliver(self, event: CallEvent) -> Delivery:
        if event.event_id in self._recent:
            return Delivery.DUPLICATE
        if not self._interims.worth_forwarding(event):
            return Delivery.NOT_NEEDED
        # A transfer leg's events belong to the call being transferred.
        owner = event.leg.parent_call_control_id if event.leg else event.call_control_id
        client = await self._temporal.client()
        try:
            await client.start_workflow(
                CallWorkflow.run,
                CallStart(call_control_id=owner),
                id=call_workflow_id(owner),
                task_queue=self._task_queue,
                # A finished call is never started again by a late event: the server refuses instead.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                start_signal="telnyx_event",
                start_signal_args=[event],
            )
        except WorkflowAlreadyStartedError:
            result = Delivery.CALL_ENDED
        else:
            result = Delivery.DELIVERED
        self._recent.add(event.event_id)
        return result
