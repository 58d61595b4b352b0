"""A circuit breaker over the LLM, shared by every call a worker answers.

When the LLM answers 500 or hangs, each turn that asks it waits (three attempts within the turn
deadline) before the offline responder speaks: seconds of silence per turn, for every caller
of the outage. The breaker remembers the failures in the worker's memory: after `failures`
attempts in a row failed, the reply activity does not ask the LLM for `open_seconds` and fails
at once (`LLMCircuitOpen`), so the workflow's offline responder answers without the wait.
After that, one reply is let through as a probe: if the LLM answers, the breaker closes; if
not, it stays open for another `open_seconds`. A refusal (4xx) is our request's fault, not an
outage, and counts for nothing.

It is worker-process memory on purpose: a worker that restarts asks the LLM again, and workers
learn of an outage each on their own within one turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class LLMCircuit:
    def __init__(
        self, *, failures: int = 3, open_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._probe_since: float | None = None

    @property
    def is_open(self) -> bool:
        return self._failures >= self._threshold

    def allows(self) -> bool:
        """May a reply ask the LLM now? Once open, only one probe per `open_seconds`."""
        if not self.is_open:
            return True
        now = self._clock()
        if now < self._open_until:
            return False
        # A probe cut off by a barge-in reports nothing: after a while another may go.
        if self._probe_since is not None and now - self._probe_since < self._open_seconds:
            return False
        self._probe_since = now
        return True

    def succeeded(self) -> None:
        self._failures = 0
        self._probe_since = None

    def failed(self) -> None:
        self._failures += 1
        self._probe_since = None
        if self.is_open:
            self._open_until = self._clock() + self._open_seconds
