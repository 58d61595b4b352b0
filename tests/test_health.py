"""GET /api/health and its orchestrator siblings, against real dependencies on loopback:
the Temporal dev server, the test database, the Telnyx simulator and the fake OpenAI server,
and, for each, the same dependency down (a closed port), slow (a server that never answers)
and not configured (no key).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import nacl.signing
import pytest

from simulator.fake_openai.app import create_fake_openai_app
from simulator.serving import UvicornThread
from simulator.telnyx.app import create_simulator_app
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.simulator import TelnyxSimulator
from tests.conftest import free_port
from tests.in_process import ADMIN_KEY, SilentServer, make_settings, served_api
from tests.waiting import eventually

pytestmark = pytest.mark.database

SLOW_TIMEOUT = 0.5
EVERYTHING = ("temporal", "database", "telnyx", "openai")
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


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
def healthy(temporal, database_url, telnyx_simulator, fake_llm) -> dict:
    """Settings under which every dependency is configured and up."""
    return {
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "DATABASE_URL": database_url,
        "TELNYX_API_KEY": "health-check-key",
        "TELNYX_BASE_URL": telnyx_simulator.base_url,
        "OPENAI_API_KEY": "health-check-key",
        "OPENAI_BASE_URL": fake_llm.base_url,
        "ADMIN_API_KEY": ADMIN_KEY,
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


def details(api: str) -> dict:
    """What the admin sees at /api/admin/health: every dependency with its latency and why it is down."""
    response = httpx.get(f"{api}/api/admin/health", headers=BEARER, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_everything_up_is_200_saying_up_and_the_admin_sees_each_latency(healthy: dict) -> None:
    with served_api(make_settings(**healthy)) as api:
        response = get(f"{api}/api/health")
        detailed = details(api)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "up", "down": [], "dependencies": dict.fromkeys(EVERYTHING, "up")}
    assert detailed["status"] == "up" and set(detailed["dependencies"]) == set(EVERYTHING)
    for name, dependency in detailed["dependencies"].items():
        assert dependency["status"] == "up", (name, dependency)
        assert dependency["latency_ms"] >= 0


def test_no_keys_means_not_configured_which_is_not_an_outage(healthy: dict) -> None:
    settings = make_settings(**{**healthy, "TELNYX_API_KEY": None, "OPENAI_API_KEY": None})
    with served_api(settings) as api:
        response = get(f"{api}/api/health")
        detailed = details(api)
    assert response.status_code == 200, response.text
    assert response.json()["dependencies"] == {
        "temporal": "up", "database": "up", "telnyx": "not configured", "openai": "not configured"
    }  # fmt: skip
    for name in ("telnyx", "openai"):
        assert detailed["dependencies"][name]["status"] == "not configured"
        assert detailed["dependencies"][name]["required"] is False


@pytest.mark.parametrize("name", EVERYTHING)
def test_a_dependency_that_is_down_makes_503_naming_it_and_only_the_admin_reads_why(name: str, healthy: dict) -> None:
    with served_api(make_settings(**{**healthy, **broken(name, free_port())})) as api:
        response = get(f"{api}/api/health")
        detailed = details(api)
    assert response.status_code == 503, response.text
    # Exactly this, and nothing else: no latency, no error text naming hosts and ports.
    assert response.json() == {
        "status": "down",
        "down": [name],
        "dependencies": {other: "down" if other == name else "up" for other in EVERYTHING},
    }
    assert detailed["status"] == "down" and detailed["down"] == [name]
    assert detailed["dependencies"][name]["detail"]  # says why, e.g. the connection was refused
    assert detailed["dependencies"][name]["detail"] not in response.text


@pytest.mark.parametrize("name", EVERYTHING)
def test_a_dependency_that_hangs_is_down_after_the_timeout_and_the_answer_still_comes(
    name: str, healthy: dict, silent: SilentServer
) -> None:
    settings = make_settings(**{**healthy, **broken(name, silent.port), "HEALTH_CHECK_TIMEOUT_SECONDS": SLOW_TIMEOUT})
    with served_api(settings) as api:
        response = get(f"{api}/api/health")
        detailed = details(api)
    assert response.status_code == 503, response.text
    # Only the hanging one is asserted: with a timeout this short, a loaded machine may also make a
    # healthy dependency's first (cold) check late, and calling that down is the endpoint's job.
    assert name in response.json()["down"]
    assert detailed["dependencies"][name]["status"] == "down"
    assert detailed["dependencies"][name]["detail"] == f"no answer within {SLOW_TIMEOUT:g}s"


def test_a_telnyx_base_url_without_v2_is_down_with_the_status_telnyx_answered(healthy: dict, telnyx_simulator) -> None:
    settings = make_settings(**{**healthy, "TELNYX_BASE_URL": telnyx_simulator.control_url})
    with served_api(settings) as api:
        assert get(f"{api}/api/health").status_code == 503
        assert details(api)["dependencies"]["telnyx"]["detail"] == "answered HTTP 404"


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


def test_the_simulator_answers_the_balance_like_telnyx(telnyx_simulator) -> None:
    anonymous = get(f"{telnyx_simulator.base_url}/balance")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "10009"
    signed_in = httpx.get(f"{telnyx_simulator.base_url}/balance", headers={"Authorization": "Bearer any-key"})
    assert signed_in.status_code == 200
    assert signed_in.json()["data"]["record_type"] == "balance"


class CountingFake:
    """A fake's app served on loopback, counting every request it gets by path: what the keys cost."""

    def __init__(self, app) -> None:
        self._app = app
        self.hits: Counter[str] = Counter()
        self._server = UvicornThread(self)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            self.hits[scope["path"]] += 1
        await self._app(scope, receive, send)

    def __enter__(self) -> str:
        self._server.start()
        return self._server.url

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()


