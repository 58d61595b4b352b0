"""What the API believes plays on a call's line: the caller's first words in a quiet line are held, not signalled."""

from __future__ import annotations

from api.line_playback import LinePlayback
from workflows.call_messages import CallEvent, TransferLeg

CALL = "v3:caller"


def event(kind: str, call: str = CALL, leg: TransferLeg | None = None) -> CallEvent:
    return CallEvent(event_id=f"{kind}-{id(object())}", event_type=kind, call_control_id=call, received_at=0.0, leg=leg)


def test_a_call_this_process_has_heard_no_playback_of_counts_as_playing():
    lines = LinePlayback()
    assert not lines.quiet(CALL)
    lines.hear(event("call.answered"))
    assert not lines.quiet(CALL), "no playback heard yet: the caller's first words may be talking over the greeting"


def test_the_line_is_quiet_once_every_started_speech_has_ended():
    lines = LinePlayback()
    lines.hear(event("call.speak.started"))
    assert not lines.quiet(CALL)
    lines.hear(event("call.speak.ended"))
    assert lines.quiet(CALL)
    lines.hear(event("call.playback.started"))  # an audio file plays as speech does
    assert not lines.quiet(CALL)
    lines.hear(event("call.playback.ended"))
    assert lines.quiet(CALL)


def test_an_end_delivered_before_its_start_counts_the_same():
    lines = LinePlayback()
    lines.hear(event("call.speak.started"))
    lines.hear(event("call.speak.ended"))
    lines.hear(event("call.speak.ended"))  # the second sentence's end overtook its start
    assert lines.quiet(CALL)
    lines.hear(event("call.speak.started"))
    assert lines.quiet(CALL)
    lines.hear(event("call.speak.started"))
    assert not lines.quiet(CALL)


def test_a_transfer_legs_speech_is_not_heard_on_the_callers_line():
    lines = LinePlayback()
    lines.hear(event("call.speak.started"))
    lines.hear(event("call.speak.ended"))
    leg = TransferLeg(parent_call_control_id=CALL, escalation=1, attempt=1, warm=True)
    lines.hear(event("call.speak.started", call="v3:on-call", leg=leg))
    assert lines.quiet(CALL)
    assert not lines.quiet("v3:on-call")


def test_a_call_that_hung_up_is_forgotten_and_the_memory_stays_bounded():
    lines = LinePlayback(capacity=2)
    lines.hear(event("call.speak.ended"))
    lines.hear(event("call.hangup"))
    assert not lines.quiet(CALL)
    for call in ("a", "b", "c"):
        lines.hear(event("call.speak.ended", call=call))
    assert not lines.quiet("a"), "the oldest call was forgotten: its words are signalled at once again"
    assert lines.quiet("b") and lines.quiet("c")
