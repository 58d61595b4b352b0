"""One SQLAlchemy engine per database URL, set up for concurrent API and worker processes.

Every call is bounded: connecting (PostgreSQL's connect_timeout), each statement (PostgreSQL's
statement_timeout; on SQLite the busy timeout, how long a statement waits for another's lock),
and the wait for a pooled connection. A database that hangs costs a request a few seconds and an
error, never one of the API's threads for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from runtime.settings import Settings, get_settings

# SQLite's busy wait when no statement timeout is wanted (migrations): as long as it always was.
SQLITE_UNBOUNDED_BUSY_SECONDS = 30.0


@dataclass(frozen=True)
class DatabaseTimeouts:
    connect_seconds: int = 5
    # None: no statement timeout (migrations, whose lock waits for another replica's migration).
    statement_seconds: float | None = 10.0
    pool_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DatabaseTimeouts:
        return cls(
            connect_seconds=settings.database_connect_timeout_seconds,
            statement_seconds=settings.database_statement_timeout_seconds,
            pool_seconds=settings.database_pool_timeout_seconds,
        )

    def without_statement_timeout(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(self.connect_seconds, None, self.pool_seconds)


def get_engine(database_url: str, timeouts: DatabaseTimeouts | None = None) -> Engine:
    """The process's engine for this URL, bounded by `timeouts` (by default the DATABASE_*_TIMEOUT settings)."""
    return _engine(database_url, timeouts or DatabaseTimeouts.from_settings(get_settings()))


@lru_cache
def _engine(database_url: str, timeouts: DatabaseTimeouts) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, timeouts)
    connect_args: dict[str, object] = {"connect_timeout": timeouts.connect_seconds}
    if timeouts.statement_seconds is not None:
        connect_args["options"] = f"-c statement_timeout={round(timeouts.statement_seconds * 1000)}"
    return create_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
        pool_timeout=timeouts.pool_seconds,
        connect_args=connect_args,
    )


def _sqlite_engine(database_url: str, timeouts: DatabaseTimeouts) -> Engine:
    url = make_url(database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    busy_seconds = timeouts.statement_seconds or SQLITE_UNBOUNDED_BUSY_SECONDS
    engine = create_engine(
        database_url,
        pool_timeout=timeouts.pool_seconds,
        connect_args={"check_same_thread": False, "timeout": busy_seconds},
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        # WAL lets the API read while the worker writes; foreign keys are off by default in SQLite.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={round(busy_seconds * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
