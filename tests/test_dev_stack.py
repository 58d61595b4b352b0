"""`cloudgreet dev` as a developer runs it: the real command in a subprocess, on free ports,
with a data directory of its own and no accounts (SQLite, offline responder).

It must come up, take a call placed with `cloudgreet simulate`, stop everything it started
on Ctrl-C (or `kill`), keep its records on disk, and start again on the same data.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from cloudgreet.dev_stack import DevStackError, temporal_cli, wait_for_temporal
from tests.conftest import ROOT, free_port
from tests.in_process import SilentServer
from tests.waiting import eventually
from workflows.call_messages import call_workflow_id

RUNNING_BANNER = "CloudGreet is running"
START_TIMEOUT = 120  # Temporal, migrations and four Python processes on a loaded 2-core machine
STOP_TIMEOUT = 60
CLI = [sys.executable, "-m", "cloudgreet.cli"]


def developer_environment() -> dict[str, str]:
    """A machine without accounts: no OpenAI, no Telnyx, no database server configured."""
    dropped = ("OPENAI_", "TELNYX_", "TEMPORAL_", "SIMULATOR_", "DATABASE_URL", "LOG_FORMAT", "LOG_LEVEL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    # The project may be used from its checkout rather than installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def child_pids(pid: int) -> set[int]:
    """Direct children of a process, from /proc."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (in parentheses) may contain spaces; the parent pid follows it.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            children.add(int(entry.name))
    return children


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited already


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class DevCommand:
    """`cloudgreet dev` in a subprocess, its output (stdout and stderr) read as it comes."""

    def __init__(self, data_dir: Path, cwd: Path) -> None:
        self.ports = {name: free_port() for name in ("api", "simulator", "temporal", "ui")}
        self.data_dir = data_dir
        self.cwd = cwd
        self.output: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self.children: set[int] = set()
        self._running = asyncio.Event()
        self._reader: asyncio.Task | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['simulator']}"

    def text(self) -> str:
        return "\n".join(self.output)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *CLI, "dev",
            "--api-port", str(self.ports["api"]),
            "--simulator-port", str(self.ports["simulator"]),
            "--temporal-port", str(self.ports["temporal"]),
            "--ui-port", str(self.ports["ui"]),
            "--data-dir", str(self.data_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=developer_environment(),
            cwd=self.cwd,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_output())
        exited = asyncio.create_task(self.process.wait())
        running = asyncio.create_task(self._running.wait())
        _done, _ = await asyncio.wait({exited, running}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        running.cancel()
        exited.cancel()
        assert self._running.is_set(), (
            f"`cloudgreet dev` did not say it is running within {START_TIMEOUT}s "
            f"(exit code {self.process.returncode}); its output:\n{self.text()[-5000:]}"
        )
        self.children = child_pids(self.process.pid)

    async def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        # Keep reading to the end: the children write to the same pipe and would block on a full one.
        while line := await self.process.stdout.readline():
            self.output.append(line.decode(errors="replace").rstrip("\n"))
            if RUNNING_BANNER in self.output[-1]:
                self._running.set()

    async def stop(self, stop_signal: signal.Signals = signal.SIGINT) -> int:
        """Send the signal and wait for the command and its output to end; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(stop_signal)
        code = await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        # End of output: every process that shared the pipe (simulator, worker, API) closed it.
        await asyncio.wait_for(self._reader, STOP_TIMEOUT)
        return code

    async def kill_leftovers(self) -> None:
        """After a failed test: leave nothing running, whatever happened."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for pid in self.children:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()


async def run_cli(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=developer_environment()
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(url)


def call_row(database: Path, call_id: str) -> tuple | None:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT status, caller_number FROM calls WHERE id = ?", (call_id,)).fetchone()


async def health_is_up(dev: DevCommand) -> None:
    response = await eventually(
        lambda: get(f"{dev.api_url}/api/health"),
        lambda r: r.status_code == 200,
        timeout=60,
        what="GET /api/health answering 200",
    )
    dependencies = response.json()["dependencies"]
    assert dependencies["temporal"] == "up"
    assert dependencies["database"] == "up"
    assert dependencies["openai"] == "not configured"  # the offline responder is the brain


async def assert_all_stopped(dev: DevCommand) -> None:
    assert dev.children, "`cloudgreet dev` had no child processes while running"
    leftovers = [pid for pid in dev.children if process_alive(pid)]
    assert not leftovers, f"child processes still running after `cloudgreet dev` exited: {leftovers}"
    still_listening = {name: port for name, port in dev.ports.items() if listening(port)}
    assert not still_listening, f"still listening after `cloudgreet dev` exited: {still_listening}"


async def temporal_database_without_search_attributes(path: Path) -> None:
    """A Temporal database as an older CloudGreet (before any search attribute) left it."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        temporal_cli(), "server", "start-dev", "--db-filename", str(path), "--port", str(port), "--headless",
        "--log-level", "error", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await eventually(lambda: listening(port), bool, timeout=60, what="a Temporal dev server to listen")
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), STOP_TIMEOUT)
    assert path.exists()


async def test_dev_runs_the_stack_takes_a_call_stops_cleanly_and_restarts_on_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # The data directory already holds a Temporal database, from a version of CloudGreet that
    # registered fewer search attributes: `cloudgreet dev` must run on it, not trip over it.
    await temporal_database_without_search_attributes(data_dir / "temporal.db")
    # A developer's .env may hold production's Temporal Cloud settings: the local stack is not misled by them.
    (tmp_path / ".env").write_text("TEMPORAL_API_KEY=production-cloud-key\nTEMPORAL_TLS=true\n")
    dev = DevCommand(data_dir, cwd=tmp_path)
    try:
        await dev.start()
        assert "offline responder" in dev.text()
        assert f"--simulator-url {dev.simulator_url}" in dev.text()  # the hint to place a call fits these ports
        await health_is_up(dev)
        # `cloudgreet dev` made up ADMIN_API_KEY and SECRET_KEY: the admin login is on.
        login = await get(f"{dev.api_url}/admin/login")
        assert "Admin key" in login.text and "admin side is off" not in login.text

        code, stdout, stderr = await run_cli(
            "simulate",
            "--simulator-url",
            dev.simulator_url,
            "--timeout",
            "90",
            "--json",
            "What are your opening hours?",
        )
        assert code == 0, f"simulate failed ({code}):\n{stdout}\n{stderr}\n`cloudgreet dev` said:\n{dev.text()[-5000:]}"
        conversation, _, record = stdout.partition("\n{")
        lines = conversation.splitlines()
        assert "Caller: What are your opening hours?" in lines, stdout
        after_question = lines[lines.index("Caller: What are your opening hours?") + 1 :]
        assert any(line.startswith("Agent:") and "Monday" in line for line in after_question), stdout
        call_id = json.loads("{" + record)["call_control_id"]

        ui = await eventually(
            lambda: get(f"http://localhost:{dev.ports['ui']}/"), lambda r: r.status_code < 500, what="the Temporal UI"
        )
        assert ui.status_code == 200

        database = data_dir / "cloudgreet.db"
        await eventually(
            lambda: call_row(database, call_id), lambda row: row is not None and row[0] == "ended",
            timeout=30, what="the call recorded as ended in SQLite",
        )  # fmt: skip

        assert await dev.stop(signal.SIGINT) == 0, dev.text()[-3000:]
        assert "stopped." in dev.output
        await assert_all_stopped(dev)
    finally:
        await dev.kill_leftovers()

    assert call_row(database, call_id) == ("ended", "+15555550142")
    assert (data_dir / "temporal.db").exists()

    # Again on the same data directory: Temporal's persistent database (now with the search
    # attributes) is reused, and the first call's workflow is still there. Stopped with
    # SIGTERM this time, as `kill` or a service manager would.
    again = DevCommand(data_dir, cwd=tmp_path)
    try:
        await again.start()
        await health_is_up(again)
        client = await Client.connect(f"127.0.0.1:{again.ports['temporal']}")
        description = await client.get_workflow_handle(call_workflow_id(call_id)).describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED

        # The call can be found by the search attributes the README tells operators to use.
        async def found_by_caller() -> list[str]:
            return [w.id async for w in client.list_workflows("CloudGreetCaller = '+15555550142'")]

        await eventually(
            found_by_caller,
            lambda ids: call_workflow_id(call_id) in ids,
            timeout=30,
            what="the call found by its caller",
        )
        assert await again.stop(signal.SIGTERM) == 0, again.text()[-3000:]
        await assert_all_stopped(again)
    finally:
        await again.kill_leftovers()


def test_dev_refuses_a_port_in_use_and_names_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        others = [free_port() for _ in range(3)]
        result = subprocess.run(
            [
                *CLI, "dev",
                "--api-port", str(port),
                "--simulator-port", str(others[0]),
                "--temporal-port", str(others[1]),
                "--ui-port", str(others[2]),
                "--data-dir", str(tmp_path / "data"),
            ],
            capture_output=True, text=True, env=developer_environment(), cwd=tmp_path, timeout=120,
        )  # fmt: skip
    assert result.returncode != 0
    assert str(port) in result.stderr, result.stderr
    assert "in use" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "data" / "temporal.db").exists()  # nothing was started


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--api-port", "70000"], "70000 is not a TCP port"),
        (["--api-port", "9123", "--simulator-port", "9123"], "port of its own"),
    ],
)
def test_dev_rejects_bad_ports_before_starting_anything(tmp_path: Path, options: list[str], message: str) -> None:
    result = subprocess.run(
        [*CLI, "dev", *options, "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, env={**developer_environment(), "COLUMNS": "200", "TERMINAL_WIDTH": "200"},
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in " ".join(result.stderr.replace("│", " ").split()), result.stderr
    assert not (tmp_path / "data").exists()


def test_a_port_that_answers_but_serves_no_temporal_is_named_within_the_wait() -> None:
    silent = SilentServer()
    started = time.monotonic()
    try:
        with pytest.raises(DevStackError) as refused:
            wait_for_temporal(silent.port, timeout=3)
    finally:
        silent.close()
    assert time.monotonic() - started < 15
    assert str(refused.value).startswith("the Temporal dev server did not serve clients within 3s: ")
