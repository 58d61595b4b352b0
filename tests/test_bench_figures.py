"""The arithmetic of the benchmarks (benchmarks/): Temporal Actions of a history, when a capacity level holds."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from benchmarks.capacity import holds
from benchmarks.temporal_actions import billable_actions


def event(event_id: int, kind: int, **attributes) -> HistoryEvent:
    return HistoryEvent(event_id=event_id, event_type=kind, **attributes)


def test_actions_of_a_signal_with_start_call_with_a_timer_an_activity_retried_and_local_activities():
    E = EventType
    history = [
        event(1, E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        event(2, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),  # the signal of the signal-with-start: same Action
        event(3, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),  # workflow tasks are not Actions
        event(4, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        event(5, E.EVENT_TYPE_TIMER_STARTED),
        event(6, E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        event(7, E.EVENT_TYPE_ACTIVITY_TASK_STARTED, activity_task_started_event_attributes={"attempt": 3}),
        event(
            8,
            E.EVENT_TYPE_MARKER_RECORDED,
            marker_recorded_event_attributes={
                "marker_name": "core_local_activity",
                "workflow_task_completed_event_id": 3,
            },
        ),
        event(
            9,
            E.EVENT_TYPE_MARKER_RECORDED,
            marker_recorded_event_attributes={
                "marker_name": "core_local_activity",
                "workflow_task_completed_event_id": 3,
            },
        ),
        event(
            10,
            E.EVENT_TYPE_MARKER_RECORDED,
            marker_recorded_event_attributes={"marker_name": "core_patch", "workflow_task_completed_event_id": 3},
        ),
        event(11, E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
    ]
    # start 1 + signal 1 + timer 1 + three attempts 3 + local activities of one task 1 + child 2
    assert billable_actions(history) == 9


def test_a_level_holds_without_lost_turns_and_with_p99_within_150_ms():
    assert holds({"orchestration_ms": [40.0] * 99 + [150.0], "missing_turns": 0})[0]
    assert not holds({"orchestration_ms": [40.0] * 98 + [151.0, 151.0], "missing_turns": 0})[0]
    assert not holds({"orchestration_ms": [40.0], "missing_turns": 1})[0]
    assert not holds({"orchestration_ms": [], "missing_turns": 0})[0]
