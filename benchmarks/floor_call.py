"""The call of `cloudgreet bench temporal-floor` (benchmarks/temporal_floor.py): each thing the caller
says is answered by one activity that returns at once. Its own module, so the workflow sandbox imports
only this."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from workflows.call_options import LIVENESS_HEARTBEAT

TASK_QUEUE = "temporal-floor"


@activity.defn
async def answer_caller(words: str) -> str:
    return words


@workflow.defn
class FloorCall:
    """A call that answers each thing the caller says with one activity, until the caller hangs up."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.hung_up = False

    @workflow.signal
    def caller_said(self, words: str) -> None:
        self.heard.append(words)

    @workflow.signal
    def hang_up(self) -> None:
        self.hung_up = True

    @workflow.run
    async def run(self) -> int:
        turns = 0
        while True:
            await workflow.wait_condition(lambda: bool(self.heard) or self.hung_up)
            if not self.heard:
                return turns
            await workflow.execute_activity(
                answer_caller,
                self.heard.pop(0),
                start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=LIVENESS_HEARTBEAT,
            )
            turns += 1
