"""Speculative replies and fillers through the real stack: simulator -> API -> Temporal -> worker -> simulator.

The callers here speak as Telnyx's Deepgram hears people: interim transcripts while they talk, and
the final one only after the endpointing silence the app asked for (`endpointing`), so the
workflow has an interim that stays the same long enough to start a reply on.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from business.listening import DEFAULT_FILLER
from database.engine import get_engine
from database.models import CallMetrics, ConversationTurn
from simulator.call_script import CallerLine, CallScript
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.businesses import patient_business
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

# A caller who talks at a phone's pace: an interim every 0.1 s, then Deepgram's 0.7 s of silence.
TALKING = {"endpointing": True, "interim_spacing_seconds": 0.1}


def requests_about(stack, words: str) -> list:
    """The fake LLM's requests whose last caller message was `words`."""
    found = []
    for request in stack.fake_llm.fake.requests:
        users = [m.get("content") for m in request.messages or [] if m.get("role") == "user"]
        if users and users[-1] == words:
            found.append(request)
    return found


def call_metrics(stack, call) -> CallMetrics:
    with Session(get_engine(stack.database_url)) as session:
        metrics = session.get(CallMetrics, call.call_control_id)
        assert metrics is not None
        session.expunge(metrics)
        return metrics


def agent_turns(stack, call) -> list[str]:
    with Session(get_engine(stack.database_url)) as session:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == "agent")
            .order_by(ConversationTurn.turn_index)
        ).all()
        return [t.text for t in turns]


def local_activity_name(event) -> str | None:
    """The activity a local activity's marker records, if the event is one."""
    if not event.HasField("marker_recorded_event_attributes"):
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != "core_local_activity" or "data" not in marker.details:
        return None
    payloads = marker.details["data"].payloads
    return json.loads(payloads[0].data).get("activity_type") if payloads else None


async def activity_order(stack, call) -> list[str]:
    """The call's history as activity names and the caller's final transcripts, in order."""
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    order = []
    async for event in handle.fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            order.append(event.activity_task_scheduled_event_attributes.activity_type.name)
        elif name := local_activity_name(event):
            order.append(name)  # a Telnyx command (workflows/call_channel.py: TELNYX_COMMANDS_LOCAL_PATCH)
        elif event.HasField("workflow_execution_signaled_event_attributes"):
            payloads = event.workflow_execution_signaled_event_attributes.input.payloads
            data = json.loads(payloads[0].data) if payloads else {}
            for webhook in data if isinstance(data, list) else [data]:  # one event, or several sent together
                if webhook.get("event_type") == "call.transcription":
                    order.append("final transcript" if webhook.get("is_final") else "interim transcript")
    return order


async def test_a_final_transcript_that_says_the_same_words_adopts_the_speculative_reply(stack):
    interim = "Um, do you do teeth whitening"
    final = "Do you do teeth whitening?"  # punctuation, a capital and a hesitation apart: the same words
    call = stack.simulator.place_call(CallScript(lines=[CallerLine(text=interim, final_text=final)], **TALKING))
    await stack.simulator.wait_ended(call, 60)
    summary = await finished_workflow(stack, call)

    assert summary.caller_turns == 1
    # The reply generated on the interim words is the one the caller heard, once; nothing asked the LLM again.
    assert spoken(call) == [GREETING, *fake_reply(interim)]
    assert len(requests_about(stack, interim)) == 1
    assert requests_about(stack, final) == []
    assert agent_turns(stack, call) == [" ".join(fake_reply(interim))]
    metrics = call_metrics(stack, call)
    assert (metrics.llm_requests, metrics.speculative_requests, metrics.speculations_adopted) == (1, 1, 1)
    # The business's endpointing went to Telnyx, and the simulated engine waited that long for the final.
    (transcribe,) = [c for c in call.commands if c.action == "start_transcription"]
    assert transcribe.body["transcription_engine_config"]["utterance_end_ms"] == 700
    assert metrics.longest_silence_ms is not None and metrics.longest_silence_ms > 0


