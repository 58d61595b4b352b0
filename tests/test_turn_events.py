"""What a caller turn costs the call's history: events that change nothing do not become signals or timers.

Through the real stack (simulator -> API -> Temporal -> worker -> simulator): a caller whose words
come as a burst of growing interim transcripts, then the final one after the endpointing silence.
"""

from __future__ import annotations

import json

import pytest
from temporalio.api.enums.v1 import EventType

from simulator.call_script import CallScript
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.test_speculation import call_metrics
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database


async def history(stack, call) -> list:
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
    return [event async for event in handle.fetch_history_events()]


def transcript_of(event) -> dict:
    if not event.HasField("workflow_execution_signaled_event_attributes"):
        return {}
    payloads = event.workflow_execution_signaled_event_attributes.input.payloads
    data = json.loads(payloads[0].data) if payloads else {}
    return data if data.get("event_type") == "call.transcription" else {}


async def test_a_burst_of_interims_reaches_the_call_as_its_first_and_newest_words_with_no_timer_each(stack):
    line = "Could you tell me whether you have a cleaning appointment next week"
    # Three growing interims 20 ms apart, then Deepgram's 0.7 s of silence before the final.
    call = stack.simulator.place_call(CallScript(lines=[line], endpointing=True, interim_spacing_seconds=0.02))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    events = await history(stack, call)
    heard = [(i, transcript_of(e)) for i, e in enumerate(events) if transcript_of(e)]
    interims = [(i, t["transcript"]) for i, t in heard if not t["is_final"]]
    final_at = next(i for i, t in heard if t["is_final"])
    # The first (a barge-in, the start of a speculation) at once; of the two after it, only the newest.
    assert [words for _, words in interims] == [" ".join(line.split()[:4]), line]
    between = events[interims[0][0] : final_at]
    assert not [e for e in between if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED], (
        "waking for the caller's words starts no timer of its own"
    )
    # The speculation followed the caller to their newest words, and its reply was the one spoken.
    assert spoken(call) == [GREETING, *fake_reply(line)]
    assert call_metrics(stack, call).speculations_adopted == 1
