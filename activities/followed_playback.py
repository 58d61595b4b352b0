"""A reply that follows its own playback, seen from the reply activity (the API's side: api/reply_windows.py).

`open` before the first sentence; `announce` once every sentence is sent, leaving the window open
while the speech plays: the caller's next words bring its count to the call (api/reply_windows.py).
A call that stops waiting for the caller runs `hear_reply`, an activity of its own with a long
heartbeat timeout, whose `heard` waits, within its attempt's time, until the API has counted the
end of each (the reply's own activity stays short: a second-long heartbeat timeout while a reply
could be waiting for a dead worker, and no heartbeat at all while its speech plays); `close` when
the reply hands nothing over. `count` is what the window counted: each reports it, and the call
adds it to its own counts of its speech.
A window the API lost (a new API process) reads as heard; a wait that outlasts the attempt's time
closes the window, and the rest of the speech reaches the call as webhooks, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from temporalio import activity

from activities.reply_playback import POLL_SECONDS, PlaybackCount, ReplyPlayback

# Left of an attempt's time when the wait gives up: the answer must reach the workflow in time.
MARGIN_SECONDS = 1.0
# A window that has counted no start this long into the wait is not where the call's webhooks go
# (another API replica takes them): the reply stops waiting, and the call hears them as signals.
NOTHING_HEARD_SECONDS = 3.0


class FollowedPlayback:
    def __init__(self, client: ReplyPlayback | None, call_control_id: str, reply: str) -> None:
        self._client = client
        self._call = call_control_id
        self._reply = reply
        self._open = False
        self.count = PlaybackCount(open=False)

    async def open(self, speeches: int | None = None) -> None:
        """Opens the window before the first speech is sent; `speeches`: how many will be, known already."""
        if self._client is None or not self._client.usable:
            return
        count = await self._client.follow(self._call, self._reply, open_window=True, sentences=speeches)
        if count is not None:
            self._open, self.count = True, count

    @property
    def following(self) -> bool:
        return self._open

    async def announce(self, speeches: int) -> None:
        """Tells the window how many speeches (sentences and filler) the reply sent: it closes itself once they
        all ended, and `hear_reply` waits for that; the window is left open for it."""
        if not self._open or self._client is None:
            return
        count = await self._client.follow(self._call, self._reply, sentences=speeches)
        if count is None:
            # The API is gone, or a new process that knows no window: the rest of the speech reaches the call.
            self._open = False
            return
        self.count = count
        self._open = count.open

    async def heard(self, speeches: int, heartbeat: Callable[[], None]) -> None:
        """Waits until the `speeches` the reply sent have all ended; `count.open` False: the window is closed."""
        if self._client is None:
            return
        until = _attempt_ends() - MARGIN_SECONDS
        began = time.time()
        while (left := until - time.time()) > 0:
            count = await self._client.follow(self._call, self._reply, sentences=speeches, wait=min(left, POLL_SECONDS))
            if count is None:  # the API is gone, or a new process that knows no window: take it as heard
                self.count = PlaybackCount(open=False, started=speeches, ended=speeches)
                self._open = False
                return
            self.count, self._open = count, count.open
            if count.ended >= speeches or not count.open:
                return
            if not count.started and time.time() - began > NOTHING_HEARD_SECONDS:
                break  # not where the call's webhooks go (another API replica): they reach the call
            heartbeat()
        await self.close()

    async def close(self) -> None:
        if not self._open or self._client is None:
            return
        self._open = False
        count = await self._client.follow(self._call, self._reply, close=True)
        if count is not None:
            self.count = count


def _attempt_ends() -> float:
    """When this attempt must have answered (Unix time): its start-to-close, and the schedule-to-close of all."""
    info = activity.info()
    ends = []
    if info.start_to_close_timeout:
        ends.append(info.started_time.timestamp() + info.start_to_close_timeout.total_seconds())
    if info.schedule_to_close_timeout:
        ends.append(info.scheduled_time.timestamp() + info.schedule_to_close_timeout.total_seconds())
    return min(ends) if ends else time.time() + 30
