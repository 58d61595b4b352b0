"""The API killed mid-call and started again while Telnyx redelivers: the call goes on, nothing is lost or said twice.

The API holds nothing a call needs (the call is its workflow), so what a restart costs is the
webhooks posted while it was down: Telnyx posts them again after each delay of the application's
retry policy, and the first one after the restart reaches the call. Those delivered just before
the kill and posted again are repeats, which the workflow ignores by event id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Call, ConversationTurn
from simulator.call_script import CallScript
from tests.conftest import Stack, running_stack
from tests.test_long_calls import agent_lines
from tests.test_phone_call import GREETING, fake_reply, finished_workflow
from tests.waiting import eventually

# The application's retry policy at Telnyx: five redeliveries over 31 s, room for the API to start again.
WEBHOOK_RETRIES_MS = [1000, 2000, 4000, 8000, 16000]


@pytest.fixture(scope="module")
def restart_stack(temporal, database_url, fake_llm, tmp_path_factory) -> Iterator[Stack]:
    with running_stack(
        temporal, database_url, fake_llm, tmp_path_factory.mktemp("logs"), name="apirestart", llm=True
    ) as the_stack:
        the_stack.simulator.simulator.set_webhook_retries(WEBHOOK_RETRIES_MS)
        yield the_stack


async def test_the_api_killed_mid_call_and_started_again_the_redelivered_webhooks_carry_the_call_on(restart_stack):
    stack = restart_stack
    lines = ["Do you do fillings?", "And how long does one take?", "Great, thank you."]
    call = stack.simulator.place_call(CallScript(from_number="+15555550197", lines=lines, max_call_seconds=120))
    try:
        first_answer = fake_reply(lines[0])[-1]
        await eventually(lambda: agent_lines(call), lambda said: first_answer in said, timeout=60, what="a reply")
        stack.api.kill()
        # The caller goes on talking to a line whose webhooks now reach nobody.
        await eventually(
            lambda: [d for d in call.deliveries if d.status_code is None],
            bool,
            timeout=30,
            what="a webhook posted to the dead API",
        )
        stack.api.start()
        await stack.simulator.wait_ended(call, 120)
    finally:
        if not stack.api.running():
            stack.api.start()

    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == len(lines)
    assert agent_lines(call) == [GREETING, *(sentence for line in lines for sentence in fake_reply(line))]
    refused = {d.event_id for d in call.deliveries if d.status_code is None}
    delivered_later = {d.event_id for d in call.deliveries if d.status_code == 200 and d.attempt > 1}
    assert refused and refused <= delivered_later, "every webhook the dead API missed was redelivered and taken"

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
