"""`POST /api/ai/realtime-session` through the real openai SDK against the fake OpenAI server: the
page's SDP offer becomes a call the server creates and controls; what the session is made of,
who may ask for which session, each error a page can meet, origins, rate limits and minutes.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from aiortc import RTCPeerConnection
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
from tests.waiting import eventually

ADMIN_KEY = "admin-key-for-realtime-session-tests"

pytestmark = pytest.mark.database

SESSION = "/api/ai/realtime-session"


# The rate limits are counted in the database, which every test of a session shares: tests about
# something else must not run into the sessions other tests opened from 127.0.0.1.
UNLIMITED = {
    "REALTIME_SESSIONS_PER_CLIENT": 100_000,
    "REALTIME_SESSIONS_PER_BUSINESS": 100_000,
    "WEB_CONVERSATIONS_PER_BUSINESS_PER_HOUR": 100_000,
    "REALTIME_MINUTES_PER_BUSINESS_PER_DAY": 1_000_000,
    "REALTIME_MINUTES_PER_DAY": 1_000_000,
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


async def sdp_offer() -> str:
    """A browser's WebRTC offer: one audio track and the "oai-events" data channel."""
    pc = RTCPeerConnection()
    pc.createDataChannel("oai-events")
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    offer = str(pc.localDescription.sdp)
    await pc.close()
    return offer


async def open_session(page: httpx.AsyncClient, **fields: object) -> httpx.Response:
    """What the page posts: its SDP offer and the business (and what else the test gives)."""
    return await page.post(SESSION, json={"sdp": await sdp_offer(), **fields})


def created_sessions(fake: FakeOpenAIServer) -> list[dict]:
    """The sessions the server asked the fake to create calls with."""
    return [c["requested_session"] for c in fake.fake.realtime.snapshot()["calls"] if c["requested_session"]]


def demo_business_id(database_url: str) -> int:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(Business.id).where(Business.phone_number == "+15555550100")).one()


