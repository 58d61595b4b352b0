"""The collector held while a process starts, and running again once it has (runtime/collector.py):
the API once its lifespan has started, the worker once it is built."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from database.migrate import upgrade_database
from runtime.collector import collect_from_here, hold_collector
from tests.in_process import make_settings
from tests.waiting import eventually
from worker import run_worker


@pytest.fixture
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()
    # A cancelled worker's SDK clients are garbage now, and each one's `__del__` starts its `aclose` on the
    # running loop: collected here, between tests, where no loop runs, not inside a later test's workflow
    # activation, whose sandboxed loop would run it (and warn of the imports it makes).
    gc.collect()


def test_what_start_up_built_is_frozen_and_collection_resumes(collector_restored: None) -> None:
    hold_collector()
    assert not gc.isenabled()
    built_at_start = [object() for _ in range(10)]  # noqa: F841  (kept alive: start-up's long-lived state)
    collect_from_here()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # later collections skip it

    class Cycle:
        pass

    garbage = Cycle()
    garbage.me = garbage  # type: ignore[attr-defined]
    del garbage
    assert gc.collect() >= 1  # a cycle made after start is collected


def test_a_process_that_never_held_the_collector_is_left_as_it_was(collector_restored: None) -> None:
    frozen = gc.get_freeze_count()
    collect_from_here()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_the_api_collects_once_its_lifespan_has_started(collector_restored: None) -> None:
    hold_collector()  # as `cloudgreet api` does
    app = create_app(make_settings())
    assert not gc.isenabled()
    with TestClient(app):
        assert gc.isenabled()


async def test_the_worker_collects_once_it_is_built(
    collector_restored: None, temporal: WorkflowEnvironment, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'worker.db'}"
    upgrade_database(database_url)
    settings = make_settings(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
        TEMPORAL_TASK_QUEUE="collector-test",
        TELNYX_API_KEY="test-key",
        TELNYX_BASE_URL="http://127.0.0.1:9/v2",  # never called: no call is placed
    )
    hold_collector()  # as `cloudgreet worker` does
    running = asyncio.create_task(run_worker(settings))
    try:
        await eventually(gc.isenabled, bool, what="the collector running in the built worker")
        # Cancelled once it polls, as a worker spends its life: cancelled just after being built, one CI
        # run's session event loop could not close at its end (a task kept re-arming a 60 s timer; not
        # reproduced in this test alone).
        await eventually(
            lambda: temporal.client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name="collector-test"),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            ),
            lambda described: len(described.pollers) > 0,
            what="the worker polling its task queue",
        )
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
