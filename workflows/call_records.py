"""The call's records, written in the background and in order: the conversation never waits for the database.

A record (the call's row, a status, a turn, an error, the ladder level, the closing) is kept in
the call's `CallProgress.unwritten` and written by one background task, oldest first, so a turn
never reaches the database before its call's row. Each write is an activity keyed by the call
(and the turn, or a numbered error), so a write retried after it succeeded changes nothing. A
write that fails its few attempts stays kept and is tried again after a durable timer; the call
goes on meanwhile, and its closing waits for everything to be written, up to a long bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.call_options import UNWRITTEN_GIVE_UP_AFTER, UNWRITTEN_RETRY_FIRST, UNWRITTEN_RETRY_MOST

from workflows.call_progress import CallProgress

# Calls that began before this awaited their records, and read their business from the database
# before answering.
RECORDS_IN_BACKGROUND = "records-in-background"


@dataclass(frozen=True)
class UnwrittenRecord:
    what: str  # for the log: "turn 3", "closing"
    write: Callable[[], Awaitable[object]]


class RecordWriter:
    def __init__(self, progress: CallProgress) -> None:
        self._progress = progress
        self._writing: asyncio.Task[None] | None = None

    def keep(self, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Keeps a record to be written after those kept before it."""
        self._progress.unwritten.append(UnwrittenRecord(what, write))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.create_task(self._write_all())

    async def all_written(self) -> None:
        await workflow.wait_condition(lambda: not self._progress.unwritten)

    async def _write_all(self) -> None:
        unwritten = self._progress.unwritten
        failures = 0
        failing_since: datetime | None = None
        while unwritten:
            record = unwritten[0]
            try:
                await record.write()
            except ActivityError as error:
                if _never_writable(error):
                    workflow.logger.error("the call's %s cannot be written: %s", record.what, error.cause or error)
                    unwritten.pop(0)
                    continue
                failing_since = failing_since or workflow.now()
                if workflow.now() - failing_since > UNWRITTEN_GIVE_UP_AFTER:
                    workflow.logger.error(
                        "the database has refused the call's records since %s: %d given up, from the %s",
                        failing_since,
                        len(unwritten),
                        record.what,
                    )
                    self._progress.records_given_up += len(unwritten)
                    unwritten.clear()
                    return
                failures += 1
                workflow.logger.warning("the call's %s is kept until the database answers: %s", record.what, error)
                await workflow.sleep(min(UNWRITTEN_RETRY_FIRST * 2 ** (failures - 1), UNWRITTEN_RETRY_MOST))
                continue
            failures, failing_since = 0, None
            unwritten.pop(0)


def _never_writable(error: ActivityError) -> bool:
    """A refusal that no retry changes (a business that does not exist), unlike a database that is down."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.non_retryable
