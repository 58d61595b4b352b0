"""Whole calls through the real path: simulator -> API -> Temporal -> worker -> simulator."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Call, CallMetrics, ConversationTurn
from simulator.call_script import CallerLine, CallScript, Misbehaviour
from simulator.fake_openai.behaviour import FakeReplyRule
from tests.waiting import eventually
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

GREETING = "Thank you for calling Bright Smile Dental. How can I help you today?"


def fake_reply(line: str) -> list[str]:
    """What the fake LLM answers to a caller line, sentence by sentence."""
    return [f"Thanks for asking about {line.rstrip('.?!')}.", "I can help you with that."]


def spoken(call) -> list[str]:
    """The sentences the simulator actually played to the caller, in order."""
    return [
        c.body["payload"] for c in call.commands if c.action == "speak" and not c.duplicate and c.status_code == 200
    ]


async def place(stack, script: CallScript, timeout: float = 60):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, timeout)
    return call


async def finished_workflow(stack, call):
    handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call.call_control_id))
    return await handle.result()


async def test_a_call_is_answered_greeted_replied_to_and_recorded(stack):
    lines = ["What are your opening hours?", "Do you do whitening?"]
    call = await place(stack, CallScript(lines=lines))

    summary = await finished_workflow(stack, call)
    assert summary.status == "ended"
    assert summary.caller_turns == 2

    expected = [GREETING, *fake_reply(lines[0]), *fake_reply(lines[1])]
    assert spoken(call) == expected
    actions = [c.action for c in call.commands if not c.duplicate]
    assert actions[0] == "answer"
    assert set(actions[1:3]) == {"speak", "start_transcription"}
    assert all(c.body.get("command_id") for c in call.commands), "every command carries a command_id"

    with Session(get_engine(stack.database_url)) as session:
        record = session.get(Call, call.call_control_id)
        assert record.status == "ended"
        assert record.caller_number == "+15555550142"
        assert record.hangup_cause == "normal_clearing"
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call.call_control_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.speaker.desc())
        ).all()
        assert [(t.turn_index, t.speaker, t.text) for t in turns] == [
            (1, "caller", lines[0]),
            (1, "agent", " ".join(fake_reply(lines[0]))),
            (2, "caller", lines[1]),
            (2, "agent", " ".join(fake_reply(lines[1]))),
        ]
        assert all(t.reply_latency_ms is not None and t.reply_latency_ms > 0 for t in turns if t.speaker == "agent")
        metrics = session.get(CallMetrics, call.call_control_id)
        assert metrics.caller_turns == 2
        assert metrics.duration_seconds > 0


async def test_the_llm_sees_the_business_and_the_conversation_so_far(stack):
    stack.fake_llm.fake.clear_requests()
    lines = ["Hi there", "And on Saturday?"]
    call = await place(stack, CallScript(lines=lines))
    await finished_workflow(stack, call)
    requests = [r for r in stack.fake_llm.fake.requests if r.stream]
    second = requests[-1].messages
    assert "Bright Smile Dental" in second[0]["content"] and "Cleaning" in second[0]["content"]
    assert [m["role"] for m in second[1:]] == ["assistant", "user", "assistant", "user"]
    assert second[-1]["content"] == "And on Saturday?"


async def test_barge_in_stops_the_agent_and_the_interruption_is_answered(stack):
    stack.fake_llm.fake.set_behaviour(
        stack.fake_llm.fake.behaviour.model_copy(
            update={
                "rules": [
                    FakeReplyRule(
                        contains="tell me everything",
                        # Fifteen sentences, about eighteen seconds at this call's pace: long
                        # enough to be talked over however slowly a busy machine reacts.
                        reply=" ".join(
                            f"Here is fact number {n} about our practice and its services." for n in range(1, 16)
                        ),
                    )
                ]
            }
        )
    )
    try:
        script = CallScript(
            lines=[
                CallerLine(text="Tell me everything about you"),
                CallerLine(text="Sorry, just the price of a cleaning", barge_in=True, barge_in_after_seconds=0.05),
            ],
            speech_seconds_per_char=0.02,
        )
        call = await place(stack, script)
    finally:
        stack.fake_llm.fake.set_behaviour(stack.fake_llm.fake.behaviour.model_copy(update={"rules": []}))
    await finished_workflow(stack, call)
    actions = [c.action for c in call.commands if not c.duplicate]
    assert "stop_playback" in actions
    assert any(line.interrupted for line in call.conversation if line.speaker == "agent")
    assert spoken(call)[-2:] == fake_reply("Sorry, just the price of a cleaning")


async def test_duplicate_and_reordered_webhooks_change_nothing(stack):
    lines = ["What are your opening hours?"]
    script = CallScript(lines=lines, misbehaviour=Misbehaviour(duplicate_events=True, late_events_after_hangup=True))
    call = await place(stack, script)
    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == 1
    assert spoken(call) == [GREETING, *fake_reply(lines[0])]
    assert len({d.event_id for d in call.deliveries}) < len(call.deliveries), "events really were delivered twice"


async def test_telnyx_5xx_on_a_command_is_retried_and_takes_effect_once(stack):
    script = CallScript(lines=["Do you do checkups?"], misbehaviour=Misbehaviour(fail_commands=2))
    call = await place(stack, script)
    await finished_workflow(stack, call)
    assert [c.status_code for c in call.commands[:2]] == [500, 500]
    answers = [c for c in call.commands if c.action == "answer" and c.status_code == 200 and not c.duplicate]
    assert len(answers) == 1
    assert spoken(call) == [GREETING, *fake_reply("Do you do checkups?")]


async def test_live_state_and_search_attributes_of_an_in_flight_call(stack):
    stack.fake_llm.fake.set_behaviour(stack.fake_llm.fake.behaviour.model_copy(update={"first_token_delay_ms": 1500}))
    try:
        call = stack.simulator.place_call(CallScript(lines=["Can I book a cleaning?"]))
        handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call.call_control_id))
        state = await eventually(
            lambda: handle.query(CallWorkflow.state), lambda s: s.caller_turns == 1, what="first turn"
        )
        assert state.business_name == "Bright Smile Dental"
        assert state.caller_number == "+15555550142"
        assert state.status == "in_progress"
        query = "CloudGreetCaller = '+15555550142' AND CloudGreetCallStatus = 'in_progress'"

        async def listed() -> list[str]:
            return [w.id async for w in stack.temporal_client.list_workflows(query)]

        # Visibility is eventually consistent: wait for the listing to catch up.
        await eventually(listed, lambda ids: call_workflow_id(call.call_control_id) in ids, what="listed by caller")
    finally:
        stack.fake_llm.fake.set_behaviour(stack.fake_llm.fake.behaviour.model_copy(update={"first_token_delay_ms": 0}))
    await stack.simulator.wait_ended(call, 60)
