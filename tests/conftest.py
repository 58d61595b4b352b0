"""The real stack for tests: Temporal dev server, a database, the API and a worker as processes,
the Telnyx simulator and the fake OpenAI server on loopback.

With DATABASE_URL pointing at PostgreSQL, every test that uses the database runs there, on a
fresh database of its own; otherwise on a fresh SQLite file.

Under pytest-xdist (`scripts/test` runs `-n 3 --dist loadfile`) every worker process has all of this
to itself: its session fixtures (Temporal dev server, databases, stacks, fakes) are its own, on ports
the kernel hands out (`free_port`) and files under the worker's own temporary folder, and a module's
tests all run in one worker.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cloudgreet.dev_stack import temporal_cli, wait_for_port
from database.migrate import upgrade_database
from runtime.search_attributes import SEARCH_ATTRIBUTES
from simulator.fake_openai.behaviour import FakeLLMBehaviour
from simulator.fake_openai.server import FakeOpenAIServer
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from tests.in_process import SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
# The browser fixtures (Chromium through Playwright) for the page tests.
pytest_plugins = ["tests.browser"]


# Modules whose tests live through minutes of real time (a minute-long LLM outage, killed workers and
# servers, restarts): first in the order, so that the parallel workers of pytest-xdist (scripts/test) run
# them beside the short modules rather than alone at the end. Only the order changes: every test runs.
LONG_MODULES = (
    "test_llm_outage", "test_worker_crash", "test_failover", "test_speculation", "test_dev_stack",
    "test_database_outage", "test_last_rung", "test_recordings", "test_warm_transfers", "test_languages",
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Longest first; a stable sort: the tests of a module keep their order, and so do the other modules.
    def rank(item: pytest.Item) -> int:
        module = Path(item.nodeid.split("::")[0]).stem
        return LONG_MODULES.index(module) if module in LONG_MODULES else len(LONG_MODULES)

    items.sort(key=rank)


def always_open(database_url: str) -> None:
    """The demo business, open around the clock and remembering no caller, so a test's outcome never depends
    on the hour it runs or on the tests before it."""
    from datetime import time

    from sqlmodel import Session, select

    from business.config import WEEKDAYS, BusinessConfig, OpeningHours
    from database.engine import get_engine
    from database.models import Business

    with Session(get_engine(database_url)) as session:
        business = session.exec(select(Business).where(Business.phone_number == "+15555550100")).one()
        config = BusinessConfig.model_validate(business.config)
        config.hours = {day: OpeningHours(opens=time(0), closes=time(23, 59, 59)) for day in WEEKDAYS}
        # Most tests call from the same few numbers: remembering them would make a greeting depend on which
        # test ran first. tests/test_caller_memory.py turns memory on for businesses of its own.
        config.remember_callers = False
        business.config = config.model_dump(mode="json")
        session.add(business)
        session.commit()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def closed_port() -> Iterator[int]:
    """A port where nothing listens for as long as the block runs: bound and never listening, so a
    connection to it is refused, and no other process (another test worker, another program on the
    machine) can start listening on it meanwhile, as it could on a port from `free_port`."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A migrated database of its own: a SQLite file in `folder`, or a new database on the PostgreSQL
    server that DATABASE_URL names (dropped afterwards)."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgresql", "postgres")):
        url = f"sqlite:///{folder / 'cloudgreet.db'}"
        upgrade_database(url)
        always_open(url)
        yield url
        return
    server = make_url(configured.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql")
    name = f"cloudgreet_test_{secrets.token_hex(4)}"
    admin = server.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    always_open(url)
    yield url
    from database.engine import get_engine

    get_engine(url).dispose()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def private_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for one module's tests only, for tests that change what every other test relies on
    (the fuzzer saves whatever configuration it makes up, the demo business's included)."""
    with fresh_database(tmp_path_factory.mktemp("private-db")) as url:
        yield url


@pytest.fixture(scope="session")
async def temporal() -> Iterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        search_attributes=list(SEARCH_ATTRIBUTES),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    yield env
    if record_to := os.environ.get("CLOUDGREET_RECORD_HISTORIES"):
        await save_finished_histories(env.client, Path(record_to))
    await env.shutdown()


async def save_finished_histories(client: Client, folder: Path) -> None:
    """Keeps the histories of every finished call of this run, for tests/test_replay.py on later code.

    `CLOUDGREET_RECORD_HISTORIES=tests/fixtures/histories/new scripts/test` records them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    # A long call's earlier runs end in continue-as-new: their histories replay like any other.
    async for execution in client.list_workflows("ExecutionStatus IN ('Completed', 'ContinuedAsNew')"):
        history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
        name = f"{execution.workflow_type}-{execution.id.replace('/', '_')}-{execution.run_id[:8]}.json"
        (folder / name).write_text(history.to_json())


@pytest.fixture(scope="session")
def temporal_client(temporal: WorkflowEnvironment) -> Client:
    return temporal.client


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
        # OpenAI would have answered these 400: whichever test sent them, the project has a bug.
        assert not server.fake.refusals, f"requests OpenAI would refuse: {server.fake.refusals}"


@pytest.fixture
def fake_realtime(fake_llm: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The shared fake, its Realtime side fresh, and its chat behaviour as other tests left it afterwards."""
    behaviour = fake_llm.fake.behaviour
    fake_llm.fake.realtime.reset()
    yield fake_llm
    realtime = fake_llm.fake.realtime
    # The service would have refused these: unless the test provoked (and took) them, a bug.
    refusals, shape_errors = list(realtime.refusals), list(realtime.shape_errors)
    realtime.reset()
    fake_llm.fake.set_behaviour(behaviour if isinstance(behaviour, FakeLLMBehaviour) else FakeLLMBehaviour())
    assert not shape_errors, f"server events the SDK's types do not describe: {shape_errors}"
    assert not refusals, f"client events the Realtime service would refuse: {refusals}"


@dataclass
class ManagedProcess:
    """A CloudGreet process (API or worker) that a test may kill and start again."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    port: int | None = None
    process: subprocess.Popen | None = None
    cwd: Path = ROOT  # what the process imports first (tests/test_deploys.py runs an earlier deploy's code)

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115  (the child process writes it for its whole life)
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd)
        if self.port:
            wait_for_port(self.port, timeout=60, process=self.process, name=self.name)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Stack:
    api_url: str
    env: dict[str, str]
    simulator: TelnyxSimulatorServer
    fake_llm: FakeOpenAIServer
    temporal_client: Client
    database_url: str
    api: ManagedProcess
    worker: ManagedProcess
    signing_seed: str
    public_key: str
    extra_workers: list[ManagedProcess] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        return f"{self.api_url}/api/telnyx/voice-handler"

    def ensure_worker(self) -> None:
        if not self.worker.running():
            self.worker.start()


@contextmanager
def running_stack(
    temporal: WorkflowEnvironment,
    database_url: str,
    fake_llm: FakeOpenAIServer,
    logs: Path,
    *,
    name: str,
    llm: bool,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """An API and a worker on their own task queue, with their own Telnyx simulator."""
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    seed, public_key = generate_signing_key()
    simulator = TelnyxSimulatorServer(
        TelnyxSimulator(
            f"{api_url}/api/telnyx/voice-handler",
            signing_key_from_b64(seed),
            speech_seconds_per_char=0.002,
            caller_pause_seconds=0.25,
        )
    )
    with simulator:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_"))},
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
            "TEMPORAL_NAMESPACE": "default",
            "TEMPORAL_TASK_QUEUE": f"cloudgreet-tests-{name}",
            "TELNYX_API_KEY": "test-key",
            "TELNYX_PUBLIC_KEY": public_key,
            "TELNYX_BASE_URL": simulator.base_url,
            "TELNYX_CONNECTION_ID": "test-connection",
            # Room for a replacement worker to finish a reply whose worker was killed (tests/test_worker_crash.py).
            "TURN_DEADLINE_SECONDS": "15",
            # Tests slow the fake LLM's first token to just past the filler's 1.2 s (tests/test_speculation.py):
            # the default 2 s left those replies 0.3 s, which a loaded CI machine once took.
            "LLM_FIRST_SENTENCE_TIMEOUT_SECONDS": "4",
            # A failing LLM is remembered for a few seconds: long enough for the rest of a test call,
            # short enough that the tests after an outage find it asked again.
            "LLM_CIRCUIT_OPEN_SECONDS": "8",
            # On-call phones ring briefly in tests; the simulator decides who answers.
            "TRANSFER_RING_SECONDS": "2",
            # Signs the client_state of transfers and call-backs, as in production.
            "SECRET_KEY": SECRET_KEY,
            # Phone replies follow their own playback through the API (api/reply_windows.py), as `cloudgreet dev`.
            "API_INTERNAL_URL": api_url,
            "PYTHONUNBUFFERED": "1",
            **(
                {"OPENAI_API_KEY": "test-key", "OPENAI_BASE_URL": fake_llm.base_url, "OPENAI_MODEL": "fake-gpt"}
                if llm
                else {}
            ),
            **(extra_env or {}),
        }
        python = [sys.executable, "-m", "cloudgreet.cli"]
        api = ManagedProcess(
            f"{name}-api", [*python, "api", "--port", str(api_port)], env, logs / f"{name}-api.log", port=api_port
        )
        worker = ManagedProcess(f"{name}-worker", [*python, "worker"], env, logs / f"{name}-worker.log")
        api.start()
        worker.start()
        the_stack = Stack(
            api_url=api_url,
            env=env,
            simulator=simulator,
            fake_llm=fake_llm,
            temporal_client=temporal.client,
            database_url=database_url,
            api=api,
            worker=worker,
            signing_seed=seed,
            public_key=public_key,
        )
        try:
            yield the_stack
        finally:
            for process in [api, worker, *the_stack.extra_workers]:
                process.stop()
        # Telnyx would have refused these: whichever test sent them, the project has a bug.
        assert not simulator.simulator.refusals, f"requests Telnyx would refuse: {simulator.simulator.refusals}"


@pytest.fixture(scope="session")
def stack(
    temporal: WorkflowEnvironment,
    database_url: str,
    fake_llm: FakeOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The phone path with the (fake) LLM as the brain."""
    with running_stack(
        temporal, database_url, fake_llm, tmp_path_factory.mktemp("logs"), name="llm", llm=True
    ) as the_stack:
        yield the_stack


@pytest.fixture(scope="session")
def offline_stack(
    temporal: WorkflowEnvironment,
    database_url: str,
    fake_llm: FakeOpenAIServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The phone path with no OPENAI_API_KEY: the offline responder is the brain."""
    with running_stack(
        temporal, database_url, fake_llm, tmp_path_factory.mktemp("logs"), name="offline", llm=False
    ) as the_stack:
        yield the_stack