@pytest.fixture
def counted(healthy: dict) -> Iterator[tuple[dict, CountingFake, CountingFake]]:
    """Healthy settings whose Telnyx and OpenAI count the requests they get."""
    telnyx_fake = CountingFake(
        create_simulator_app(TelnyxSimulator("http://127.0.0.1:9/unused", nacl.signing.SigningKey.generate()))
    )
    openai_fake = CountingFake(create_fake_openai_app())
    with telnyx_fake as telnyx_url, openai_fake as openai_url:
        yield (
            {**healthy, "TELNYX_BASE_URL": f"{telnyx_url}/v2", "OPENAI_BASE_URL": f"{openai_url}/v1"},
            telnyx_fake,
            openai_fake,
        )


async def test_fifty_anonymous_hits_cost_one_call_to_telnyx_and_one_to_openai(counted) -> None:
    settings, telnyx_fake, openai_fake = counted
    with served_api(make_settings(**settings, HEALTH_CACHE_SECONDS=300)) as api:
        async with httpx.AsyncClient(base_url=api, timeout=30) as anonymous:
            # 25 at once (the first check still running when the others come) and 25 one after another.
            burst = await asyncio.gather(*(anonymous.get("/api/health") for _ in range(25)))
            one_by_one = [await anonymous.get("/api/health") for _ in range(25)]
    assert [r.status_code for r in burst + one_by_one] == [200] * 50
    assert telnyx_fake.hits["/v2/balance"] == 1
    assert openai_fake.hits["/v1/models"] == 1


async def test_the_admin_details_are_checked_now_and_the_public_answer_again_once_stale(counted) -> None:
    settings, telnyx_fake, openai_fake = counted
    with served_api(make_settings(**settings, HEALTH_CACHE_SECONDS=1)) as api:
        assert get(f"{api}/api/health").status_code == 200
        assert get(f"{api}/api/admin/health").status_code == 401  # the details are the admin's
        details(api)
        details(api)
        assert (telnyx_fake.hits["/v2/balance"], openai_fake.hits["/v1/models"]) == (3, 3)
        # Once a second has passed the next public request checks again.
        await eventually(
            lambda: get(f"{api}/api/health") and telnyx_fake.hits["/v2/balance"],
            lambda calls: calls == 4,
            what="the public health checked again after HEALTH_CACHE_SECONDS",
        )
    assert openai_fake.hits["/v1/models"] == 4
