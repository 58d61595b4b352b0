"""Whether anything of ours is playing on a call's line, as far as this API process has seen.

The caller's first interim transcript of an utterance while our speech plays may be a barge-in:
it is signalled at once. While the line is quiet it changes nothing yet (a speculative reply waits
for stable words anyway, and the final transcript is what a turn answers), so it is held a moment
like the interims after it (api/held_events.py), and a burst of words, or words the final
transcript follows at once, cost the call no signal and no workflow task.

Counted from the playback webhooks this process handled. A call it knows nothing of (a new
process, another replica handled its events, forgotten to stay bounded) counts as playing: the
caller's words are signalled at once, as before. Telnyx may deliver out of order, so a start
that comes after its own end counts the same.
"""

from __future__ import annotations

from collections import OrderedDict

from workflows.call_messages import CallEvent

STARTED = frozenset({"call.speak.started", "call.playback.started"})
ENDED = frozenset({"call.speak.ended", "call.playback.ended"})


class LinePlayback:
    def __init__(self, capacity: int = 20_000) -> None:
        self._lines: OrderedDict[str, tuple[int, int]] = OrderedDict()  # call -> (started, ended)
        self._capacity = capacity

    def hear(self, event: CallEvent) -> None:
        if event.leg is not None:
            return  # a transfer leg's speech is not heard on the caller's line
        call, kind = event.call_control_id, event.event_type
        if kind == "call.hangup":
            self._lines.pop(call, None)
            return
        if kind not in STARTED and kind not in ENDED:
            return
        started, ended = self._lines.get(call, (0, 0))
        self._lines[call] = (started + 1, ended) if kind in STARTED else (started, ended + 1)
        self._lines.move_to_end(call)
        if len(self._lines) > self._capacity:
            self._lines.popitem(last=False)

    def quiet(self, call_control_id: str) -> bool:
        """Nothing plays that this process knows of, and it has heard the call's playback at all."""
        counts = self._lines.get(call_control_id)
        return counts is not None and counts[0] <= counts[1]
