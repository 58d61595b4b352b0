"""Schemathesis over the OpenAPI schema of every route: the public ones as a stranger calls them,
the admin ones with the admin key. Whatever it sends, valid or not, no answer is a 5xx and
every answer fits the schema (status, content type, body).

The API is the real app served on loopback in this process, with everything it talks to up: a
database, the Temporal dev server with a worker process for the web channel, and the fake
OpenAI server; so a 5xx is the API's own fault. A few examples per route, the same on every
run, keep it short and reproducible.

Each route's cases come from schemathesis' strategies under a plain pytest parametrize: its
pytest plugin (`@schema.parametrize()`) fails under pytest 9.2 ('Function' object has no
attribute '_nodeid').
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from nacl.signing import SigningKey
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from simulator.fake_openai.server import FakeOpenAIServer
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from tests.conftest import ManagedProcess
from tests.in_process import ADMIN_KEY, make_settings, served_api

pytestmark = pytest.mark.database

TASK_QUEUE = "cloudgreet-tests-fuzz"
EXAMPLES_PER_ROUTE = 25


@pytest.fixture(scope="module")
def fuzz_worker(private_database_url: str, temporal, fake_llm: FakeOpenAIServer, tmp_path_factory) -> Iterator[str]:
    """A worker for the web conversations the fuzzer starts; yields Temporal's address."""
    address = temporal.client.service_client.config.target_host
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": private_database_url,
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
        "TELNYX_API_KEY": "test-key",  # the worker needs one; web conversations never call Telnyx
        "TELNYX_BASE_URL": "http://127.0.0.1:9/v2",
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": fake_llm.base_url,
        "OPENAI_MODEL": "fake-gpt",
        "PYTHONUNBUFFERED": "1",
    }
    logs: Path = tmp_path_factory.mktemp("fuzz-logs")
    worker = ManagedProcess("fuzz-worker", [sys.executable, "-m", "cloudgreet.cli", "worker"], env, logs / "worker.log")
    worker.start()
    try:
        yield address
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def fuzz_telnyx() -> Iterator[str]:
    """The Telnyx simulator for the routes that call Telnyx (numbers for sale, orders, recordings); its base URL."""
    seed, _ = generate_signing_key()
    with TelnyxSimulatorServer(TelnyxSimulator("http://127.0.0.1:9/unused", signing_key_from_b64(seed))) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def api_url(private_database_url: str, fuzz_worker: str, fake_llm: FakeOpenAIServer, fuzz_telnyx: str) -> Iterator[str]:
    settings = make_settings(
        TELNYX_API_KEY="test-key",
        TELNYX_BASE_URL=fuzz_telnyx,
        TELNYX_CONNECTION_ID="fuzz-connection",
        # A loaded machine's first checks can be slow; a 503 here would be the machine's, not the API's.
        HEALTH_CHECK_TIMEOUT_SECONDS=10.0,
        DATABASE_URL=private_database_url,
        TEMPORAL_ADDRESS=fuzz_worker,
        TEMPORAL_TASK_QUEUE=TASK_QUEUE,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        ADMIN_API_KEY=ADMIN_KEY,
        # Webhooks can be verified (a fuzzer's are refused as unsigned, not as "not configured").
        TELNYX_PUBLIC_KEY=base64.b64encode(bytes(SigningKey.generate().verify_key)).decode(),
        # OpenAI's webhooks too: a fuzzer's are refused as unsigned (400).
        OPENAI_WEBHOOK_SECRET="whsec_" + base64.b64encode(b"the fuzzer never knows this secret").decode(),
        REALTIME_SESSIONS_PER_CLIENT=10_000,
        REALTIME_SESSIONS_PER_BUSINESS=10_000,
    )
    with served_api(settings) as url:
        yield url


FUZZING = SchemathesisConfig.from_dict(
    {
        # Only the admin key below authenticates. Made-up keys and cookies (and the check that
        # sends them) would count as wrong guesses and lock the fuzzer's address out of every admin
        # route (api/admin_throttle.py); tests/test_admin_api.py and test_admin_security.py try them.
        "generation": {"with-security-parameters": False},
        "checks": {
            "ignored_auth": {"enabled": False},
            # Rules JSON Schema cannot state (a known timezone, opening before closing, a range that
            # starts before it ends, an E.164 number) make some schema-valid bodies a 422 that
            # names the field; that 422 is the right answer, not a failure.
            "positive_data_acceptance": {"enabled": False},
        },
    }
)
# The app's own schema, as /openapi.json serves it: a route added later is fuzzed too.
SCHEMA = schemathesis.openapi.from_dict(create_app(make_settings()).openapi(), config=FUZZING)
OPERATIONS = {operation.label: operation for operation in (result.ok() for result in SCHEMA.get_all_operations())}


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_route_answers_within_its_schema_and_never_5xx(api_url: str, label: str) -> None:
    operation = OPERATIONS[label]
    # The Origin of the API's own pages, which the browser-demo routes ask for; the admin key for
    # the admin routes only.
    headers = {"Origin": api_url}
    if operation.path.startswith("/api/admin/"):
        headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    # Values the schema allows, and values it forbids (which must get a 4xx, never a 5xx).
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=True,  # the same examples on every run: a failure here is reproducible
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def answers_well(case: Case) -> None:
        case.call_and_validate(base_url=api_url, headers=headers, timeout=30)

    answers_well()
