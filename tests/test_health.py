"""GET /api/health and its orchestrator siblings, against real dependencies on loopback:
the Temporal dev server, the test database, the Telnyx simulator and the fake OpenAI server,
and, for each, the same dependency down (a closed port), slow (a server that never answers)
and not configured (no key).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import nacl.signing
import pytest

from simulator.telnyx_simulator import TelnyxSimulator, TelnyxSimulatorServer
from tests.conftest import free_port
from tests.in_process import SilentServer, make_settings, served_api

pytestmark = pytest.mark.database

SLOW_TIMEOUT = 0.5


@pytest.fixture(scope="module")
def telnyx_simulator() -> Iterator[TelnyxSimulatorServer]:
    simulator = TelnyxSimulator("http://127.0.0.1:9/unused", nacl.signing.SigningKey.generate())
    with TelnyxSimulatorServer(simulator) as server:
        yield server


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def healthy(temporal, database_url, telnyx_simulator, fake_llm) -> dict:  # noqa: ANN001
    """Settings under which every dependency is configured and up."""
    return {
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "DATABASE_URL": database_url,
        "TELNYX_API_KEY": "health-check-key",
        "TELNYX_BASE_URL": telnyx_simulator.base_url,
        "OPENAI_API_KEY": "health-check-key",
        "OPENAI_BASE_URL": fake_llm.base_url,
    }


def broken(name: str, port: int) -> dict:
    """The one setting that points `name` at 127.0.0.1:port instead of the real thing."""
    return {
        "temporal": {"TEMPORAL_ADDRESS": f"127.0.0.1:{port}"},
        "database": {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/cloudgreet"},
        "telnyx": {"TELNYX_BASE_URL": f"http://127.0.0.1:{port}/v2"},
        "openai": {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"},
    }[name]


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=30)


def test_everything_up_is_200_with_each_dependency_and_its_latency(healthy: dict) -> None:
    with served_api(make_settings(**healthy)) as api:
        response = get(f"{api}/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "up" and body["down"] == []
    assert set(body["dependencies"]) == {"temporal", "database", "telnyx", "openai"}
    for name, dependency in body["dependencies"].items():
        assert dependency["status"] == "up", (name, dependency)
        assert dependency["latency_ms"] >= 0


def test_no_keys_means_not_configured_which_is_not_an_outage(healthy: dict) -> None:
    settings = make_settings(**{**healthy, "TELNYX_API_KEY": None, "OPENAI_API_KEY": None})
    with served_api(settings) as api:
        response = get(f"{api}/api/health")
    assert response.status_code == 200, response.text
    dependencies = response.json()["dependencies"]
    for name in ("telnyx", "openai"):
        assert dependencies[name]["status"] == "not configured"
        assert dependencies[name]["required"] is False
    assert dependencies["temporal"]["status"] == dependencies["database"]["status"] == "up"


@pytest.mark.parametrize("name", ["temporal", "database", "telnyx", "openai"])
def test_a_dependency_that_is_down_makes_503_naming_it(name: str, healthy: dict) -> None:
    with served_api(make_settings(**{**healthy, **broken(name, free_port())})) as api:
        response = get(f"{api}/api/health")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == [name]
    assert body["dependencies"][name]["status"] == "down"
    assert body["dependencies"][name]["detail"]  # says why, e.g. the connection was refused
    others = {n: d["status"] for n, d in body["dependencies"].items() if n != name}
    assert set(others.values()) == {"up"}, others


@pytest.mark.parametrize("name", ["temporal", "database", "telnyx", "openai"])
def test_a_dependency_that_hangs_is_down_after_the_timeout_and_the_answer_still_comes(
    name: str, healthy: dict, silent: SilentServer
) -> None:
    settings = make_settings(**{**healthy, **broken(name, silent.port), "HEALTH_CHECK_TIMEOUT_SECONDS": SLOW_TIMEOUT})
    with served_api(settings) as api:
        response = get(f"{api}/api/health")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["down"] == [name]
    assert body["dependencies"][name]["detail"] == f"no answer within {SLOW_TIMEOUT:g}s"


def test_a_telnyx_base_url_without_v2_is_down_with_the_status_telnyx_answered(healthy: dict, telnyx_simulator) -> None:  # noqa: ANN001
    settings = make_settings(**{**healthy, "TELNYX_BASE_URL": telnyx_simulator.control_url})
    with served_api(settings) as api:
        response = get(f"{api}/api/health")
    assert response.status_code == 503
    assert response.json()["dependencies"]["telnyx"]["detail"] == "answered HTTP 404"


def test_readiness_needs_temporal_and_the_database_but_not_telnyx_or_openai(healthy: dict) -> None:
    outside_down = make_settings(**{**healthy, **broken("telnyx", free_port()), **broken("openai", free_port())})
    with served_api(outside_down) as api:
        assert get(f"{api}/api/health").status_code == 503
        ready = get(f"{api}/api/health/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["dependencies"]) == {"temporal", "database"}

    with served_api(make_settings(**{**healthy, **broken("temporal", free_port())})) as api:
        not_ready = get(f"{api}/api/health/ready")
    assert not_ready.status_code == 503
    assert not_ready.json()["down"] == ["temporal"]


def test_liveness_answers_while_every_dependency_is_down(healthy: dict) -> None:
    everything_down = {**healthy}
    for name in ("temporal", "database", "telnyx", "openai"):
        everything_down.update(broken(name, free_port()))
    with served_api(make_settings(**everything_down)) as api:
        assert get(f"{api}/api/health").status_code == 503
        live = get(f"{api}/api/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "up"}


def test_the_simulator_answers_the_balance_like_telnyx(telnyx_simulator) -> None:  # noqa: ANN001
    anonymous = get(f"{telnyx_simulator.base_url}/balance")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "10009"
    signed_in = httpx.get(f"{telnyx_simulator.base_url}/balance", headers={"Authorization": "Bearer any-key"})
    assert signed_in.status_code == 200
    assert signed_in.json()["data"]["record_type"] == "balance"
