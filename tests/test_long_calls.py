"""A long call continues as new: each run's history stays bounded, and the call goes on whole.

The stack of this module starts its calls with a small history limit (CALL_HISTORY_EVENT_LIMIT), so
a call of a dozen lines switches runs more than once mid-conversation, as an hour-long call would.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields

import pytest
from sqlmodel import Session, select
from temporalio.api.enums.v1 import EventType

from database.engine import get_engine
from database.models import Call, CallMetrics, ConversationTurn
from runtime.search_attributes import BUSINESS_SEARCH_ATTRIBUTE, STATUS_SEARCH_ATTRIBUTE
from simulator.call_script import CallerLine, CallScript, Misbehaviour
from tests.conftest import Stack, running_stack
from tests.test_phone_call import GREETING, fake_reply, finished_workflow
from workflows.call_continuation import RUN_LOCAL, carried_progress_fields
from workflows.call_messages import CarriedCall, call_workflow_id
from workflows.call_progress import CallProgress

HISTORY_EVENT_LIMIT = 120
# A run checks its length between two caller turns, so it may pass the limit by one turn's events
# (a reply of two rounds with its signals, records and commands) and the switch itself.
ONE_TURN_AT_MOST = 80


@pytest.fixture(scope="module")
def long_call_stack(temporal, database_url, fake_llm, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        temporal,
        database_url,
        fake_llm,
        tmp_path_factory.mktemp("logs"),
        name="longcalls",
        llm=True,
        extra_env={"CALL_HISTORY_EVENT_LIMIT": str(HISTORY_EVENT_LIMIT)},
    ) as the_stack:
        yield the_stack


def agent_lines(call) -> list[str]:
    """What the caller heard, sentence by sentence, in order."""
    return [line.text for line in call.conversation if line.speaker == "agent"]


async def runs_of(stack: Stack, workflow_id: str) -> list[tuple[str, int]]:
    """Each run of the call's workflow, oldest first, with the number of events in its history."""
    runs = []
    async for execution in stack.temporal_client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        history = await stack.temporal_client.get_workflow_handle(workflow_id, run_id=execution.run_id).fetch_history()
        runs.append((history.events[0].event_time.ToDatetime(), execution.run_id, len(history.events)))
    return [(run_id, length) for _, run_id, length in sorted(runs)]


async def test_a_long_call_continues_as_new_and_every_line_is_answered_once(long_call_stack):
    stack = long_call_stack
    lines = [f"Question number {n}: do you have an appointment on day {n}?" for n in range(1, 13)]
    script = CallScript(
        from_number="+15555550191",
        lines=[CallerLine(text=text) for text in lines],
        max_call_seconds=180,
        # Redelivered webhooks across the switches are still repeats: nothing is answered twice.
        misbehaviour=Misbehaviour(duplicate_events=True),
    )
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, 180)
    summary = await finished_workflow(stack, call)

    assert summary.status == "ended"
    assert summary.caller_turns == len(lines)
    assert agent_lines(call) == [GREETING, *(sentence for line in lines for sentence in fake_reply(line))], (
        "every caller line answered exactly once, in order"
    )

    workflow_id = call_workflow_id(call.call_control_id)
    runs = await runs_of(stack, workflow_id)
    assert len(runs) >= 2, f"the call continued as new at least once: {runs}"
    assert all(length <= HISTORY_EVENT_LIMIT + ONE_TURN_AT_MOST for _, length in runs), runs

    for run_id, _ in runs[1:]:
        history = await stack.temporal_client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        signalled = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
        assert signalled, "the API's signal-with-start reached the later runs by the call's workflow id"

    described = await stack.temporal_client.get_workflow_handle(workflow_id).describe()
    assert described.run_id == runs[-1][0]
    attributes = described.typed_search_attributes
    assert attributes.get(STATUS_SEARCH_ATTRIBUTE) == "ended"
    assert attributes.get(BUSINESS_SEARCH_ATTRIBUTE), "the business carried to the last run"

    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert record.status == "ended"
        assert record.workflow_id == workflow_id
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call.call_control_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.speaker.desc())
        ).all()
        expected = []
        for index, line in enumerate(lines, start=1):
            expected += [(index, "caller", line), (index, "agent", " ".join(fake_reply(line)))]
        assert [(t.turn_index, t.speaker, t.text) for t in turns] == expected, "the whole transcript, once"
        assert session.get(CallMetrics, call.call_control_id).caller_turns == len(lines)


def test_every_field_of_a_calls_progress_is_carried_to_its_next_run_or_belongs_to_one_run():
    # A field added to CallProgress must be added to CarriedCall too (or to RUN_LOCAL, saying why):
    # a call that continues as new would otherwise forget it, or fail to start its next run.
    carried = set(CarriedCall.model_fields) - {"seen_event_ids", "callback_refusals"}
    assert carried == set(carried_progress_fields())
    assert {f.name for f in fields(CallProgress)} == carried | RUN_LOCAL | {"seen_event_ids"}


async def test_a_booking_straddling_a_switch_of_runs_is_read_back_and_booked(long_call_stack):
    # The LLM down for the whole call: the offline responder answers, its conversation state (the
    # slots, the question asked) kept by the workflow and carried to each next run.
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from database.models import Appointment
    from tests.businesses import open_every_day, store_business

    stack = long_call_stack
    store_business(stack.database_url, open_every_day("+15555550117"))
    fake = stack.fake_llm.fake
    lines = [
        "What are your hours?",
        "Where are you located?",
        "What are your hours on Sunday?",
        "How much is a whitening? I was hoping for tomorrow at 2:15 pm",
        "Yes, please",
        "Dana Scully",
        "That works",
    ]
    script = CallScript(from_number="+15555550194", to_number="+15555550117", lines=lines, max_call_seconds=180)
    fake.set_behaviour(fake.behaviour.model_copy(update={"fail_always": True}))
    try:
        call = stack.simulator.place_call(script)
        await stack.simulator.wait_ended(call, 180)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"fail_always": False}))
    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == len(lines) and summary.fallback_level == "offline"
    heard = " ".join(agent_lines(call))
    assert "Just to confirm: a whitening tomorrow at 2:15 PM, under the name Dana Scully." in heard, heard
    runs = await runs_of(stack, call_workflow_id(call.call_control_id))
    assert len(runs) >= 2, f"the booking went on across runs: {runs}"
    with Session(get_engine(stack.database_url)) as session:
        [booked] = session.exec(select(Appointment).where(Appointment.caller_number == "+15555550194")).all()
    tomorrow = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)
    expected = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 14, 15, tzinfo=ZoneInfo("America/New_York"))
    starts = booked.starts_at if booked.starts_at.tzinfo else booked.starts_at.replace(tzinfo=UTC)
    assert booked.service == "Whitening" and booked.caller_name == "Dana Scully"
    assert starts == expected.astimezone(UTC)
