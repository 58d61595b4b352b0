"""A burst of interim transcripts reaches the call as its newest words, and the end of a sentence goes with
what follows it, in Telnyx's order (api/held_events.py)."""

from __future__ import annotations

import asyncio

from api.held_events import HeldEvents, held_for_company
from workflows.call_messages import CallEvent, TransferLeg


def transcript(event_id: str, words: str, *, final: bool = False, call: str = "call-1") -> CallEvent:
    return CallEvent(
        event_id=event_id,
        event_type="call.transcription",
        call_control_id=call,
        transcript=words,
        is_final=final,
        received_at=0.0,
    )


def playback(event_id: str, call: str = "call-1", kind: str = "call.speak.ended") -> CallEvent:
    return CallEvent(event_id=event_id, event_type=kind, call_control_id=call, received_at=0.0)


class Calls:
    """What reached the calls, in order: one list per signal."""

    def __init__(self) -> None:
        self.signalled: list[list[str]] = []
        self.arrived = asyncio.Condition()

    async def send(self, events: list[CallEvent]) -> None:
        async with self.arrived:
            self.signalled.append([event.event_id for event in events])
            self.arrived.notify_all()

    async def signals(self, count: int) -> None:
        async with asyncio.timeout(10), self.arrived:
            await self.arrived.wait_for(lambda: len(self.signalled) >= count)


async def test_newer_words_and_the_final_transcript_drop_what_is_held() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    assert await held.before(transcript("i3", "Do you open")) == []
    held.hold(transcript("i3", "Do you open"))
    assert await held.before(transcript("final", "Do you open on Sunday?", final=True)) == []
    await held.flush()
    assert calls.signalled == []


async def test_any_other_event_of_the_call_takes_the_held_words_along_first() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    taken = await held.before(playback("ended"))
    assert [e.event_id for e in taken] == ["i2"], "to be signalled with, and before, the event that came after it"
    await held.flush()
    assert calls.signalled == [], "taken along: not signalled a second time"


async def test_the_end_of_a_sentence_goes_with_the_next_one_s_start() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)
    ended = playback("ended-1")
    assert held_for_company(ended)
    held.hold(ended)
    taken = await held.before(playback("started-2", kind="call.speak.started"))
    assert [e.event_id for e in taken] == ["ended-1"]


async def test_the_end_of_a_sentence_is_not_dropped_for_the_caller_s_words() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)
    held.hold(playback("ended-1"))
    taken = await held.before(transcript("i1", "Wait"))
    assert [e.event_id for e in taken] == ["ended-1"], "the call must know the agent stopped before it hears the caller"


def test_a_transfer_leg_s_playback_is_not_held() -> None:
    leg = TransferLeg(parent_call_control_id="call-1", escalation=1, attempt=1)
    assert not held_for_company(playback("leg-ended").model_copy(update={"leg": leg}))
    assert not held_for_company(playback("started", kind="call.speak.started"))


async def test_another_call_s_events_leave_the_held_words_held() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    assert await held.before(playback("ended", call="call-2")) == []
    assert await held.before(transcript("final", "Do you open?", final=True, call="call-2")) == []
    assert calls.signalled == []


async def test_held_events_nothing_follows_are_signalled_after_the_hold() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=0.01)
    held.hold(transcript("i2", "Do you"))
    held.hold(playback("ended", call="call-2"))
    await calls.signals(2)
    assert sorted(calls.signalled) == [["ended"], ["i2"]]


async def test_an_api_stopping_in_good_order_signals_what_it_holds() -> None:
    calls = Calls()
    held = HeldEvents(calls.send, hold_seconds=60)  # not due for a minute: only the shutdown sends them
    held.hold(transcript("a-2", "Can I come in", call="call-a"))
    held.hold(playback("b-ended", call="call-b"))
    await held.flush()
    assert sorted(calls.signalled) == [["a-2"], ["b-ended"]]
