"""Durability by doing the damage: SIGKILL the worker in the middle of a reply."""

from __future__ import annotations

import asyncio
import signal

import pytest

from simulator.call_script import CallScript
from tests.businesses import patient_business
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database


async def test_worker_killed_mid_reply_the_call_goes_on_with_nothing_said_twice(stack):
    # No filler: on a loaded machine the slow first words below may take longer than the demo's filler delay,
    # and this test checks every sentence the caller hears.
    patient = patient_business(stack)
    fake = stack.fake_llm.fake
    # Slow words: the worker dies after the first sentence of the first reply went out, before the second.
    fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 120}))
    lines = ["Do you take new patients?", "Thanks, what about Saturdays?"]
    try:
        # This caller waits out the seconds a replacement worker needs (its imports alone take seconds on a
        # busy machine) instead of talking over the silence.
        call = stack.simulator.place_call(
            CallScript(to_number=patient.phone_number, lines=lines, max_call_seconds=120, caller_pause_seconds=25)
        )
        first_sentence = fake_reply(lines[0])[0]
        # The caller's patient pause comes first, and before it the worker, which may still be starting.
        await eventually(
            lambda: spoken(call), lambda said: first_sentence in said, timeout=90, what="first sentence spoken"
        )
        stack.worker.kill()
        stack.worker.start()
        await stack.simulator.wait_ended(call, 120)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 0}))
        stack.ensure_worker()

    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == 2, "no caller line went unanswered"
    # Each sentence played exactly once, in order: a repeat sent by the retried reply carried
    # the same command_id and was ignored, as Telnyx ignores it.
    assert spoken(call) == [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]


async def test_a_worker_stopped_for_a_deploy_finishes_the_reply_it_is_speaking(stack):
    """SIGTERM, as a deploy or `docker stop` sends it: the worker takes no new task, ends the reply in
    flight itself (no second attempt elsewhere, no gap while its calls move), and exits cleanly."""
    patient = patient_business(stack)
    fake = stack.fake_llm.fake
    fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 120}))
    line = "Do you take new patients?"
    try:
        call = stack.simulator.place_call(
            CallScript(to_number=patient.phone_number, lines=[line], max_call_seconds=120, caller_pause_seconds=3)
        )
        await eventually(
            lambda: spoken(call), lambda said: fake_reply(line)[0] in said, timeout=90, what="first sentence spoken"
        )
        stopping = stack.worker.process
        stopping.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(stopping.wait, 30)
        stack.worker.start()  # the deploy's new worker
        await stack.simulator.wait_ended(call, 120)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 0}))
        stack.ensure_worker()

    assert exit_code == 0, stack.worker.log()[-3000:]
    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == 1
    assert spoken(call) == [f"Thank you for calling {patient.name}. How can I help you today?", *fake_reply(line)]
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    attempts = [
        event.activity_task_started_event_attributes.attempt
        async for event in handle.fetch_history_events()
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert attempts and set(attempts) == {1}, "no activity had to be tried again on the new worker"
