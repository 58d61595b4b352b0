"""How long the call waits for the caller's words before it says goodbye: one durable timer, not one per wait.

The run loop waits for the caller after every turn, and wakes for every interim transcript it
considers for a speculative reply (workflows/speculation.py). A `wait_condition` with a timeout
starts a timer each time and cancels it on waking: two history events per turn and per interim,
for a limit of five minutes that a conversation rarely comes near. Since ONE_SILENCE_TIMER_PATCH
one timer runs while the call goes on; the call notes when the caller was last answered or heard
(`heard_from`), and a timer that fires early for that is started again for what is left. The
goodbye comes when the caller has been silent for CALLER_SILENCE_LIMIT, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.call_options import CALLER_SILENCE_LIMIT
    from workflows.waiting import wait_until

# Calls recorded before it started a new silence timer on every wait for the caller.
ONE_SILENCE_TIMER_PATCH = "one-silence-timer-per-wait"


class CallerSilence:
    def __init__(self, one_timer: bool) -> None:
        self._one_timer = one_timer
        self._timer: asyncio.Task[None] | None = None
        self._since: datetime | None = None  # the silence counts from here

    async def wait(self, heard: Callable[[], bool]) -> bool:
        """Waits until `heard()`; False if the caller stayed silent for CALLER_SILENCE_LIMIT first."""
        if not self._one_timer:
            return await wait_until(heard, CALLER_SILENCE_LIMIT)
        if self._since is None:
            self._since = workflow.now()
        while True:
            left = self._since + CALLER_SILENCE_LIMIT - workflow.now()
            if left.total_seconds() <= 0:
                return heard()
            if self._timer is None or self._timer.done():
                self._timer = asyncio.create_task(asyncio.sleep(left.total_seconds()))
            await workflow.wait_condition(_heard_or_due(heard, self._timer))
            if heard():
                return True

    def heard_from(self) -> None:
        """The caller was answered or talked: the silence counts from now. The timer runs on."""
        if self._one_timer:
            self._since = workflow.now()

    def stop(self) -> None:
        """The call waits for the caller no more (continued as new, transferred, ended)."""
        timer, self._timer, self._since = self._timer, None, None
        if timer is not None and not timer.done():
            timer.cancel()


def _heard_or_due(heard: Callable[[], bool], timer: asyncio.Task[None]) -> Callable[[], bool]:
    return lambda: heard() or timer.done()