async def test_a_worker_without_an_llm_speculates_nothing_and_the_offline_responder_answers(offline_stack):
    words = "What are your opening hours"
    call = offline_stack.simulator.place_call(CallScript(lines=[CallerLine(text=words)], **TALKING))
    await offline_stack.simulator.wait_ended(call, 60)
    summary = await finished_workflow(offline_stack, call)

    assert summary.caller_turns == 1
    assert any(sentence.startswith("Our hours are") for sentence in spoken(call)), spoken(call)
    # Each speculation ends at once with nothing prepared, neither failing nor retried (each failure was an
    # activity retried on every turn), and nothing counts as an LLM request.
    handle = offline_stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    failed = [e async for e in handle.fetch_history_events() if e.HasField("activity_task_failed_event_attributes")]
    assert failed == []
    assert "speculate_reply" in await activity_order(offline_stack, call)
    metrics = call_metrics(offline_stack, call)
    assert (metrics.llm_requests, metrics.speculative_requests, metrics.speculations_adopted) == (0, 0, 0)


async def test_a_final_transcript_with_other_words_cancels_the_speculation_and_nothing_stale_is_spoken(stack):
    interim = "Can I come in on Tuesday"
    final = "Can I come in on Thursday"  # the engine changed its mind on the last word
    call = stack.simulator.place_call(CallScript(lines=[CallerLine(text=interim, final_text=final)], **TALKING))
    await stack.simulator.wait_ended(call, 60)
    summary = await finished_workflow(stack, call)

    assert summary.caller_turns == 1
    assert len(requests_about(stack, interim)) == 1, "the reply was speculated on the interim words"
    assert spoken(call) == [GREETING, *fake_reply(final)]
    assert not any("Tuesday" in sentence for sentence in spoken(call))
    metrics = call_metrics(stack, call)
    # On a loaded machine an earlier interim may stay the newest long enough to be speculated on too.
    assert metrics.speculations_adopted == 0 and metrics.speculative_requests >= 1
    assert metrics.llm_requests == metrics.speculative_requests + 1, "the final words were asked of the LLM anew"


async def test_a_speculative_reply_that_wants_a_tool_stops_and_the_tool_runs_only_on_the_final_words(stack):
    fake = stack.fake_llm.fake
    rule = FakeReplyRule(
        contains="free times for a cleaning",
        tool_call=FakeToolCall(name="check_availability", arguments={"service": "Cleaning"}),
    )
    fake.set_behaviour(fake.behaviour.model_copy(update={"rules": [rule]}))
    line = "What are your free times for a cleaning"
    try:
        call = stack.simulator.place_call(CallScript(lines=[line], **TALKING))
        await stack.simulator.wait_ended(call, 60)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    await finished_workflow(stack, call)

    order = await activity_order(stack, call)
    final_at = order.index("final transcript")
    assert "speculate_reply" in order[:final_at], "the stable interim was speculated on"
    assert "find_free_times" not in order[:final_at], "no tool runs on words the caller had not finished"
    assert order.count("find_free_times") == 1
    said = spoken(call)
    assert said[0] == GREETING and len(said) > 1 and said[-1].startswith("Done:")
    assert call_metrics(stack, call).speculations_adopted == 0


