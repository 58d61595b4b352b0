"""A reply that follows its own playback, seen from the reply activity (the API's side: api/reply_windows.py).

`open` before the first sentence; `heard` once every sentence is sent: it waits, within the
attempt's time, until the API has counted the end of each; `close` in every case. `count` is what
the window counted: the reply reports it and the call adds it to its own counts of its speech.
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

    async def open(self) -> None:
        if self._client is None or not self._client.usable:
            return
        count = await self._client.follow(self._call, self._reply)
        if count is not None:
            self._open, self.count = True, count

    async def heard(self, speeches: int, heartbeat: Callable[[], None]) -> None:
        """Waits until the `speeches` this reply sent (sentences and filler) have all ended."""
        if not self._open or self._client is None:
            return
        until = _attempt_ends() - MARGIN_SECONDS
        began = time.time()
        while (left := until - time.time()) > 0:
            if not self.count.started and time.time() - began > NOTHING_HEARD_SECONDS:
                return  # `close` gives the rest of the speech back to the call
            count = await self._client.follow(self._call, self._reply, sentences=speeches, wait=min(left, POLL_SECONDS))
            if count is None:  # the API is gone, or a new process that knows no window: take it as heard
                self.count = PlaybackCount(open=False, started=speeches, ended=speeches)
                self._open = False
                return
            self.count = count
            if count.ended >= speeches or not count.open:
                self._open = count.open
                return
            heartbeat()

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
