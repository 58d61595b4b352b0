"""A burst of interim transcripts reaches the call as its newest words, in Telnyx's order (api/held_interims.py)."""

from __future__ import annotations

import asyncio

from api.held_interims import HeldInterims
from workflows.call_messages import CallEvent


def transcript(event_id: str, words: str, *, final: bool = False, call: str = "call-1") -> CallEvent:
    return CallEvent(
        event_id=event_id,
        event_type="call.transcription",
        call_control_id=call,
        transcript=words,
        is_final=final,
        received_at=0.0,
    )


def playback(event_id: str, call: str = "call-1") -> CallEvent:
    return CallEvent(event_id=event_id, event_type="call.speak.ended", call_control_id=call, received_at=0.0)


class Calls:
    """What reached the calls, in order."""

    def __init__(self) -> None:
        self.signalled: list[str] = []
        self.arrived = asyncio.Event()

    async def send(self, event: CallEvent) -> None:
        self.signalled.append(event.event_id)
        self.arrived.set()


async def test_newer_words_and_the_final_transcript_drop_what_is_held() -> None:
    calls = Calls()
    held = HeldInterims(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    await held.before(transcript("i3", "Do you open"))
    held.hold(transcript("i3", "Do you open"))
    await held.before(transcript("final", "Do you open on Sunday?", final=True))
    assert calls.signalled == []


async def test_any_other_event_of_the_call_sends_the_held_words_first() -> None:
    calls = Calls()
    held = HeldInterims(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    await held.before(playback("ended"))
    assert calls.signalled == ["i2"], "signalled before the event that came after it"
    await held.before(transcript("i3", "Do you open"))
    assert calls.signalled == ["i2"]


async def test_another_call_s_events_leave_the_held_words_held() -> None:
    calls = Calls()
    held = HeldInterims(calls.send, hold_seconds=60)
    held.hold(transcript("i2", "Do you"))
    await held.before(playback("ended", call="call-2"))
    await held.before(transcript("final", "Do you open?", final=True, call="call-2"))
    assert calls.signalled == []


async def test_held_words_nothing_follows_are_signalled_after_the_hold() -> None:
    calls = Calls()
    held = HeldInterims(calls.send, hold_seconds=0.01)
    held.hold(transcript("i2", "Do you"))
    await asyncio.wait_for(calls.arrived.wait(), 10)
    assert calls.signalled == ["i2"]


async def test_an_api_stopping_in_good_order_signals_what_it_holds() -> None:
    calls = Calls()
    held = HeldInterims(calls.send, hold_seconds=60)  # not due for a minute: only the shutdown sends them
    held.hold(transcript("a-2", "Can I come in", call="call-a"))
    held.hold(transcript("b-2", "Do you open", call="call-b"))
    await held.flush()
    assert sorted(calls.signalled) == ["a-2", "b-2"]
