"""Failover by doing the damage: one of two workers SIGKILLed mid-reply; the Temporal server restarted mid-call.

No timing is asserted here (`cloudgreet bench failover` measures the silence): what the callers
heard and what the database holds must be whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from business.listening import DEFAULT_FILLER
from database.engine import get_engine
from database.models import Call, CallMetrics, ConversationTurn
from simulator.call_script import CallScript
from simulator.fake_openai.server import FakeOpenAIServer
from tests.businesses import patient_business
from tests.conftest import ManagedProcess, Stack, running_stack
from tests.outages import TemporalDevServer
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

# Slow words: a reply is still speaking when the damage is done.
SLOW_WORDS_MS = 120
# The callers wait this long in silence before taking a reply as finished, so that they wait out a
# failover instead of talking over it on a busy machine (the benchmark measures how short it is).
PATIENT_CALLER_SECONDS = 12


@contextmanager
def slow_words(fake_llm: FakeOpenAIServer) -> Iterator[None]:
    fake = fake_llm.fake
    fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": SLOW_WORDS_MS}))
    try:
        yield
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 0}))


@contextmanager
def second_worker(stack: Stack) -> Iterator[ManagedProcess]:
    worker = ManagedProcess(
        f"{stack.worker.name}-2",
        stack.worker.command,
        stack.env,
        stack.worker.log_path.with_name(f"{stack.worker.name}-2.log"),
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


async def worker_running_the_reply(client: Client, call_control_id: str, workers: list[ManagedProcess]):
    """The worker process whose reply activity is speaking to this caller now."""
    handle = client.get_workflow_handle(call_workflow_id(call_control_id))

    async def replying_pid() -> int | None:
        for pending in (await handle.describe()).raw_description.pending_activities:
            if pending.activity_type.name == "reply_to_caller" and pending.last_worker_identity:
                return int(pending.last_worker_identity.split("@")[0])  # the SDK's identity: <pid>@<host>
        return None

    pid = await eventually(replying_pid, lambda found: found is not None, timeout=60, what="a reply running")
    return next(worker for worker in workers if worker.process is not None and worker.process.pid == pid)


def replies_heard(call, turns: int) -> list[str]:
    """What the caller heard but the fillers: slow words keep a caller waiting past the filler's 1.2 s,
    and each turn may open with it, once."""
    said = spoken(call)
    assert said.count(DEFAULT_FILLER) <= turns
    return [sentence for sentence in said if sentence != DEFAULT_FILLER]


def assert_recorded_whole(database_url: str, call_control_id: str, lines: list[str]) -> None:
    with Session(get_engine(database_url)) as session:
        record = session.get(Call, call_control_id)
        assert record is not None and record.status == "ended"
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call_control_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.speaker.desc())
        ).all()
        assert [(t.turn_index, t.speaker, t.text) for t in turns] == [
            row
            for index, line in enumerate(lines, start=1)
            for row in ((index, "caller", line), (index, "agent", " ".join(fake_reply(line))))
        ]
        metrics = session.get(CallMetrics, call_control_id)
        assert metrics is not None and metrics.caller_turns == len(lines)


async def test_one_of_two_workers_killed_mid_reply_every_call_goes_on_with_nothing_said_twice(stack):
    # A business whose filler waits 10 s: every reply is the LLM's, taken over by the other worker. With the
    # default 1.2 s, a caller whose reply had not begun when its worker died may rightly hear the filler and
    # then the offline responder (a failover slower than the caller's patience); test_llm_outage covers that.
    patient = patient_business(stack)
    scripts = {
        f"caller {n}": [f"Caller {n} asks: do you take new patients?", f"Caller {n} asks: what about Saturdays?"]
        for n in range(1, 4)
    }
    with slow_words(stack.fake_llm), second_worker(stack) as other:
        try:
            calls = {
                name: stack.simulator.place_call(
                    CallScript(
                        to_number=patient.phone_number,
                        lines=lines,
                        max_call_seconds=120,
                        caller_pause_seconds=PATIENT_CALLER_SECONDS,
                    )
                )
                for name, lines in scripts.items()
            }
            first = calls["caller 1"]
            replying = await worker_running_the_reply(
                stack.temporal_client, first.call_control_id, [stack.worker, other]
            )
            # The worker dies between the two sentences of caller 1's first reply.
            first_sentence = fake_reply(scripts["caller 1"][0])[0]
            await eventually(lambda: spoken(first), lambda said: first_sentence in said, what="first sentence spoken")
            replying.kill()
            await asyncio.gather(*(stack.simulator.wait_ended(call, 120) for call in calls.values()))
        finally:
            stack.ensure_worker()

    for name, call in calls.items():
        lines = scripts[name]
        summary = await finished_workflow(stack, call)
        assert summary.caller_turns == 2, f"{name}: no caller line went unanswered"
        # Each sentence played exactly once, in order, though the reply was tried again on the other worker.
        assert replies_heard(call, len(lines)) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])], name
        assert_recorded_whole(stack.database_url, call.call_control_id, lines)


@dataclass
class _ServerOfTheStack:
    """What `running_stack` needs of a Temporal server: a client of it."""

    client: Client


@pytest.fixture
async def restartable_stack(
    database_url: str, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> AsyncIterator[tuple[Stack, TemporalDevServer]]:
    """The phone path on a Temporal dev server of its own, which the test stops and starts again."""
    server = TemporalDevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        with running_stack(
            _ServerOfTheStack(client),  # type: ignore[arg-type]
            database_url,
            fake_llm,
            tmp_path,
            name="restarted-temporal",
            llm=True,
        ) as the_stack:
            yield the_stack, server
    finally:
        server.stop()


async def test_temporal_restarted_mid_call_the_call_goes_on_and_is_recorded_whole(restartable_stack):
    stack, server = restartable_stack
    lines = ["Do you take new patients?", "Thanks, what about Saturdays?"]
    with slow_words(stack.fake_llm):
        call = stack.simulator.place_call(
            CallScript(lines=lines, max_call_seconds=120, caller_pause_seconds=PATIENT_CALLER_SECONDS)
        )
        first_sentence = fake_reply(lines[0])[0]
        await eventually(
            lambda: spoken(call), lambda said: first_sentence in said, timeout=60, what="first sentence spoken"
        )
        # The server goes away mid-reply and comes back on the same database and port: webhooks
        # meanwhile are refused and redelivered, the worker's polls and heartbeats fail and resume.
        server.stop()
        server.start()
        await stack.simulator.wait_ended(call, 120)

    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == 2, "no caller line went unanswered"
    assert replies_heard(call, len(lines)) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]
    assert_recorded_whole(stack.database_url, call.call_control_id, lines)
