"""The API's own durable record of the call-backs it promised while Temporal was unreachable.

A SQLite file in LAST_RUNG_DIR, through the standard library, never the CloudGreet database: the
last rung must work with the database down too. SQLite rather than a JSON-lines file with fsync:
a promise is written once and later marked handed over, which in a log file would mean a second
record and a compaction; here each is one transaction. The call's id is the primary key, so a
redelivered webhook or a second timer in the same process records one promise, and several
processes sharing the directory lock each other out as SQLite does. `synchronous=FULL` makes
every commit reach the disk (fsync) before the caller is answered.

Every method blocks on the disk: call them from a thread (asyncio.to_thread), not the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from workflows.last_rung_promise import LastRungPromise

OUTBOX_FILE = "promises.sqlite3"
# Another process of this replica holding the file's lock; writes are tiny, so this is generous.
LOCK_WAIT_SECONDS = 5.0


class PromiseOutbox:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / OUTBOX_FILE
        with self._connection() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS promises ("
                " call_control_id TEXT PRIMARY KEY,"
                " promise TEXT NOT NULL,"
                " recorded_at TEXT NOT NULL,"
                " handed_over_at TEXT)"
            )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One short connection per operation: safe from any thread, nothing held between calls.
        with closing(sqlite3.connect(self.path, timeout=LOCK_WAIT_SECONDS)) as connection:
            connection.execute("PRAGMA synchronous=FULL")
            with connection:  # one transaction, committed on leaving
                yield connection

    def record(self, promise: LastRungPromise) -> bool:
        """Keeps the promise on disk; False when this outbox already held the call's promise."""
        with self._connection() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO promises (call_control_id, promise, recorded_at) VALUES (?, ?, ?)",
                (promise.call_control_id, promise.model_dump_json(), _now()),
            )
            return cursor.rowcount == 1

    def holds(self, call_control_id: str) -> bool:
        """Whether the API promised this call a call-back (handed over or not)."""
        with self._connection() as connection:
            found = connection.execute(
                "SELECT 1 FROM promises WHERE call_control_id = ?", (call_control_id,)
            ).fetchone()
            return found is not None

    def waiting(self) -> list[LastRungPromise]:
        """The promises not yet handed to Temporal, oldest first."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT promise FROM promises WHERE handed_over_at IS NULL ORDER BY recorded_at"
            ).fetchall()
        return [LastRungPromise.model_validate_json(row[0]) for row in rows]

    def handed_over(self, call_control_id: str) -> None:
        with self._connection() as connection:
            connection.execute(
                "UPDATE promises SET handed_over_at = ? WHERE call_control_id = ? AND handed_over_at IS NULL",
                (_now(), call_control_id),
            )

    def handed_over_at(self, call_control_id: str) -> datetime | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT handed_over_at FROM promises WHERE call_control_id = ?", (call_control_id,)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None


def _now() -> str:
    return datetime.now(UTC).isoformat()
