"""What a caller turn costs the call's history: events that change nothing do not become signals or timers.

Through the real stack (simulator -> API -> Temporal -> worker -> simulator): a caller whose words
come as a burst of growing interim transcripts, then the final one after the endpointing silence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from temporalio.api.enums.v1 import EventType

from simulator.call_script import CallerLine, CallScript
from simulator.fake_openai.behaviour import FakeReplyRule
from simulator.telnyx.caller import interim_prefixes
from tests.conftest import Stack, running_stack
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.test_speculation import call_metrics
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database


async def history(stack, call) -> list:
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    return [event async for event in handle.fetch_history_events()]


def webhooks_of(event) -> list[dict]:
    """The Telnyx events a signal carried: one (`telnyx_event`), or several sent together (`telnyx_events`)."""
    if not event.HasField("workflow_execution_signaled_event_attributes"):
        return []
    payloads = event.workflow_execution_signaled_event_attributes.input.payloads
    data = json.loads(payloads[0].data) if payloads else {}
    return data if isinstance(data, list) else [data]


def transcript_of(event) -> dict:
    return next((data for data in webhooks_of(event) if data.get("event_type") == "call.transcription"), {})


async def test_a_burst_of_interims_in_a_quiet_line_reaches_the_call_as_its_newest_words_with_no_timer(stack):
    line = "Could you tell me whether you have a cleaning appointment next week"
    # Three growing interims 20 ms apart, then Deepgram's 0.7 s of silence before the final.
    call = stack.simulator.place_call(CallScript(lines=[line], endpointing=True, interim_spacing_seconds=0.02))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    events = await history(stack, call)
    heard = [(i, transcript_of(e)) for i, e in enumerate(events) if transcript_of(e)]
    interims = [(i, t["transcript"]) for i, t in heard if not t["is_final"]]
    final_at = next(i for i, t in heard if t["is_final"])
    # The greeting had ended: nothing to barge in on, so of the burst only the newest words, once stable.
    assert [words for _, words in interims] == [line]
    between = events[interims[0][0] : final_at]
    assert not [e for e in between if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED], (
        "waking for the caller's words starts no timer of its own"
    )
    # The speculation followed the caller to their newest words, and its reply was the one spoken.
    assert spoken(call) == [GREETING, *fake_reply(line)]
    assert call_metrics(stack, call).speculations_adopted == 1


async def test_words_the_final_transcript_follows_at_once_cost_the_call_no_interim_signal(stack):
    line = "Do you take new patients this month"
    call = stack.simulator.place_call(CallScript(lines=[line], interim_spacing_seconds=0.02))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    heard = [transcript_of(e) for e in await history(stack, call) if transcript_of(e)]
    assert [t["transcript"] for t in heard] == [line] and heard[0]["is_final"]
    assert spoken(call) == [GREETING, *fake_reply(line)]


async def test_words_said_over_the_agent_reach_the_call_at_their_first_interim(stack):
    long_reply = " ".join(f"Here is fact number {n} about our practice." for n in range(1, 11))
    fake = stack.fake_llm.fake
    fake.set_behaviour(
        fake.behaviour.model_copy(update={"rules": [FakeReplyRule(contains="everything", reply=long_reply)]})
    )
    interruption = "Sorry, just the price of a cleaning"
    try:
        script = CallScript(
            lines=[
                CallerLine(text="Tell me everything"),
                CallerLine(text=interruption, barge_in=True, barge_in_after_seconds=0.3),
            ],
            speech_seconds_per_char=0.02,
            endpointing=True,
            interim_spacing_seconds=0.02,
        )
        call = stack.simulator.place_call(script)
        await stack.simulator.wait_ended(call, 60)
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    await finished_workflow(stack, call)

    heard = [transcript_of(e) for e in await history(stack, call) if transcript_of(e)]
    said_over = [t for t in heard if interruption.startswith(t["transcript"].rstrip(".?"))]
    # Its first words, as they came (a barge-in is not held), then the final: the agent stopped at once.
    assert said_over[0]["transcript"] == interim_prefixes(interruption.split())[0] and not said_over[0]["is_final"]
    assert said_over[-1]["is_final"]
    assert "stop_playback" in [c.action for c in call.commands if not c.duplicate]
    assert spoken(call)[-2:] == fake_reply(interruption)


@pytest.fixture(scope="module")
def holding_stack(temporal, database_url, fake_llm, tmp_path_factory) -> Iterator[Stack]:
    """The phone path with HOLD_PLAYBACK_EVENTS on (off by default: a held event is acknowledged already)."""
    with running_stack(
        temporal,
        database_url,
        fake_llm,
        tmp_path_factory.mktemp("logs"),
        name="holding",
        llm=True,
        # Replies that follow their own playback send the call none of their speech events: here they do.
        extra_env={"HOLD_PLAYBACK_EVENTS": "true", "API_INTERNAL_URL": ""},
    ) as the_stack:
        yield the_stack


async def test_the_end_of_a_sentence_and_the_start_of_the_next_reach_the_call_in_one_signal(holding_stack):
    stack = holding_stack
    line = "Do you do whitening"
    call = stack.simulator.place_call(CallScript(lines=[line]))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    signals = [[data.get("event_type") for data in webhooks_of(e)] for e in await history(stack, call)]
    playback = [kinds for kinds in signals if any(k and k.startswith("call.speak.") for k in kinds)]
    # The reply's two sentences: the first one's start alone (the filler watch waits for it), its end
    # together with the second one's start, which Telnyx sends a moment after it.
    assert ["call.speak.ended", "call.speak.started"] in playback
    heard = [k for kinds in playback for k in kinds]
    assert heard.count("call.speak.started") == heard.count("call.speak.ended") == len(spoken(call)), (
        "every sentence's start and end reached the call, none twice"
    )
    assert spoken(call) == [GREETING, *fake_reply(line)]
