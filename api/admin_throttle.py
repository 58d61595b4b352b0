"""Wrong admin keys per client address, over a sliding window, in the API process's memory.

In memory rather than in the database on purpose: checking a bearer key then needs nothing but
this process, so `GET /api/admin/health` still tells the admin why the database is down while it
is, and anonymous guesses never cause a database write. The price: each API replica counts for
itself, so N replicas allow N times the attempts, which changes nothing against a generated key
of 16 characters or more.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class FailedAttempts:
    """At most `allowed` failures per address within `window_seconds`; then it waits.

    Only the newest `allowed` failures of an address matter, so each keeps at most that many, and
    addresses whose failures have all aged out are forgotten: memory follows recent failures only.
    """

    def __init__(self, allowed: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._allowed = allowed
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def wait_seconds(self, address: str) -> float | None:
        """How long this address must wait before its next attempt; None: it may try now."""
        with self._lock:
            failures = self._failures.get(address)
            if failures is None or len(failures) < self._allowed:
                return None
            # The window has room again once the oldest of the newest `allowed` failures leaves it.
            wait = failures[0] + self._window - self._clock()
            return wait if wait > 0 else None

    def record(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._sweep(now)
            self._failures.setdefault(address, deque(maxlen=self._allowed)).append(now)

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < self._window:
            return
        self._last_sweep = now
        for address in [a for a, failures in self._failures.items() if failures[-1] <= now - self._window]:
            del self._failures[address]