async def test_no_speculation_starts_while_a_turn_runs(stack):
    """Words heard while a turn still runs (its reply, its tools: they run inside the turn) wait for it: a
    speculation then would answer without the turn's reply and tool results, and the caller would hear two
    answers about the same thing."""
    patient = patient_business(stack)
    fake = stack.fake_llm.fake
    # The reply streams slowly: the caller talks over its first sentence while its second is generated.
    fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 80}))
    lines = [
        CallerLine(text="When is your earliest cleaning"),
        CallerLine(text="Actually make that a checkup please", barge_in=True, barge_in_after_seconds=0.0),
    ]
    try:
        call = stack.simulator.place_call(CallScript(to_number=patient.phone_number, lines=lines, **TALKING))
        await stack.simulator.wait_ended(call, 60)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"chunk_delay_ms": 0}))
    await finished_workflow(stack, call)

    order = await activity_order(stack, call)
    first_final = order.index("final transcript")
    # The turn ends when the reply the caller talked over is stopped.
    turn_one = order[first_final : order.index("stop_speaking", first_final)]
    assert "interim transcript" in turn_one, "the caller talked while the turn ran"
    assert "speculate_reply" not in turn_one
    assert spoken(call)[-2:] == fake_reply(lines[1].text), "the words said over the turn are answered after it"


async def test_a_worker_killed_mid_speculation_still_gives_the_turn_exactly_one_reply(stack):
    patient = patient_business(stack)
    fake = stack.fake_llm.fake
    fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 1500}))
    line = "Could you tell me if you take new patients"
    try:
        call = stack.simulator.place_call(
            CallScript(
                to_number=patient.phone_number, lines=[line], max_call_seconds=120, caller_pause_seconds=20, **TALKING
            )
        )
        await eventually(lambda: requests_about(stack, line), bool, timeout=60, what="speculation started")
        stack.worker.kill()  # the speculative reply's LLM request is in flight
        stack.worker.start()
        await stack.simulator.wait_ended(call, 120)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 0}))
        stack.ensure_worker()

    summary = await finished_workflow(stack, call)
    assert summary.caller_turns == 1
    greeting = f"Thank you for calling {patient.name}. How can I help you today?"
    assert spoken(call) == [greeting, *fake_reply(line)], "one reply, each sentence once"
    assert agent_turns(stack, call) == [" ".join(fake_reply(line))]


async def test_a_slow_reply_is_preceded_by_one_filler(stack):
    fake = stack.fake_llm.fake
    # Slower than the filler's 1.2 s, within the first-sentence timeout.
    fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 1700}))
    line = "Do you have parking near the office"
    try:
        # A caller who, having heard the filler, waits for the answer rather than take it as the end.
        call = stack.simulator.place_call(CallScript(lines=[line], caller_pause_seconds=2.5))
        await stack.simulator.wait_ended(call, 60)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 0}))
    await finished_workflow(stack, call)

    assert spoken(call) == [GREETING, DEFAULT_FILLER, *fake_reply(line)]
    assert call_metrics(stack, call).fillers == 1


async def test_a_filler_stops_when_the_caller_talks_over_it(stack):
    fake = stack.fake_llm.fake
    fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 1900}))
    lines = [
        CallerLine(text="Is there a dentist who speaks Spanish"),
        CallerLine(text="Sorry, I meant Portuguese", barge_in=True, barge_in_after_seconds=0.0),
    ]
    try:
        # Slow speech: the filler is still playing when the caller talks over it.
        call = stack.simulator.place_call(
            CallScript(lines=lines, speech_seconds_per_char=0.05, caller_pause_seconds=2.5)
        )
        await eventually(lambda: spoken(call), lambda said: DEFAULT_FILLER in said, timeout=30, what="the filler")
        fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 0}))
        await stack.simulator.wait_ended(call, 60)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"first_token_delay_ms": 0}))
    await finished_workflow(stack, call)

    said = spoken(call)
    assert said == [GREETING, DEFAULT_FILLER, *fake_reply(lines[1].text)], "the first line's slow reply was dropped"
    actions = [c.action for c in call.commands if not c.duplicate]
    filler_at = next(i for i, c in enumerate(call.commands) if c.body.get("payload") == DEFAULT_FILLER)
    assert "stop_playback" in actions[filler_at:], "the filler was cut off"
    filler_line = next(line for line in call.conversation if line.text == DEFAULT_FILLER)
    assert filler_line.interrupted
