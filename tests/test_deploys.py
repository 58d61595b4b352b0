"""A deploy while calls are in flight: a call begun by the previous deploy's workflow code is finished by this one.

How "the previous deploy" runs here: tests/fixtures/deployed-code/<date>/ holds a copy of the workflow
package and of worker.py as they were deployed, and a worker process started in that folder imports
them before ours (the folder is first on its sys.path; everything else comes from this checkout).
worker.py is part of the copy because it registers the workflows its deploy has: today's registers
workflow modules the deployed package does not have. Workflow
code is what must stay compatible across a deploy (its histories replay on the new code, and
`workflow.patched` marks what changed); the activities run whichever deploy's worker takes their
task, as in production. We chose this over Temporal's worker versioning (two build ids): with
versioning an in-flight call stays pinned to the old build, so nothing would be checked about the
new code taking it over, and a fresh clone runs the old code with no history of the repository
and no second checkout. When the workflows change again, the copy is refreshed from the deployed
commit (`git archive <commit> workflows worker.py | tar -x -C tests/fixtures/deployed-code/<date>`) and the
older one removed; tests/test_replay.py keeps checking older histories.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType

from database.engine import get_engine
from database.models import Call, ConversationTurn
from simulator.call_script import CallScript
from tests.conftest import ROOT, ManagedProcess, Stack, running_stack
from tests.test_long_calls import agent_lines, runs_of
from tests.test_phone_call import GREETING, fake_reply, finished_workflow
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

# The code of b7cd12f: calls continue as new, but no speculative replies, languages or caller memory yet.
DEPLOYED = ROOT / "tests" / "fixtures" / "deployed-code" / "2026-11-29-before-speculative-replies"


@pytest.fixture(scope="module")
def deploy_stack(temporal, database_url, fake_llm, tmp_path_factory) -> Iterator[Stack]:
    # The smallest history limit: the new code continues the call as new soon after it takes over.
    with running_stack(
        temporal,
        database_url,
        fake_llm,
        tmp_path_factory.mktemp("logs"),
        name="deploys",
        llm=True,
        extra_env={"CALL_HISTORY_EVENT_LIMIT": "100"},
    ) as the_stack:
        yield the_stack


def deployed_worker(stack: Stack, logs: Path) -> ManagedProcess:
    """A worker on the previous deploy's workflow code, on the stack's task queue."""
    env = {**stack.env, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return ManagedProcess(
        "deployed-worker",
        [sys.executable, "-m", "cloudgreet.cli", "worker"],
        env,
        logs / "deployed-worker.log",
        cwd=DEPLOYED,
    )


def test_the_deployed_worker_imports_the_deployed_workflow_code(deploy_stack, tmp_path):
    worker = deployed_worker(deploy_stack, tmp_path)
    imported = subprocess.run(
        [sys.executable, "-c", "import workflows.call, worker; print(workflows.call.__file__, worker.__file__)"],
        env=worker.env,
        cwd=worker.cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert imported == [str(DEPLOYED / "workflows" / "call.py"), str(DEPLOYED / "worker.py")]
    assert not (DEPLOYED / "workflows" / "call_language.py").exists(), "the copy is of code before today's changes"


async def test_a_call_begun_on_the_deployed_code_is_finished_by_the_new_code(deploy_stack, tmp_path):
    stack = deploy_stack
    stack.worker.stop()
    old = deployed_worker(stack, tmp_path)
    old.start()
    lines = [f"Tell me about treatment number {n}, please." for n in range(1, 9)]
    try:
        call = stack.simulator.place_call(CallScript(from_number="+15555550193", lines=lines, max_call_seconds=180))
        # The deploy: once the first line is answered, the old worker goes and a new one comes.
        first_answer = fake_reply(lines[0])[-1]
        await eventually(lambda: agent_lines(call), lambda said: first_answer in said, timeout=60, what="a reply")
        old.stop()
        stack.worker.start()
        await stack.simulator.wait_ended(call, 180)
    finally:
        old.stop()
        stack.ensure_worker()

    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == len(lines)
    assert agent_lines(call) == [GREETING, *(sentence for line in lines for sentence in fake_reply(line))]

    workflow_id = call_workflow_id(call.call_control_id)
    runs = await runs_of(stack, workflow_id)
    first_run = await stack.temporal_client.get_workflow_handle(workflow_id, run_id=runs[0][0]).fetch_history()
    workers = [
        event.workflow_task_completed_event_attributes.identity.split("@")[0]
        for event in first_run.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]
    old_pid, new_pid = str(old.process.pid), str(stack.worker.process.pid)
    assert workers[0] == old_pid and workers[-1] == new_pid, workers
    assert set(workers) == {old_pid, new_pid}
    assert len(runs) >= 2, "the new code took the call on and continued it as new when it grew long"

    with Session(get_engine(stack.database_url)) as session:
        assert session.get(Call, call.call_control_id).status == "ended"
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call.call_control_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.speaker.desc())
        ).all()
        expected = []
        for index, line in enumerate(lines, start=1):
            expected += [(index, "caller", line), (index, "agent", " ".join(fake_reply(line)))]
        assert [(t.turn_index, t.speaker, t.text) for t in turns] == expected
