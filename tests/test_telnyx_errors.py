"""Telnyx answering 5xx to 30 % of a call's commands: retried with the same command_id, nothing is said twice."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Call, ConversationTurn
from simulator.call_script import CallScript, Misbehaviour
from tests.test_long_calls import agent_lines
from tests.test_phone_call import GREETING, fake_reply, finished_workflow


@pytest.mark.parametrize("seed", [1, 3])
async def test_a_third_of_the_commands_failing_the_caller_hears_every_reply_once(stack, seed):
    lines = ["Do you see children?", "What does a check-up cost?", "Can I pay by card?", "Thank you, bye"]
    script = CallScript(
        from_number=f"+1555555017{seed}",
        lines=lines,
        max_call_seconds=120,
        # A person gives a reply a second and a half of silence before taking it as finished: a sentence
        # sent again after a 5xx leaves a gap of about half a second.
        caller_pause_seconds=1.5,
        misbehaviour=Misbehaviour(command_error_rate=0.3, command_error_seed=seed),
    )
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, 120)
    summary = await finished_workflow(stack, call)

    assert summary.caller_turns == len(lines)
    assert agent_lines(call) == [GREETING, *(sentence for line in lines for sentence in fake_reply(line))], (
        "every sentence heard once, in order"
    )
    failed = [c for c in call.commands if c.status_code == 500]
    # A 500 whose command had taken effect: the retry with its command_id was a duplicate, and ignored.
    acted_then_failed = {c.command_id for c in failed} & {c.command_id for c in call.commands if c.duplicate}
    assert len(failed) >= 0.15 * len(call.commands), "Telnyx failed a share of the commands"
    assert acted_then_failed, "some failed commands had taken effect: their retries were ignored by command_id"
    assert call.hangup_source == "caller"

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
