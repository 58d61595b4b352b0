"""A database that hangs costs an API request its timeout and a clear 503, and the API answers others meanwhile.

The API runs as a process of its own (uvicorn on `create_app`, without `cloudgreet api`'s migration
at start, which needs the database). The damage is real: a "PostgreSQL" that accepts connections
and never answers, and a lock held on the configured database (SQLite: an exclusive lock on the
file; PostgreSQL: an ACCESS EXCLUSIVE lock on the table the route reads).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ROOT, ManagedProcess, free_port
from tests.in_process import ADMIN_KEY, SECRET_KEY, SilentServer

TIMEOUT_SECONDS = 3
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


def api_process(database_url: str, logs: Path) -> ManagedProcess:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "DATABASE_"))},
        "DATABASE_URL": database_url,
        "DATABASE_CONNECT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "DATABASE_STATEMENT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "ADMIN_API_KEY": ADMIN_KEY,
        "SECRET_KEY": SECRET_KEY,
        "LAST_RUNG_DIR": str(logs / "last-rung"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nobody: this test is about the database
    }
    command = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port)]
    return ManagedProcess("api", command, env, logs / "api.log", port=port)


@contextmanager
def running(process: ManagedProcess) -> Iterator[str]:
    process.start()
    try:
        yield f"http://127.0.0.1:{process.port}"
    finally:
        process.stop()


async def while_the_database_hangs(api: str) -> tuple[httpx.Response, float]:
    """Asks a route that needs the database; while it waits, the API answers a route that does not.
    Returns the database route's answer and how long it took."""
    async with httpx.AsyncClient(timeout=60) as http:
        started = time.monotonic()
        stuck = asyncio.create_task(http.get(f"{api}/api/admin/callbacks", headers=BEARER))
        answered_meanwhile = 0
        # For most of the database's timeout: every liveness request is answered while the other waits.
        while time.monotonic() - started < TIMEOUT_SECONDS - 1:
            assert (await http.get(f"{api}/api/health/live")).status_code == 200
            assert not stuck.done(), "the database route answered before its timeout could have passed"
            answered_meanwhile += 1
        assert answered_meanwhile > 0
        answer = await stuck
        return answer, time.monotonic() - started


async def test_a_postgresql_that_never_answers_costs_the_connect_timeout_and_a_503(tmp_path: Path) -> None:
    silent = SilentServer()
    try:
        with running(api_process(f"postgresql://cloudgreet@127.0.0.1:{silent.port}/cloudgreet", tmp_path)) as api:
            answer, took = await while_the_database_hangs(api)
    finally:
        silent.close()
    assert answer.status_code == 503, answer.text
    # The client hears a sentence and a reference; the driver's words (host, port) are only in the log.
    assert answer.json()["detail"].startswith("The service is busy or down; try again later (reference ")
    assert str(silent.port) not in answer.text
    assert answer.headers["retry-after"]
    assert TIMEOUT_SECONDS <= took < TIMEOUT_SECONDS + 10


@contextmanager
def locked(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database whose callbacks table cannot be read until the lock is let go; yields its URL."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # A file of its own: no connection of this test session may hold it open for the lock to be exclusive.
        path = tmp_path / "locked.db"
        locked_url = f"sqlite:///{path}"
        migrate = [sys.executable, "-m", "cloudgreet.cli", "migrate"]
        subprocess.run(migrate, env={**os.environ, "DATABASE_URL": locked_url}, cwd=ROOT, check=True, timeout=120)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield locked_url
        finally:
            holder.close()
        return
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as holder:
        holder.execute("LOCK TABLE callbacks IN ACCESS EXCLUSIVE MODE")
        yield database_url
        holder.rollback()


@pytest.mark.database
async def test_a_locked_database_costs_the_statement_timeout_and_a_503(database_url: str, tmp_path: Path) -> None:
    with locked(database_url, tmp_path) as locked_url, running(api_process(locked_url, tmp_path)) as api:
        answer, took = await while_the_database_hangs(api)
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"].startswith("The service is busy or down; try again later (reference ")
    assert "locked" not in answer.text and "statement" not in answer.text
    assert TIMEOUT_SECONDS <= took < TIMEOUT_SECONDS + 10
