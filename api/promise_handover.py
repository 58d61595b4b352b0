"""Hands the promises in the last rung's outbox to Temporal, each exactly once, when Temporal is back.

A background task of the API: every few seconds it reads the promises not yet handed over and
starts one `LastRungPromiseWorkflow` each, with a workflow id made from the call_control_id and
REJECT_DUPLICATE. A second replica holding the same promise, or a retry after an answer that got
lost, is refused by the server (WorkflowAlreadyStartedError), which means the promise is in
Temporal's hands already: either way it is marked handed over. While Temporal is down it waits.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress

import structlog
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.last_rung_outbox import PromiseOutbox
from api.temporal_client import TemporalConnection
from runtime import metrics
from workflows.last_rung_promise import LastRungPromise, LastRungPromiseWorkflow, last_rung_workflow_id

HANDOVER_EVERY_SECONDS = 2.0
# The SDK's own retries of an unreachable server take about this long; nothing is waiting on us.
HANDOVER_TIMEOUT_SECONDS = 10.0

log = structlog.get_logger(__name__)


async def hand_over_promises(outbox: PromiseOutbox, temporal: TemporalConnection, task_queue: str) -> None:
    while True:
        try:
            await hand_over_waiting_promises(outbox, temporal, task_queue)
        except Exception:
            log.exception("promises not handed over")  # the outbox keeps them; the next round tries again
        await asyncio.sleep(HANDOVER_EVERY_SECONDS)


async def hand_over_waiting_promises(outbox: PromiseOutbox, temporal: TemporalConnection, task_queue: str) -> None:
    for promise in await asyncio.to_thread(outbox.waiting):
        try:
            await asyncio.wait_for(start_keeping(promise, temporal, task_queue), HANDOVER_TIMEOUT_SECONDS)
        except (RPCError, TimeoutError):
            metrics.last_rung_step("handover_failed")
            return  # Temporal is still away; the promises wait in the outbox
        await asyncio.to_thread(outbox.handed_over, promise.call_control_id)
        metrics.last_rung_step("handed_over")
        log.info("promise handed to Temporal", call_id=promise.call_control_id)


async def start_keeping(promise: LastRungPromise, temporal: TemporalConnection, task_queue: str) -> None:
    client = await temporal.client()
    # Refused: another replica, or an earlier attempt whose answer was lost, handed it over.
    with suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            LastRungPromiseWorkflow.run,
            promise,
            id=last_rung_workflow_id(promise.call_control_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
