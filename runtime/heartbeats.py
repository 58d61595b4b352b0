"""Keep-alive heartbeats: an activity given a heartbeat timeout heartbeats while it runs, whatever it awaits.

A worker that dies (SIGKILL, a lost machine) says nothing; the server learns of it only when a
timeout of the activity expires. The heartbeat timeout is the short one: a call's activities are
given one of about a second (`workflows.call_options`), so a dead worker's command, record or
reply is tried again on another worker after that second, while the start-to-close timeout
stays long enough for a slow Telnyx or database. This interceptor is what keeps a living
worker's activities from missing that second while they wait on the network.

The activity's own heartbeats carry its progress (the reply's sentences spoken): the keep-alive
repeats the last details the activity sent, or those its attempt started with, and never sends
empty ones, which would erase what a retry must know.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

# Heartbeats per heartbeat timeout: one lost or late still leaves the activity alive.
BEATS_PER_TIMEOUT = 4


class KeepAliveHeartbeats(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _KeepAlive(next)


class _LastDetails(ActivityOutboundInterceptor):
    """Remembers the details of the activity's last heartbeat."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        super().__init__(next)
        self.details: Sequence[Any] = tuple(next.info().heartbeat_details)

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        super().heartbeat(*details)


class _KeepAlive(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self._outbound = _LastDetails(outbound)
        super().init(self._outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = self._outbound.info().heartbeat_timeout
        if not timeout:
            return await super().execute_activity(input)
        beating = asyncio.create_task(self._beat(timeout.total_seconds() / BEATS_PER_TIMEOUT))
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()

    async def _beat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._outbound.heartbeat(*self._outbound.details)
