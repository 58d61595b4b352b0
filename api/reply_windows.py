"""Replies that follow their own playback: a reply's speech events are counted here, not signalled to the call.

A reply activity opens a window on its call (`api/reply_playback.py`) before it speaks, and so does
the call's greeting (`say_followed`, which says at once that one speech will play). While the
window is open, the `speak`/`playback` starts and ends of the caller's line are counted here and
not signalled to the call's workflow: a signal and a workflow task each, which told the call only
that a sentence of the reply it was already running began or ended. The reply says how many
speeches it sent once it has sent them, and completes.

The call learns the rest with the caller's next words, keys or hang-up: they close the window, and
`brought` is its count, sent with them (`CallEvent.reply_playback`), so the call files them
knowing whether its reply still plays (a barge-in) and no activity waits for the speech to end. A
call that stops waiting for the caller (its goodbye, a transfer) asks instead: `hear_reply` waits
here until every speech it announced has ended. Calls recorded before that follow every reply so.

A window closes once every speech its reply announced has ended, when the caller talks, presses a
key or hangs up, or WINDOW_TTL_SECONDS after it last heard from its reply (a worker that died, or
a reply that failed for good, before it announced) or, once announced, from its line. Events after
that reach the call as before, and the count is what the window had counted. Per API process, in memory: a process that starts knows no window and
signals every event; a reply whose count is lost is taken as heard.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from pydantic import BaseModel

from api.line_playback import ENDED, STARTED
from workflows.call_messages import CALLER_EVENTS, CallEvent, FollowedSpeech

WINDOW_TTL_SECONDS = 15.0


class PlaybackCount(BaseModel):
    """What a reply's window counted on the caller's line."""

    open: bool = True  # False: closed, or no such window
    known: bool = True  # False: no such window, open or lately closed (a new API process): counts unknown
    started: int = 0
    ended: int = 0
    # When the API received the first start (Unix time): the end of the caller's wait for the reply.
    first_started_at: float | None = None


@dataclass
class _Window:
    reply: str
    started: int = 0
    ended: int = 0
    first_started_at: float | None = None
    expected: int | None = None  # the sentences the reply sent: the window closes once they all ended
    touched: float = field(default_factory=time.monotonic)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, is_open: bool) -> PlaybackCount:
        return PlaybackCount(
            open=is_open, started=self.started, ended=self.ended, first_started_at=self.first_started_at
        )


class ReplyWindows:
    def __init__(self, capacity: int = 20_000, ttl_seconds: float = WINDOW_TTL_SECONDS) -> None:
        self._windows: OrderedDict[str, _Window] = OrderedDict()  # by call_control_id
        # Each call's last closed window: what a reply asking after it ended (or after the caller talked) counted.
        self._closed: OrderedDict[str, _Window] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl_seconds

    def absorb(self, event: CallEvent) -> bool:
        """True when `event` is a playback event of a reply following its own: counted, not to be signalled."""
        call = event.call_control_id
        if event.leg is None and event.event_type in CALLER_EVENTS:
            # The caller hangs up, talks or presses a key (a barge-in, perhaps): what plays matters to the
            # call again, so the rest of the speech reaches it as signals; the reply's counts are kept so far.
            self._close(call)
            return False
        if event.leg is not None or (event.event_type not in STARTED and event.event_type not in ENDED):
            return False
        window = self._live(call)
        if window is None:
            return False
        if event.event_type in STARTED:
            window.started += 1
            window.first_started_at = window.first_started_at or event.received_at
        else:
            window.ended += 1
        if window.expected is not None:
            # Announced: its speech plays on, and the reply's worker is not needed for it. Before that, the
            # reply's own requests keep it (a reply that failed for good leaves it to close 15 s after).
            window.touched = time.monotonic()
        self._changed(window)
        if window.expected is not None and window.ended >= window.expected:
            self._close(call)
        return True

    async def follow(
        self,
        call: str,
        reply: str,
        *,
        sentences: int | None,
        wait_seconds: float,
        close: bool,
        open_window: bool = False,
    ) -> PlaybackCount:
        """Opens `reply`'s window if asked (the same one again for a retried reply), notes how many speeches it
        sent, and waits up to `wait_seconds` for them all to end; closes it if asked. Its counts; a window that
        closed already gives what it had counted, and one never opened here `known` False."""
        window = self._live(call)
        if window is None or window.reply != reply:
            closed = self._closed.get(call)
            if not open_window:
                if closed is not None and closed.reply == reply:
                    return closed.count(is_open=False)
                return PlaybackCount(open=False, known=False)
            window = _Window(reply)  # a newer reply replaces what is left of an older one
            if closed is not None and closed.reply == reply:
                # The same reply again (a retry after its window closed, a greeting said again by the next
                # worker): what the window counted of the speech already sent stands, or its count would fall
                # short of the speeches announced and the caller's next words would look like a barge-in.
                window.started, window.ended = closed.started, closed.ended
                window.first_started_at = closed.first_started_at
            self._windows[call] = window
            self._windows.move_to_end(call)
            if len(self._windows) > self._capacity:
                self._windows.popitem(last=False)
        window.touched = time.monotonic()
        if sentences is not None:
            window.expected = sentences
        deadline = time.monotonic() + wait_seconds
        while window.expected is not None and window.ended < window.expected:
            left = deadline - time.monotonic()
            if left <= 0 or self._windows.get(call) is not window:
                break
            try:
                await asyncio.wait_for(window.changed.wait(), left)
            except TimeoutError:
                break
        if (window.expected is not None and window.ended >= window.expected) or close:
            self._close(call, window)
        return window.count(self._windows.get(call) is window)

    def brought(self, call: str) -> FollowedSpeech | None:
        """What the caller's words, keys or hang-up bring to the call: the count of its last reply's window,
        which they closed (`absorb`), final. None if this process closed no window of the call."""
        window = self._closed.get(call)
        if window is None:
            return None
        return FollowedSpeech(
            reply=window.reply, started=window.started, ended=window.ended, first_started_at=window.first_started_at
        )

    def _live(self, call: str) -> _Window | None:
        window = self._windows.get(call)
        if window is not None and time.monotonic() - window.touched > self._ttl:
            self._close(call)  # its reply's worker is gone: the call hears its events again
            return None
        return window

    def _close(self, call: str, window: _Window | None = None) -> None:
        if window is None or self._windows.get(call) is window:
            closed = self._windows.pop(call, None)
            if closed is not None:
                self._closed[call] = closed
                self._closed.move_to_end(call)
                if len(self._closed) > self._capacity:
                    self._closed.popitem(last=False)
                self._changed(closed)

    @staticmethod
    def _changed(window: _Window) -> None:
        window.changed.set()
        window.changed = asyncio.Event()
