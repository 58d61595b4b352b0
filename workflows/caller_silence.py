"""How long the call waits for the caller's words before it says goodbye: one durable timer per wait.

The run loop wakes for every interim transcript it considers for a speculative reply
(workflows/speculation.py), three or so per caller turn. A `wait_condition` with a timeout starts
a timer each time and cancels it on waking: two history events per wake-up, for a limit of five
minutes that no caller's half-said words come near. Since ONE_SILENCE_TIMER_PATCH the timer is
started once per wait for the caller and kept across those wake-ups; a turn, a barge-in or the
end of the conversation resets it, so the limit still counts from the last thing the call did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.call_options import CALLER_SILENCE_LIMIT
    from workflows.waiting import wait_until

# Calls recorded before it started a new silence timer on every wake-up of the run loop.
ONE_SILENCE_TIMER_PATCH = "one-silence-timer-per-wait"


class CallerSilence:
    def __init__(self, one_timer: bool) -> None:
        self._one_timer = one_timer
        self._timer: asyncio.Task[None] | None = None

    async def wait(self, heard: Callable[[], bool]) -> bool:
        """Waits until `heard()`; False if the caller stayed silent for CALLER_SILENCE_LIMIT first."""
        if not self._one_timer:
            return await wait_until(heard, CALLER_SILENCE_LIMIT)
        if self._timer is None:
            self._timer = asyncio.create_task(asyncio.sleep(CALLER_SILENCE_LIMIT.total_seconds()))
        timer = self._timer
        await workflow.wait_condition(lambda: heard() or timer.done())
        return heard() or not timer.done()

    def reset(self) -> None:
        """The call did something: the next wait for the caller starts a limit of its own."""
        timer, self._timer = self._timer, None
        if timer is not None and not timer.done():
            timer.cancel()
