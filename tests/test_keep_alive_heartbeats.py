"""Keep-alive heartbeats (runtime.heartbeats) on a real worker: a living worker's quiet activity is not
timed out by its short heartbeat timeout, and the keep-alive never erases the progress it heartbeated."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from runtime.heartbeats import KeepAliveHeartbeats

SHORT_HEARTBEAT = timedelta(milliseconds=500)
# Several heartbeat timeouts of waiting without a heartbeat of the activity's own.
QUIET_SECONDS = 4 * SHORT_HEARTBEAT.total_seconds()


@activity.defn
async def wait_quietly() -> int:
    await asyncio.sleep(QUIET_SECONDS)
    return activity.info().attempt


@activity.defn
async def fail_once_after_progress() -> list:
    info = activity.info()
    if info.attempt == 1:
        activity.heartbeat({"sentences_spoken": 2})
        await asyncio.sleep(QUIET_SECONDS)
        raise ApplicationError("the first attempt fails after its quiet wait")
    return list(info.heartbeat_details)


@workflow.defn
class QuietActivity:
    @workflow.run
    async def run(self, name: str) -> object:
        return await workflow.execute_activity(
            name,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=SHORT_HEARTBEAT,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3),
        )


async def run_on_worker(client: Client, activity_name: str) -> object:
    queue = f"keep-alive-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[QuietActivity],
        activities=[wait_quietly, fail_once_after_progress],
        interceptors=[KeepAliveHeartbeats()],
    ):
        return await client.execute_workflow(QuietActivity.run, activity_name, id=queue, task_queue=queue)


async def test_an_activity_that_waits_without_heartbeating_is_kept_alive_by_its_living_worker(temporal_client):
    assert await run_on_worker(temporal_client, "wait_quietly") == 1, "the first attempt finished: never timed out"


async def test_the_keep_alive_repeats_the_progress_heartbeated_and_a_retry_receives_it(temporal_client):
    assert await run_on_worker(temporal_client, "fail_once_after_progress") == [{"sentences_spoken": 2}]
