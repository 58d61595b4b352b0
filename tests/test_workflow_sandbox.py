"""The production worker's sandbox (runtime/workflow_sandbox.py) replays every recorded call as the default one does."""

from __future__ import annotations

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from runtime.workflow_sandbox import workflow_runner
from tests.test_replay import recorded_histories
from workflows.registry import WORKER_WORKFLOWS


async def test_recorded_calls_replay_with_our_packages_passed_through() -> None:
    histories = recorded_histories()
    replayer = Replayer(
        workflows=WORKER_WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )

    async def each():
        for history in histories:
            yield history

    async with replayer.workflow_replay_iterator(each()) as results:
        failures = [(r.history.workflow_id, r.replay_failure) async for r in results if r.replay_failure]
    assert failures == []
    assert len(histories) >= 30