async def test_a_session_carries_the_business_instructions_voice_and_tools(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as page:
            response = await open_session(page, business_id=business_id)
        assert response.status_code == 201, response.text
        session = response.json()
        # The server joined the call's control channel (it runs the tools there).
        await eventually(
            lambda: fake_realtime.fake.realtime.snapshot()["calls"][0]["control_channels"],
            lambda joined: joined == 1,
            what="the server's control channel",
        )

    [call] = fake_realtime.fake.realtime.snapshot()["calls"]
    # The server created the call with its own key: no client secret was ever made.
    assert call["created_with"] == "api_key" and call["authorization"] == "Bearer test-key"
    assert fake_realtime.fake.realtime.secret_requests == [] and call["secret"] is None
    assert call["call_id"] == session["call_id"] and session["sdp"].startswith("v=0")
    assert "client_secret" not in session and "tools_token" not in session
    # The API stopped: the call it still controlled was hung up, not left running.
    assert call["hung_up"] is True

    wanted = call["requested_session"]
    assert wanted["type"] == "realtime"
    assert wanted["model"] == session["model"] == "gpt-realtime-1.5"
    # The phone path's instructions, from the same builder and configuration.
    instructions = wanted["instructions"]
    assert "instructions" not in session, "what the agent is told stays on the server"
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
    assert session["max_session_seconds"] == 300
    assert session["business_name"] == "Bright Smile Dental"
    assert session["greeting"].startswith("Thank you for calling Bright Smile Dental.")


async def test_voice_language_and_an_admins_draft_configuration_shape_the_session(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    draft = demo_business().model_copy(
        update={"name": "Draft Dental", "voice": "male", "custom_instructions": "Speak like a pirate."}
    )
    with realtime_api(database_url, fake_realtime, ADMIN_API_KEY=ADMIN_KEY) as url:
        async with page_client(url) as page:
            chosen = await open_session(page, business_id=business_id, voice="coral", language="es-MX")
            page.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
            drafted = await open_session(page, business_id=business_id, config=draft.model_dump(mode="json"))
    assert chosen.status_code == 201 and drafted.status_code == 201, (chosen.text, drafted.text)
    first, second = created_sessions(fake_realtime)
    assert first["audio"]["output"]["voice"] == chosen.json()["voice"] == "coral"
    assert "Speak es-MX." in first["instructions"] and first["audio"]["input"]["transcription"]["language"] == "es"
    assert chosen.json()["language"] == "es-MX"
    assert second["instructions"].startswith("You are the receptionist of Draft Dental")
    assert "Speak like a pirate." in second["instructions"]
    assert second["audio"]["output"]["voice"] == "cedar"  # a "male" voice
    assert drafted.json()["business_name"] == "Draft Dental"


async def test_a_stranger_gets_no_session_with_its_own_instructions_nor_for_a_business_off_the_demo(
    database_url, fake_realtime
) -> None:
    """A script that forges the API's own Origin, without an admin login: no draft, no hidden business."""
    hidden, _ = add_business(database_url, "Private Plumbing")  # not opted in to the public demo
    draft = demo_business().model_copy(update={"custom_instructions": "Tell every caller a secret."})
    with realtime_api(database_url, fake_realtime, ADMIN_API_KEY=ADMIN_KEY) as url:
        async with page_client(url) as script:
            drafted = await open_session(
                script, business_id=demo_business_id(database_url), config=draft.model_dump(mode="json")
            )
            off_demo = await open_session(script, business_id=hidden)
            script.cookies.set("cloudgreet_admin", "forged")
            forged_cookie = await open_session(script, business_id=hidden)
            tools = await script.post(
                f"/api/ai/realtime-tools/{hidden}",
                json={"session_token": "x", "call_id": "c", "name": "book_appointment", "arguments": "{}"},
            )
        async with page_client(url) as admin:
            admin.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
            admins = await open_session(admin, business_id=hidden)
    assert drafted.status_code == off_demo.status_code == forged_cookie.status_code == 401
    assert "admin login required" in drafted.json()["detail"]
    # The page-forwarded tool endpoint is gone: the server runs the tools itself.
    assert tools.status_code == 410
    assert admins.status_code == 201, admins.text
    assert [
        s["instructions"].startswith("You are the receptionist of Private Plumbing")
        for s in created_sessions(fake_realtime)
    ] == [True]
    assert fake_realtime.fake.realtime.secret_requests == []


async def test_only_the_page_that_started_a_call_hangs_it_up_and_no_private_number_reaches_the_agent(
    database_url, fake_realtime
) -> None:
    """A call id seen elsewhere (a log, another visitor's page, a SIP phone call) ends nothing without the
    token the session's answer gave its own page; the owner's private numbers are not in the agent's words."""
    plumber, _ = add_business(
        database_url,
        "Burst Pipe Plumbing",
        demo_enabled=True,
        on_call_numbers=["+13125550187"],
        custom_instructions="For a burst pipe out of hours, give callers the owner's cell, 312-555-0144.",
    )
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url, address=fresh_loopback_address()) as page:
            mine = (await open_session(page, business_id=plumber)).json()
            theirs = (await open_session(page, business_id=plumber)).json()
            hang_up = f"/api/ai/realtime-session/{mine['call_id']}/hangup"
            async with page_client(url, address=fresh_loopback_address()) as stranger:
                refused = [
                    await stranger.post(hang_up, json={"call_token": token})
                    for token in ("forged", theirs["call_token"], mine["call_token"] + "x")
                ]
                no_token = await stranger.post(hang_up)
            calls = {c["call_id"]: c for c in fake_realtime.fake.realtime.snapshot()["calls"]}
            still_up = not calls[mine["call_id"]]["hung_up"]
            mine_ended = await page.post(hang_up, json={"call_token": mine["call_token"]})
            await eventually(
                lambda: fake_realtime.fake.realtime.snapshot()["calls"],
                lambda now: any(c["call_id"] == mine["call_id"] and c["hung_up"] for c in now),
                what="the page's own call hung up",
            )
    assert [r.status_code for r in refused] == [404, 404, 404] and no_token.status_code == 422
    assert still_up, "a stranger's hang-up ended nothing"
    assert mine_ended.status_code == 204
    instructions = calls[mine["call_id"]]["requested_session"]["instructions"]
    assert "For a burst pipe" in instructions
    assert "555-0144" not in instructions and "5550144" not in instructions and "5550187" not in instructions


async def test_without_an_openai_key_the_page_is_told_clearly(database_url, fake_realtime) -> None:
    with realtime_api(database_url, fake_realtime, OPENAI_API_KEY=None) as url:
        async with page_client(url) as page:
            response = await open_session(page, business_id=demo_business_id(database_url))
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.json()["detail"]
    assert fake_realtime.fake.realtime.calls == []


async def test_openai_refusing_is_a_502_whose_reason_goes_to_the_log_only(database_url, fake_realtime) -> None:
    fake_realtime.fake.realtime.set_behaviour(
        FakeRealtimeBehaviour(refuse_calls_next=2, refuse_calls_status=500)
    )  # the SDK retries once
    with realtime_api(database_url, fake_realtime) as url, capture_logs() as logs:
        async with page_client(url) as page:
            refused = await open_session(page, business_id=demo_business_id(database_url))
            again = await open_session(page, business_id=demo_business_id(database_url))
    assert refused.status_code == 502
    detail = refused.json()["detail"]
    assert detail.startswith("OpenAI did not open a Realtime session; try again later (reference ")
    assert "refused by the fake" not in refused.text and fake_realtime.base_url not in refused.text
    [failure] = [line for line in logs if line["event"] == "upstream failed"]
    assert failure["reference"] in detail
    assert "refused by the fake" in failure["reason"] and failure["status"] == 500
    assert again.status_code == 201


async def test_openai_unreachable_is_a_502_that_names_no_address(database_url, fake_realtime) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    with realtime_api(database_url, fake_realtime, OPENAI_BASE_URL=dead) as url, capture_logs() as logs:
        async with page_client(url) as page:
            response = await open_session(page, business_id=demo_business_id(database_url))
    assert response.status_code == 502
    assert response.json()["detail"].startswith("OpenAI could not be reached; try again later (reference ")
    assert dead.removeprefix("http://").removesuffix("/v1") not in response.text
    [failure] = [line for line in logs if line["event"] == "upstream failed"]
    assert failure["base_url"] == dead and failure["reference"] in response.text


async def test_unknown_businesses_and_bad_bodies_are_refused_clearly(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    with realtime_api(database_url, fake_realtime, ADMIN_API_KEY=ADMIN_KEY) as url:
        async with page_client(url) as page:
            unknown = await open_session(page, business_id=999_999)
            page.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
            bad = {
                "not a number": await open_session(page, business_id="many"),
                "no business": await open_session(page),
                "no offer": await page.post(SESSION, json={"business_id": business_id}),
                "not an offer": await page.post(SESSION, json={"business_id": business_id, "sdp": "hello there"}),
                "robot voice": await open_session(page, business_id=business_id, voice="robot"),
                "bad language": await open_session(page, business_id=business_id, language="english please"),
                "bad draft": await open_session(
                    page, business_id=business_id, config={"name": "X", "timezone": "Mars/Base"}
                ),
                "unknown field": await open_session(page, business_id=business_id, model="gpt-5"),
                "not JSON": await page.post(SESSION, content=b"{", headers={"Content-Type": "application/json"}),
            }
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "business 999999 does not exist"
    assert {name: r.status_code for name, r in bad.items()} == dict.fromkeys(bad, 422)
    assert "choose one of alloy" in bad["robot voice"].text
    assert "unknown timezone 'Mars/Base'" in bad["bad draft"].text
    assert "not an SDP offer" in bad["not an offer"].text
    assert fake_realtime.fake.realtime.calls == []


async def test_only_allowed_origins_open_sessions(database_url, fake_realtime) -> None:
    business_id = demo_business_id(database_url)
    partner = "https://partner.example"
    with realtime_api(database_url, fake_realtime, REALTIME_ALLOWED_ORIGINS=f"{partner}, https://other.example") as url:
        async with page_client(url, origin=None) as script:
            no_origin = await open_session(script, business_id=business_id)
        async with page_client(url, origin="https://evil.example") as evil:
            foreign = await open_session(evil, business_id=business_id)
            foreign_preflight = await evil.options(SESSION, headers={"Access-Control-Request-Method": "POST"})
        async with page_client(url, origin=partner) as friend:
            friendly_preflight = await friend.options(SESSION, headers={"Access-Control-Request-Method": "POST"})
            friendly = await open_session(friend, business_id=business_id)
        async with page_client(url) as own:
            own_page = await open_session(own, business_id=business_id)
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
    assert len(created_sessions(fake_realtime)) == 2


async def test_sessions_are_rate_limited_per_client_and_per_business(database_url, fake_realtime) -> None:
    dental, _ = add_business(database_url, "Rate Limited Dental", demo_enabled=True)
    plumber, _ = add_business(database_url, "Rate Limited Plumbing", demo_enabled=True)
    limits = {"REALTIME_SESSIONS_PER_CLIENT": 2, "REALTIME_SESSIONS_PER_BUSINESS": 3}
    one, two, three = (fresh_loopback_address() for _ in range(3))
    with realtime_api(database_url, fake_realtime, **limits) as url:
        async with page_client(url, address=one) as first, page_client(url, address=two) as second:
            a = [(await open_session(first, business_id=dental)).status_code for _ in range(3)]
            limited = await open_session(first, business_id=plumber)
            b = [(await open_session(second, business_id=dental)).status_code for _ in range(2)]
            other_business = await open_session(second, business_id=plumber)
        async with page_client(url, address=three) as third:
            business_full = await open_session(third, business_id=dental)
            fresh = await open_session(third, business_id=plumber)
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
    assert len(created_sessions(fake_realtime)) == 5


async def test_daily_realtime_minutes_are_capped_per_business_and_for_the_installation(
    database_url, fake_realtime
) -> None:
    """Each session reserves its whole cap (here 60 s) from today's minutes, and gives back what it
    did not use when it ends; the counts are in the database, shared by every replica."""
    dental, _ = add_business(database_url, "Minute Capped Dental", demo_enabled=True)
    plumber, _ = add_business(database_url, "Minute Capped Plumbing", demo_enabled=True)
    other, _ = add_business(database_url, "Minute Capped Bakery", demo_enabled=True)
    limits = {
        "REALTIME_MAX_SESSION_SECONDS": 60,
        "REALTIME_MINUTES_PER_BUSINESS_PER_DAY": 2,  # two sessions of a minute
        # The installation's budget is shared with every other test's sessions today: room for 3.5 more here.
        "REALTIME_MINUTES_PER_DAY": installation_minutes_spent(database_url) + 3.5,
    }
    with realtime_api(database_url, fake_realtime, **limits) as url:
        async with page_client(url, address=fresh_loopback_address()) as page:
            dental_sessions = [await open_session(page, business_id=dental) for _ in range(3)]
            plumbing = await open_session(page, business_id=plumber)
            installation_full = await open_session(page, business_id=other)
            # A session that ends gives back what it did not use: the bakery gets its turn.
            first = dental_sessions[0].json()
            hung_up = await page.post(
                f"/api/ai/realtime-session/{first['call_id']}/hangup", json={"call_token": first["call_token"]}
            )
            await eventually(
                lambda: installation_minutes_spent(database_url),
                lambda spent: spent < limits["REALTIME_MINUTES_PER_DAY"] - 1,
                what="the ended session's minutes given back",
            )
            bakery = await open_session(page, business_id=other)
    assert [r.status_code for r in dental_sessions] == [201, 201, 429]
    business_full = dental_sessions[2]
    assert business_full.json()["detail"].startswith("Minute Capped Dental's voice demo has used its minutes for today")
    assert 1 <= int(business_full.headers["retry-after"]) <= 86_400
    assert plumbing.status_code == 201
    assert installation_full.status_code == 503
    assert installation_full.json()["detail"].startswith("The voice demo has used all its minutes for today")
    assert hung_up.status_code == 204
    assert bakery.status_code == 201, bakery.text


def installation_minutes_spent(database_url: str) -> float:
    from database.rate_limits import RateLimitWindow, spend_day

    with Session(get_engine(database_url)) as session:
        seconds = session.exec(
            select(RateLimitWindow.hits).where(
                RateLimitWindow.key == "realtime-seconds-all", RateLimitWindow.window_number == spend_day(time.time())
            )
        ).first()
    return (seconds or 0) / 60


async def test_two_api_replicas_on_one_database_allow_the_limit_once(database_url, fake_realtime) -> None:
    business_id, _ = add_business(database_url, "Replicated Plumbing", demo_enabled=True)
    limits = {"REALTIME_SESSIONS_PER_BUSINESS": 3}
    with (
        realtime_api(database_url, fake_realtime, **limits) as one,
        realtime_api(database_url, fake_realtime, **limits) as two,
    ):
        answers = []
        for url in [one, two, one, two, one, two]:
            async with page_client(url, address=fresh_loopback_address()) as page:
                answers.append((await open_session(page, business_id=business_id)).status_code)
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
