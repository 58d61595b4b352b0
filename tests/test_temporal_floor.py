"""`cloudgreet bench temporal-floor` measures the least a durable caller turn can be: its call must have
the shape of a CloudGreet turn (one signal, two workflow tasks, one activity), or the floor would
measure something else."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.floor_call import TASK_QUEUE, FloorCall, answer_caller
from benchmarks.temporal_floor import settled
from runtime.heartbeats import KeepAliveHeartbeats

E = EventType
A_TURN = [
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
]


async def test_a_floor_turn_is_a_signal_two_workflow_tasks_and_one_activity(temporal: WorkflowEnvironment) -> None:
    queue = f"{TASK_QUEUE}-{uuid.uuid4().hex}"
    async with Worker(
        temporal.client,
        task_queue=queue,
        workflows=[FloorCall],
        activities=[answer_caller],
        interceptors=[KeepAliveHeartbeats()],
    ):
        handle = await temporal.client.start_workflow(FloorCall.run, id=f"floor-{uuid.uuid4().hex}", task_queue=queue)
        await settled(handle, turns=0)  # the call's first workflow task ran before its caller speaks
        for turn, words in enumerate(("When are you open?", "Thanks"), start=1):
            await handle.signal(FloorCall.caller_said, words)
            await settled(handle, turns=turn)
        await handle.signal(FloorCall.hang_up)
        assert await handle.result() == 2
    kinds = [event.event_type for event in (await handle.fetch_history()).events]
    first = kinds.index(E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    assert kinds[first : first + len(A_TURN)] == A_TURN
    assert kinds[first + len(A_TURN) : first + 2 * len(A_TURN)] == A_TURN
