"""Durability by doing the damage: SIGKILL the worker in the middle of a reply."""

from __future__ import annotations

import pytest

from simulator.call_script import CallScript
from tests.businesses import patient_business
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.waiting import eventually

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
