"""`POST /api/ai/realtime-session` through the real openai SDK against the fake OpenAI server:
what the session is made of, each error a page can meet, origins and rate limits.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from sqlmodel import Session, select
from structlog.testing import capture_logs

from business.config import demo_business
from database.engine import get_engine
from database.models import Business
from receptionist.tools import realtime_tools
from simulator.fake_openai.realtime_state import FakeRealtimeBehaviour
from simulator.fake_openai.server import FakeOpenAIServer
from tests.in_process import make_settings, served_api
from tests.records import add_business

pytestmark = pytest.mark.database

SESSION = "/api/ai/realtime-session"


# The rate limits are counted in the database, which every test of a session shares: tests about
# something else must not run into the sessions other tests opened from 127.0.0.1.
UNLIMITED = {
    "REALTIME_SESSIONS_PER_CLIENT": 100_000,
    "REALTIME_SESSIONS_PER_BUSINESS": 100_000,
    "WEB_CONVERSATIONS_PER_BUSINESS_PER_HOUR": 100_000,
}


def fresh_loopback_address() -> str:
    """A client address of the loopback range that no other test counts against."""
    return f"127.{random.randrange(10, 250)}.{random.randrange(0, 250)}.{random.randrange(1, 250)}"


@contextmanager
def realtime_api(database_url: str, fake_llm: FakeOpenAIServer, **overrides: object) -> Iterator[str]:
    """The real app over HTTP on loopback, with an OpenAI key and OPENAI_BASE_URL at the fake."""
    values: dict[str, object] = {
        "DATABASE_URL": database_url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": fake_llm.base_url,
        **UNLIMITED,
    }
    with served_api(make_settings(**(values | overrides))) as url:
        yield url


@asynccontextmanager
async def page_client(
    url: str, *, address: str = "127.0.0.1", origin: str | None = "same"
) -> AsyncIterator[httpx.AsyncClient]:
    """What a page's fetch() sends: its Origin (the API's own by default), from a client address of the loopback range."""
    headers = {} if origin is None else {"Origin": url if origin == "same" else origin}
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=url, headers=headers, transport=transport, timeout=30) as client:
        yield client


def demo_business_id(database_url: str) -> int:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(Business.id).where(Business.phone_number == "+15555550100")).one()


async def test_a_session_carries_the_business_instructions_voice_and_tools(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as page:
            response = await page.post(SESSION, json={"business_id": business_id})
    assert response.status_code == 201, response.text
    session = response.json()

    [sent] = fake_realtime.fake.realtime.secret_requests
    wanted = sent["session"]
    assert wanted["type"] == "realtime"
    assert wanted["model"] == session["model"] == "gpt-realtime-1.5"
    # The phone path's instructions, from the same builder and configuration.
    instructions = wanted["instructions"]
    assert instructions == session["instructions"]
    assert instructions.startswith("You are the receptionist of Bright Smile Dental, a dental office.")
    assert "- Cleaning: 30 minutes, $90" in instructions
    assert "Offer the earliest free slot when someone wants to book." in instructions
    assert "Speak en-US." in instructions
    # "female" is no Realtime voice: the configured default stands in.
    assert wanted["audio"]["output"]["voice"] == session["voice"] == "marin"
    assert wanted["audio"]["input"]["transcription"]["language"] == "en"
    assert wanted["tools"] == realtime_tools()
    assert {tool["name"] for tool in wanted["tools"]} >= {
        "check_availability",
        "book_appointment",
        "escalate_to_human",
        "end_call",
    }
    assert wanted["tool_choice"] == "auto"
    assert sent["expires_after"] == {"anchor": "created_at", "seconds": 300}

    # What the page needs: the ephemeral key OpenAI issued, where to send the SDP offer, the cap.
    assert session["client_secret"] in fake_realtime.fake.realtime.secrets
    assert session["sdp_url"] == f"{fake_realtime.base_url}/realtime/calls"
    assert session["expires_at"] == fake_realtime.fake.realtime.secrets[session["client_secret"]]["expires_at"]
    assert session["max_session_seconds"] == 300
    assert session["business_name"] == "Bright Smile Dental"
    assert session["greeting"].startswith("Thank you for calling Bright Smile Dental.")
    assert session["tools_url"] == f"/api/ai/realtime-tools/{business_id}"
    assert session["tools_token"]


async def test_voice_language_and_a_draft_configuration_shape_the_session(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    draft = demo_business().model_copy(
        update={"name": "Draft Dental", "voice": "male", "custom_instructions": "Speak like a pirate."}
    )
    with realtime_api(database_url, fake_realtime, REALTIME_MAX_SESSION_SECONDS=120) as url:
        async with page_client(url) as page:
            chosen = await page.post(SESSION, json={"business_id": business_id, "voice": "coral", "language": "es-MX"})
            drafted = await page.post(
                SESSION, json={"business_id": business_id, "config": draft.model_dump(mode="json")}
            )
    assert chosen.status_code == 201 and drafted.status_code == 201, (chosen.text, drafted.text)
    first, second = (request["session"] for request in fake_realtime.fake.realtime.secret_requests)
    assert first["audio"]["output"]["voice"] == chosen.json()["voice"] == "coral"
    assert "Speak es-MX." in first["instructions"] and first["audio"]["input"]["transcription"]["language"] == "es"
    assert chosen.json()["language"] == "es-MX"
    assert second["instructions"].startswith("You are the receptionist of Draft Dental")
    assert "Speak like a pirate." in second["instructions"]
    assert second["audio"]["output"]["voice"] == "cedar"  # a "male" voice
    assert drafted.json()["business_name"] == "Draft Dental"
    assert fake_realtime.fake.realtime.secret_requests[0]["expires_after"]["seconds"] == 120
    assert drafted.json()["max_session_seconds"] == 120


async def test_without_an_openai_key_the_page_is_told_clearly(database_url, fake_realtime) -> None:
    with realtime_api(database_url, fake_realtime, OPENAI_API_KEY=None) as url:
        async with page_client(url) as page:
            response = await page.post(SESSION, json={"business_id": demo_business_id(database_url)})
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.json()["detail"]
    assert fake_realtime.fake.realtime.secret_requests == []


async def test_openai_refusing_is_a_502_whose_reason_goes_to_the_log_only(database_url, fake_realtime) -> None:
    fake_realtime.fake.realtime.set_behaviour(
        FakeRealtimeBehaviour(
            refuse_secrets_next=1, refuse_secrets_status=403, refuse_secrets_message="Project lacks Realtime access."
        )
    )
    with realtime_api(database_url, fake_realtime) as url, capture_logs() as logs:
        async with page_client(url) as page:
            refused = await page.post(SESSION, json={"business_id": demo_business_id(database_url)})
            again = await page.post(SESSION, json={"business_id": demo_business_id(database_url)})
    assert refused.status_code == 502
    detail = refused.json()["detail"]
    assert detail.startswith("OpenAI did not open a Realtime session; try again later (reference ")
    assert "Project lacks" not in refused.text and fake_realtime.base_url not in refused.text
    [failure] = [line for line in logs if line["event"] == "upstream failed"]
    assert failure["reference"] in detail
    assert failure["reason"] == "Project lacks Realtime access." and failure["status"] == 403
    assert again.status_code == 201


async def test_openai_unreachable_is_a_502_that_names_no_address(database_url, fake_realtime) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with realtime_api(database_url, fake_realtime, OPENAI_BASE_URL=dead) as url, capture_logs() as logs:
        async with page_client(url) as page:
            response = await page.post(SESSION, json={"business_id": demo_business_id(database_url)})
    assert response.status_code == 502
    assert response.json()["detail"].startswith("OpenAI could not be reached; try again later (reference ")
    assert dead.removeprefix("http://").removesuffix("/v1") not in response.text
    [failure] = [line for line in logs if line["event"] == "upstream failed"]
    assert failure["base_url"] == dead and failure["reference"] in response.text


async def test_unknown_businesses_and_bad_bodies_are_refused_clearly(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as page:
            unknown = await page.post(SESSION, json={"business_id": 999_999})
            bad = {
                "not a number": await page.post(SESSION, json={"business_id": "many"}),
                "no business": await page.post(SESSION, json={}),
                "robot voice": await page.post(SESSION, json={"business_id": business_id, "voice": "robot"}),
                "bad language": await page.post(
                    SESSION, json={"business_id": business_id, "language": "english please"}
                ),
                "bad draft": await page.post(
                    SESSION, json={"business_id": business_id, "config": {"name": "X", "timezone": "Mars/Base"}}
                ),
                "unknown field": await page.post(SESSION, json={"business_id": business_id, "model": "gpt-5"}),
                "not JSON": await page.post(SESSION, content=b"{", headers={"Content-Type": "application/json"}),
            }
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "business 999999 does not exist"
    assert {name: r.status_code for name, r in bad.items()} == dict.fromkeys(bad, 422)
    assert "choose one of alloy" in bad["robot voice"].text
    assert "unknown timezone 'Mars/Base'" in bad["bad draft"].text
    assert fake_realtime.fake.realtime.secret_requests == []


async def test_only_allowed_origins_open_sessions(database_url, fake_realtime) -> None:
    body = {"business_id": demo_business_id(database_url)}
    partner = "https://partner.example"
    with realtime_api(database_url, fake_realtime, REALTIME_ALLOWED_ORIGINS=f"{partner}, https://other.example") as url:
        async with page_client(url, origin=None) as script:
            no_origin = await script.post(SESSION, json=body)
        async with page_client(url, origin="https://evil.example") as evil:
            foreign = await evil.post(SESSION, json=body)
            foreign_preflight = await evil.options(SESSION, headers={"Access-Control-Request-Method": "POST"})
        async with page_client(url, origin=partner) as friend:
            friendly_preflight = await friend.options(SESSION, headers={"Access-Control-Request-Method": "POST"})
            friendly = await friend.post(SESSION, json=body)
        async with page_client(url) as own:
            own_page = await own.post(SESSION, json=body)
    assert no_origin.status_code == 403 and "Origin" in no_origin.json()["detail"]
    assert foreign.status_code == 403
    assert (
        foreign.json()["detail"]
        == "origin https://evil.example may not open demo sessions; add it to REALTIME_ALLOWED_ORIGINS"
    )
    assert foreign_preflight.status_code == 403
    assert friendly_preflight.status_code == 204
    assert friendly_preflight.headers["access-control-allow-origin"] == partner
    assert friendly.status_code == 201 and friendly.headers["access-control-allow-origin"] == partner
    assert own_page.status_code == 201 and "access-control-allow-origin" not in own_page.headers
    assert len(fake_realtime.fake.realtime.secret_requests) == 2


async def test_sessions_are_rate_limited_per_client_and_per_business(database_url, fake_realtime) -> None:
    dental, _ = add_business(database_url, "Rate Limited Dental")
    plumber, _ = add_business(database_url, "Rate Limited Plumbing")
    limits = {"REALTIME_SESSIONS_PER_CLIENT": 2, "REALTIME_SESSIONS_PER_BUSINESS": 3}
    one, two, three = (fresh_loopback_address() for _ in range(3))
    with realtime_api(database_url, fake_realtime, **limits) as url:
        async with page_client(url, address=one) as first, page_client(url, address=two) as second:
            a = [(await first.post(SESSION, json={"business_id": dental})).status_code for _ in range(3)]
            limited = await first.post(SESSION, json={"business_id": plumber})
            b = [(await second.post(SESSION, json={"business_id": dental})).status_code for _ in range(2)]
            other_business = await second.post(SESSION, json={"business_id": plumber})
        async with page_client(url, address=three) as third:
            business_full = await third.post(SESSION, json={"business_id": dental})
            fresh = await third.post(SESSION, json={"business_id": plumber})
    # Two per client: the first client's third request is refused, whichever business it asks for.
    assert a == [201, 201, 429]
    assert limited.status_code == 429 and "too many demo sessions" in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 2 * 3600
    # Three per business: the dental office is full after the second client's first session ...
    assert b == [201, 429]
    assert other_business.status_code == 201
    # ... for a third client too, while another business still takes sessions.
    assert business_full.status_code == 429
    assert fresh.status_code == 201
    assert len(fake_realtime.fake.realtime.secret_requests) == 5


async def test_two_api_replicas_on_one_database_allow_the_limit_once(database_url, fake_realtime) -> None:
    business_id, _ = add_business(database_url, "Replicated Plumbing")
    limits = {"REALTIME_SESSIONS_PER_BUSINESS": 3}
    with (
        realtime_api(database_url, fake_realtime, **limits) as one,
        realtime_api(database_url, fake_realtime, **limits) as two,
    ):
        answers = []
        for url in [one, two, one, two, one, two]:
            async with page_client(url, address=fresh_loopback_address()) as page:
                answers.append((await page.post(SESSION, json={"business_id": business_id})).status_code)
    assert answers == [201, 201, 201, 429, 429, 429]


def test_a_misspelt_allowed_origin_is_refused_at_start_up() -> None:
    from pydantic import ValidationError

    from runtime.settings import Settings

    with pytest.raises(ValidationError, match=r"REALTIME_ALLOWED_ORIGINS: 'partner\.example' is not an origin"):
        Settings(_env_file=None, REALTIME_ALLOWED_ORIGINS="https://ok.example, partner.example")
    assert Settings(_env_file=None, REALTIME_ALLOWED_ORIGINS="https://ok.example/, *").realtime_origins == {
        "https://ok.example",
        "*",
    }
