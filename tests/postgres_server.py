"""A PostgreSQL server of a test's own, which the test stops and starts again on the same data: a database outage.

PostgreSQL 15's binaries from the system; as root (the test machines) they run as the `postgres`
user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "cloudgreet"


class PostgresServer:
    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's tmp_path: as root that is readable by root alone.
        self.data = Path(tempfile.mkdtemp(prefix="cloudgreet-pg-"))
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.data, "postgres", "postgres")
        self._run(BIN / "initdb", "-D", str(self.data / "cluster"), "-U", USER, "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{USER}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = self.data / "postgres.log"
        self._run(BIN / "pg_ctl", "-D", str(self.data / "cluster"), "-o", options, "-l", str(log), "-w", "start")

    def create_database(self) -> None:
        self._run(BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, USER)

    def stop(self) -> None:
        """As an outage: every connection is cut, and new ones are refused until `start`."""
        self._run(BIN / "pg_ctl", "-D", str(self.data / "cluster"), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run([BIN / "pg_ctl", "-D", str(self.data / "cluster"), "-m", "immediate", "stop"],
                       capture_output=True, check=False, **self._user())  # fmt: skip
        shutil.rmtree(self.data, ignore_errors=True)

    def _run(self, *command: str | Path) -> None:
        subprocess.run([str(c) for c in command], capture_output=True, check=True, timeout=60, **self._user())

    def _user(self) -> dict[str, object]:
        return {"user": "postgres", "group": "postgres"} if self._as_postgres else {}
