"""Every activity's log lines carry its workflow id, and its call id when it works for a call.

A module of its own so that a process that only logs (the API, the command line) does not import
the Temporal worker (~0.2 s of CPU at start-up, `cloudgreet bench startup`).
"""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from runtime.logs import call_id_of


class LogContextInterceptor(Interceptor):
    """Binds the workflow id (and the call id when it is a call) to every log line of an activity."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogContext(next)


class _ActivityLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"workflow_id": info.workflow_id, "activity": info.activity_type}
        if info.workflow_id and (call_id := call_id_of(info.workflow_id)):
            context["call_id"] = call_id
        # Each activity runs in a task of its own, so these bindings end with it.
        with structlog.contextvars.bound_contextvars(**context):
            return await super().execute_activity(input)
