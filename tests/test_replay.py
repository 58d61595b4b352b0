"""Determinism, checked the way Temporal checks it: finished calls' histories replay on today's code.

A workflow change that would make a running call fail after a redeploy fails here instead.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from simulator.call_script import CallerLine, CallScript
from tests.businesses import open_every_day, store_business
from workflows.call_messages import call_workflow_id
from workflows.registry import WORKER_WORKFLOWS

# Histories of finished calls recorded on earlier code (`CLOUDGREET_RECORD_HISTORIES=... scripts/test`, see
# tests/conftest.py): calls that were in flight when that code was replaced must go on on this code.
RECORDED = Path(__file__).resolve().parent / "fixtures" / "histories"


def recorded_histories() -> list[WorkflowHistory]:
    histories = []
    for path in sorted(RECORDED.glob("*/*.json.gz")):
        workflow_id = path.name.removesuffix(".json.gz")
        histories.append(WorkflowHistory.from_json(workflow_id, gzip.decompress(path.read_bytes()).decode()))
    return histories


async def test_calls_recorded_on_earlier_code_replay_on_this_code() -> None:
    histories = recorded_histories()
    assert len(histories) >= 30, "the recorded histories are in tests/fixtures/histories"
    # Recorded runs of every finished workflow: the calendar's syncs too (CLOUDGREET_RECORD_HISTORIES).
    replayer = Replayer(workflows=WORKER_WORKFLOWS, data_converter=pydantic_data_converter)

    async def each():
        for history in histories:
            yield history

    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    failures = {run_id: str(failure) for run_id, failure in results.replay_failures.items()}
    assert failures == {}


@pytest.mark.database
async def test_calls_with_booking_barge_in_and_escalation_replay_deterministically(offline_stack, database_url):
    store_business(database_url, open_every_day())
    scripts = [
        CallScript(
            from_number="+15555550181",
            to_number="+15555550111",
            # A time no other test of this business books: they share one calendar.
            lines=["I'd like to book a cleaning tomorrow at 4:30 pm", "My name is Replay", "Yes", "Bye"],
        ),
        CallScript(
            from_number="+15555550182",
            to_number="+15555550111",
            lines=[
                CallerLine(text="What are your hours?"),
                CallerLine(text="Sorry, how much is whitening?", barge_in=True, barge_in_after_seconds=0.01),
            ],
        ),
        CallScript(from_number="+15555550183", to_number="+15555550111", lines=["I have severe pain and bleeding"]),
    ]
    calls = [offline_stack.simulator.place_call(script) for script in scripts]
    histories = []
    for call in calls:
        await offline_stack.simulator.wait_ended(call, 90)
        handle = offline_stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
        await handle.result()
        histories.append(await handle.fetch_history())
    # Recorded runs of every finished workflow: the calendar's syncs too (CLOUDGREET_RECORD_HISTORIES).
    replayer = Replayer(workflows=WORKER_WORKFLOWS, data_converter=pydantic_data_converter)

    async def each():
        for history in histories:
            yield history

    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    failures = {run_id: str(failure) for run_id, failure in results.replay_failures.items()}
    assert failures == {}
    assert all(len(history.events) > 20 for history in histories), "real calls, not empty ones"
