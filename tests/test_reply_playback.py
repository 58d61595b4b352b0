"""Replies that follow their own playback: the reply hears its speech, the call is spared a signal per event.

The API's windows (api/reply_windows.py) on their own, the worker's endpoint as a stranger finds
it, and a call through the real stack (simulator -> API -> Temporal -> worker -> simulator).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType

from api.reply_windows import ReplyWindows
from runtime.reply_playback_token import reply_playback_token
from simulator.call_script import CallScript
from tests.in_process import SECRET_KEY
from tests.test_phone_call import GREETING, fake_reply, finished_workflow, spoken
from tests.test_turn_events import history, webhooks_of
from workflows.call_messages import CallEvent, TransferLeg

CALL = "v3:caller"
REPLY = "turn-1/round-0/llm"


def event(kind: str, call: str = CALL, leg: TransferLeg | None = None, at: float = 100.0) -> CallEvent:
    return CallEvent(event_id=f"{kind}-{id(object())}", event_type=kind, call_control_id=call, received_at=at, leg=leg)


async def test_a_window_counts_the_speech_of_its_call_and_lets_everything_else_through():
    windows = ReplyWindows()
    assert not windows.absorb(event("call.speak.started")), "no window: the call hears its speech as before"
    opened = await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    assert opened.open and opened.started == opened.ended == 0
    assert windows.absorb(event("call.speak.started", at=101.5))
    assert windows.absorb(event("call.speak.ended"))
    leg = TransferLeg(parent_call_control_id=CALL, escalation=1, attempt=1)
    assert not windows.absorb(event("call.speak.started", call="v3:leg", leg=leg))
    assert not windows.absorb(event("call.speak.started", call="v3:another"))
    count = await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=True)
    assert (count.started, count.ended, count.first_started_at, count.open) == (1, 1, 101.5, False)
    assert not windows.absorb(event("call.speak.ended")), "closed: the call hears its speech again"


async def test_the_caller_talking_or_pressing_a_key_gives_the_rest_of_the_speech_back_to_the_call():
    for kind in ("call.transcription", "call.dtmf.received"):
        windows = ReplyWindows()
        await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
        windows.absorb(event("call.speak.started"))
        waiting = asyncio.create_task(windows.follow(CALL, REPLY, sentences=2, wait_seconds=5, close=False))
        await asyncio.sleep(0.01)
        assert not windows.absorb(event(kind)), "the caller's words and keys are the call's"
        count = await asyncio.wait_for(waiting, 1)
        assert (count.started, count.ended, count.open) == (1, 0, False), "what was counted, and closed"
        assert not windows.absorb(event("call.speak.ended")), "the stopped sentence's end reaches the call"


async def test_a_reply_waits_until_each_sentence_it_sent_has_ended_and_the_window_closes_itself():
    windows = ReplyWindows()
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    waiting = asyncio.create_task(windows.follow(CALL, REPLY, sentences=2, wait_seconds=5, close=False))
    for kind in ("call.speak.started", "call.speak.ended", "call.speak.started"):
        windows.absorb(event(kind))
        await asyncio.sleep(0.01)
        assert not waiting.done(), "a sentence still plays"
    assert windows.absorb(event("call.speak.ended"))
    count = await asyncio.wait_for(waiting, 1)
    assert (count.started, count.ended, count.open) == (2, 2, False)
    assert not windows.absorb(event("call.speak.started")), "the next speech (a hold message, say) is the call's"
    late = await asyncio.wait_for(windows.follow(CALL, REPLY, sentences=2, wait_seconds=5, close=False), 1)
    assert (late.started, late.ended, late.open, late.known) == (2, 2, False, True), (
        "a reply asking after its speech ended learns what was counted, and opens nothing"
    )
    assert not windows.absorb(event("call.speak.ended"))
    unknown = await windows.follow("v3:elsewhere", REPLY, sentences=2, wait_seconds=0, close=False)
    assert (unknown.open, unknown.known) == (False, False), "a window never opened here: its counts are unknown"


async def test_a_reply_that_opens_its_closed_window_again_keeps_what_it_counted():
    windows = ReplyWindows(ttl_seconds=0.05)
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    windows.absorb(event("call.speak.started"))
    windows.absorb(event("call.speak.ended"))
    await asyncio.sleep(0.1)  # its worker died after the first sentence: the window closed
    again = await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    assert (again.started, again.ended, again.open) == (1, 1, True), "the retry's window starts from the first's"
    assert windows.absorb(event("call.speak.started")), "the retry's own sentence is counted in it"
    assert windows.absorb(event("call.speak.ended"))
    heard = await windows.follow(CALL, REPLY, sentences=2, wait_seconds=0, close=False)
    assert (heard.started, heard.ended, heard.open) == (2, 2, False), "both sentences the reply announced ended"

    newer = await windows.follow(
        CALL, "turn-2/round-0/llm", sentences=None, wait_seconds=0, close=False, open_window=True
    )
    assert (newer.started, newer.ended) == (0, 0), "another reply's window counts only its own speech"


async def test_a_wait_ends_at_its_limit_with_what_was_counted():
    windows = ReplyWindows()
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    windows.absorb(event("call.speak.started"))
    count = await windows.follow(CALL, REPLY, sentences=3, wait_seconds=0.05, close=False)
    assert (count.started, count.ended, count.open) == (1, 0, True)


async def test_a_window_whose_reply_is_gone_closes_and_a_hang_up_or_a_newer_reply_ends_one():
    windows = ReplyWindows(ttl_seconds=0.05)
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    await asyncio.sleep(0.1)
    assert not windows.absorb(event("call.speak.started")), "a worker that died does not silence the call"

    windows = ReplyWindows()
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    windows.absorb(event("call.speak.started"))
    newer = await windows.follow(
        CALL, "turn-2/round-0/llm", sentences=None, wait_seconds=0, close=False, open_window=True
    )
    assert (newer.started, newer.ended) == (0, 0), "a newer reply counts its own speech"
    assert not windows.absorb(event("call.hangup"))
    assert not windows.absorb(event("call.speak.ended"))


@pytest.mark.database
async def test_a_stranger_cannot_follow_a_calls_playback(stack):
    url = f"{stack.api_url}/api/internal/calls/{CALL}/reply-playback"
    body = {"reply": REPLY}
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(url, json=body)).status_code == 401
        guessed = {"Authorization": "Bearer " + "0" * 43}
        assert (await http.post(url, json=body, headers=guessed)).status_code == 401
        worker = {"Authorization": f"Bearer {reply_playback_token(SecretStr(SECRET_KEY))}"}
        refused = await http.post(url, json={**body, "wait_seconds": 60}, headers=worker)
        assert refused.status_code == 422, "a wait of a minute would hold the API's connection"
        never_opened = (await http.post(url, json=body, headers=worker)).json()
        assert (never_opened["open"], never_opened["known"]) == (False, False), "only the reply opens its window"
        assert (await http.post(url, json={**body, "open": True}, headers=worker)).json()["open"] is True
        closed = await http.post(url, json={**body, "close": True}, headers=worker)
        assert closed.json() == {"open": False, "known": True, "started": 0, "ended": 0, "first_started_at": None}


async def test_the_callers_words_bring_the_count_of_the_window_they_closed_and_only_a_closed_one():
    windows = ReplyWindows()
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    assert windows.brought(CALL) is None, "an open window's count is not final: nothing to bring yet"
    windows.absorb(event("call.speak.started", at=101.5))
    await windows.follow(CALL, REPLY, sentences=3, wait_seconds=0, close=False)
    windows.absorb(event("call.speak.ended"))
    windows.absorb(event("call.speak.started"))
    assert not windows.absorb(event("call.transcription")), "the caller's words are the call's"
    brought = windows.brought(CALL)
    assert brought is not None
    assert (brought.reply, brought.started, brought.ended, brought.first_started_at) == (REPLY, 2, 1, 101.5), (
        "two sentences began and one ended before the caller talked: the agent still speaks"
    )
    assert not windows.absorb(event("call.speak.ended")), "the rest of the speech reaches the call as signals"
    assert windows.brought(CALL) == brought, "and is not counted twice"
    await windows.follow(CALL, "turn-2/round-0/llm", sentences=None, wait_seconds=0, close=False, open_window=True)
    assert windows.brought(CALL) == brought, "a newer reply's open window brings nothing of its own yet"
    assert windows.brought("v3:another") is None


async def test_a_window_stays_open_while_its_speech_plays_however_long_after_its_reply_finished():
    windows = ReplyWindows(ttl_seconds=0.2)
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    await windows.follow(CALL, REPLY, sentences=3, wait_seconds=0, close=False)
    for kind in ("call.speak.started", "call.speak.ended") * 2:
        await asyncio.sleep(0.12)
        assert windows.absorb(event(kind)), "each sentence's start and end keeps the window of a finished reply"
    await asyncio.sleep(0.3)
    assert not windows.absorb(event("call.speak.started")), "a line that stays quiet that long closes it"
    brought = windows.brought(CALL)
    assert brought is not None and (brought.started, brought.ended) == (2, 2)

    windows = ReplyWindows(ttl_seconds=0.2)
    await windows.follow(CALL, REPLY, sentences=None, wait_seconds=0, close=False, open_window=True)
    await asyncio.sleep(0.12)
    assert windows.absorb(event("call.speak.started"))
    await asyncio.sleep(0.12)
    assert not windows.absorb(event("call.speak.ended")), (
        "a reply that never said how many it sent (it failed for good) keeps its window only as long as it asks"
    )


def scheduled_activities(events: list) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


@pytest.mark.database
async def test_a_turns_reply_is_heard_with_the_callers_next_words_not_by_speech_events_or_an_activity(stack):
    first, second = "Do you do whitening", "And how long does it take"
    call = stack.simulator.place_call(CallScript(lines=[first, second]))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    events = await history(stack, call)
    webhooks = [data for e in events for data in webhooks_of(e)]
    finals = [data for data in webhooks if data.get("is_final") and data.get("transcript")]
    first_final = webhooks.index(finals[0])
    assert not [d for d in webhooks[first_final:] if str(d.get("event_type")).startswith("call.speak.")], (
        "the replies' sentences started and ended without a signal"
    )
    assert "hear_reply" not in scheduled_activities(events), "no activity waits for a reply's speech to end"
    brought = finals[1]["reply_playback"]
    assert (brought["reply"], brought["started"], brought["ended"]) == ("turn-1/round-0/llm", 2, 2), (
        "the caller's next words brought what the API counted: both sentences of the first reply were heard"
    )
    reply_began = [line.at for line in call.conversation if line.speaker == "agent"][1]
    assert brought["first_started_at"] >= reply_began - 0.05, "when the first reply began to play"
    assert "stop_playback" not in [c.action for c in call.commands], "words after the reply are no barge-in"
    assert spoken(call) == [GREETING, *fake_reply(first), *fake_reply(second)]
    hang_up = next(d for d in webhooks if d.get("event_type") == "call.hangup")
    assert hang_up["reply_playback"]["reply"] == "turn-2/round-0/llm", "and the hang-up brought the second's"


def local_activities(events: list) -> list[str]:
    """The local activities a call ran, by name, from their markers."""
    names = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            data = e.marker_recorded_event_attributes.details.get("data")
            if data and data.payloads:
                names.append(json.loads(data.payloads[0].data).get("activity_type", ""))
    return names


@pytest.mark.database
async def test_the_greeting_plays_without_a_signal_and_the_callers_first_words_bring_its_count(stack):
    call = stack.simulator.place_call(CallScript(lines=["Do you do whitening"]))
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    events = await history(stack, call)
    webhooks = [data for e in events for data in webhooks_of(e)]
    assert not [d for d in webhooks if str(d.get("event_type")).startswith("call.speak.")], (
        "neither the greeting's start and end nor the reply's reached the call as signals"
    )
    assert "say_followed" in local_activities(events), "the greeting was said in a playback window of the API"
    first_words = next(d for d in webhooks if d.get("event_type") == "call.transcription")
    brought = first_words["reply_playback"]
    assert (brought["reply"], brought["started"], brought["ended"]) == ("greeting", 1, 1), (
        "the caller's first words brought the greeting's count: heard to its end, so they are no barge-in"
    )
    assert "stop_playback" not in [c.action for c in call.commands]
    assert spoken(call) == [GREETING, *fake_reply("Do you do whitening")]


@pytest.mark.database
async def test_a_call_that_climbs_to_a_person_follows_its_last_reply_to_its_end(offline_stack):
    script = CallScript(
        from_number="+15555550172",
        to_number="+15555550111",
        lines=["What are your opening hours?", "purple monkey dishwasher", "flibber jabber wocky"],
    )
    call = offline_stack.simulator.place_call(script)
    await offline_stack.simulator.wait_ended(call, 90)
    await finished_workflow(offline_stack, call)

    events = await history(offline_stack, call)
    assert scheduled_activities(events).count("hear_reply") == 1, (
        "only the reply before the escalation is followed to its end: the call no longer waits for words"
    )
    heard = next(
        json.loads(e.activity_task_completed_event_attributes.result.payloads[0].data)
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and b'"first_started_at"' in e.activity_task_completed_event_attributes.result.payloads[0].data
        and b'"sentences"' not in e.activity_task_completed_event_attributes.result.payloads[0].data
    )
    assert heard["started"] == heard["ended"] >= 1, "its speech, counted to its end by the API"
    assert "Please hold while I connect you." in spoken(call)
