"""Temporal Cloud Actions of a workflow history, counted as Temporal's billing documentation lists them.

https://docs.temporal.io/cloud/actions: workflow started (client start, continue-as-new, child
start), one Action for a signal-with-start whether or not it starts the workflow, every signal,
timer started, search attribute upsert (not TemporalChangeVersion), activity started or retried
(each attempt), the local activities of one workflow task together, update accepted or rejected,
child workflow start (two). Not in a history, so not counted here: queries, activity heartbeats
that reach the server (the dev server's `action` metric counts those: benchmarks/capacity.py),
schedules, exports.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

LOCAL_ACTIVITY_MARKER = "core_local_activity"
CHANGE_VERSION = "TemporalChangeVersion"


def billable_actions(events: Sequence[HistoryEvent]) -> int:
    actions, local_activity_tasks = 0, set()
    started = None
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            actions, started = actions + 1, event.event_id
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            # Signal-with-start: the signal recorded right after the start is the same one Action.
            actions += 0 if started is not None and event.event_id == started + 1 else 1
        elif kind in (
            EventType.EVENT_TYPE_TIMER_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
        ):
            actions += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions += max(1, event.activity_task_started_event_attributes.attempt)
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            actions += 2
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            actions += any(name != CHANGE_VERSION for name in fields)
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            attributes = event.marker_recorded_event_attributes
            if attributes.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activity_tasks.add(attributes.workflow_task_completed_event_id)
    return actions + len(local_activity_tasks)
