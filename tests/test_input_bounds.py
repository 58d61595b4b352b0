"""Every value a client sends has a limit: a configuration at every limit is taken, one past a
limit gets a 422 naming the field and the limit, and nothing of it reaches the database,
Temporal or OpenAI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from business.config import (
    MAX_CLOSURES,
    MAX_EMERGENCY_PHRASES,
    MAX_ON_CALL_NUMBERS,
    MAX_SERVICES,
    WEEKDAYS,
    BusinessConfig,
)
from business.languages import MAX_LANGUAGES
from database.engine import get_engine
from database.models import Business, Call
from tests.conftest import free_port
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.records import add_business
from tests.test_realtime_session import SESSION, open_session, page_client, realtime_api

pytestmark = pytest.mark.database

TOO_BIG_ID = 2**31  # one past PostgreSQL's integer, the type of every id column


def text(length: int, seed: int = 0) -> str:
    """Words of any script, up to `length` characters: "é", "ß", CJK and emoji count one each."""
    alphabet = "abcdé ßñ 漢字 😀🦷 "
    return "".join(alphabet[(seed + i * 7) % len(alphabet)] for i in range(length))


def config_at_every_limit() -> dict[str, Any]:
    first_day = date(2031, 1, 1)
    return {
        "name": text(120),
        "business_type": text(60, 1),
        "phone_number": "+155555501234567",
        "address": text(300, 2),
        "timezone": "America/Argentina/ComodRivadavia",
        "services": [
            {"name": f"{i} {text(77, i)}", "duration_minutes": 480, "price": text(40, i)} for i in range(MAX_SERVICES)
        ],
        "hours": {day: {"opens": "00:00", "closes": "23:59"} for day in WEEKDAYS},
        "closures": [(first_day + timedelta(days=i)).isoformat() for i in range(MAX_CLOSURES)],
        # A voice and languages Telnyx takes (the admin API checks them), each at its limit.
        "voice": "Azure.en-US-" + "A" * 22 + "Neural",
        "languages": ["en-US", "es-US", "es-MX", "en-GB-WLS"],
        "voices": {
            tag: {"voice": "ElevenLabs.eleven_multilingual_v2." + "v" * 46, "api_key_ref": text(120, i)}
            for i, tag in enumerate(["en-US", "es-US", "es-MX", "en-GB-WLS"])
        },
        "greeting": text(500, 4),
        "after_hours_message": text(500, 5),
        "custom_instructions": text(4000, 6),
        "on_call_numbers": [f"+1555555{i:08d}" for i in range(MAX_ON_CALL_NUMBERS)],
        "emergency_phrases": [f"{i} {text(57, i)}" for i in range(MAX_EMERGENCY_PHRASES)],
        "booking_slot_minutes": 120,
        "sms_from_number": "+155555501234568",
        "owner_number": "+155555501234569",
    }


# One past each limit: the field the 422 names, and the words of its limit.
PAST_A_LIMIT: dict[str, tuple[Any, str]] = {
    "name": (text(121), "at most 120 characters"),
    "business_type": (text(61), "at most 60 characters"),
    "phone_number": ("+1" + "5" * 15, "at most 16 characters"),
    "address": (text(301), "at most 300 characters"),
    "timezone": ("A" * 65, "at most 64 characters"),
    "services": (
        [{"name": f"s{i}", "duration_minutes": 30} for i in range(MAX_SERVICES + 1)],
        f"at most {MAX_SERVICES} items",
    ),
    "closures": (["2031-01-01"] * (MAX_CLOSURES + 1), f"at most {MAX_CLOSURES} items"),
    "closures.0": (["2031-01-01T00:00"], "at most 10 characters"),
    "voice": (text(41), "at most 40 characters"),
    "language": ("e" * 36, "at most 35 characters"),
    "languages": (["en-US", "es-US", "es-MX", "es-ES", "en-GB"], f"at most {MAX_LANGUAGES} items"),
    "languages.0": (["e" * 36], "at most 35 characters"),
    "greeting": (text(501), "at most 500 characters"),
    "after_hours_message": (text(501), "at most 500 characters"),
    "custom_instructions": (text(4001), "at most 4000 characters"),
    "on_call_numbers": (["+15555550100"] * (MAX_ON_CALL_NUMBERS + 1), f"at most {MAX_ON_CALL_NUMBERS} items"),
    "on_call_numbers.0": (["+1" + "5" * 15], "at most 16 characters"),
    "emergency_phrases": (["fire"] * (MAX_EMERGENCY_PHRASES + 1), f"at most {MAX_EMERGENCY_PHRASES} items"),
    "emergency_phrases.0": ([text(61)], "at most 60 characters"),
    "sms_from_number": ("+1" + "5" * 15, "at most 16 characters"),
    "owner_number": ("+1" + "5" * 15, "at most 16 characters"),
    "booking_slot_minutes": (121, "less than or equal to 120"),
}


def past_a_limit(field: str) -> dict[str, Any]:
    value, _ = PAST_A_LIMIT[field]
    return config_at_every_limit() | {field.split(".")[0]: value}


def stored_config(database_url: str, business_id: int) -> dict:
    with Session(get_engine(database_url)) as session:
        return session.get(Business, business_id).config


def calls_recorded(database_url: str) -> int:
    with Session(get_engine(database_url)) as session:
        return session.exec(select(func.count()).select_from(Call)).one()


def limit_named(response: httpx.Response, location: list[Any]) -> str:
    """The message of the 422 at `location`, in FastAPI's own shape."""
    assert response.status_code == 422, response.text
    messages = [problem["msg"] for problem in response.json()["detail"] if problem["loc"] == location]
    assert messages, response.text
    return messages[0]


@pytest.fixture(scope="module")
def demo_api(database_url: str) -> Iterator[httpx.Client]:
    with served_api(make_settings(DATABASE_URL=database_url)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def test_the_demo_check_takes_a_configuration_at_every_limit(demo_api) -> None:
    answer = demo_api.post("/api/ai/check-config", json={"config": config_at_every_limit()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == text(120)
    assert text(4000, 6) in answer.json()["instructions"]


@pytest.mark.parametrize("field", PAST_A_LIMIT)
def test_the_demo_check_names_each_field_past_its_limit(demo_api, field: str) -> None:
    answer = demo_api.post("/api/ai/check-config", json={"config": past_a_limit(field)})
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["errors"]
    assert problem["field"] == field
    assert PAST_A_LIMIT[field][1] in problem["message"]


async def test_a_draft_past_a_limit_opens_no_session_and_one_at_every_limit_works(database_url, fake_realtime) -> None:
    business_id, saved = add_business(database_url, "Bounded Dental")
    admin_key = "admin-key-for-the-input-bounds-tests"
    with realtime_api(database_url, fake_realtime, ADMIN_API_KEY=admin_key) as url:
        async with page_client(url) as page:
            page.headers["Authorization"] = f"Bearer {admin_key}"  # drafts are an admin's
            too_long = await open_session(page, business_id=business_id, config=past_a_limit("custom_instructions"))
            bad_voice = await open_session(page, business_id=business_id, voice="a" * 21)
            too_big_id = await open_session(page, business_id=TOO_BIG_ID)
            too_long_offer = await page.post(SESSION, json={"business_id": business_id, "sdp": "v=0\n" + "a" * 30_000})
            assert fake_realtime.fake.realtime.calls == []

            at_limits = await open_session(page, business_id=business_id, config=config_at_every_limit())
            assert at_limits.status_code == 201, at_limits.text
    assert "at most 4000 characters" in limit_named(too_long, ["body", "config", "custom_instructions"])
    assert "at most 20 characters" in limit_named(bad_voice, ["body", "voice"])
    assert "less than or equal to 2147483647" in limit_named(too_big_id, ["body", "business_id"])
    assert "at most 30000 characters" in limit_named(too_long_offer, ["body", "sdp"])
    # A draft is only tried, never saved.
    assert stored_config(database_url, business_id) == saved.model_dump(mode="json")


async def test_the_page_forwarded_tools_route_is_gone(database_url, fake_realtime) -> None:
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as page:
            gone = await page.post(
                "/api/ai/realtime-tools/1", json={"session_token": "t", "call_id": "c1", "name": "end_call"}
            )
    assert gone.status_code == 410 and "control channel" in gone.json()["detail"]


def test_the_web_channel_bounds_its_ids_and_words(database_url) -> None:
    # Temporal is not there: whatever passed the bounds would get a 503, not a 422.
    settings = make_settings(DATABASE_URL=database_url, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    calls_before = calls_recorded(database_url)
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        too_big_id = client.post("/api/web-calls", json={"business_id": TOO_BIG_ID})
        long_call_id = client.post(f"/api/web-calls/web-{'a' * 125}/turns", json={"text": "hi"})
        odd_call_id = client.post("/api/web-calls/web%20a%3Cb%3E/hangup")
        long_words = client.post("/api/web-calls/web-abc/turns", json={"text": "a" * 2001})
    assert "less than or equal to 2147483647" in limit_named(too_big_id, ["body", "business_id"])
    assert "at most 128 characters" in limit_named(long_call_id, ["path", "call_id"])
    assert "should match pattern" in limit_named(odd_call_id, ["path", "call_id"])
    assert "at most 2000 characters" in limit_named(long_words, ["body", "text"])
    assert calls_recorded(database_url) == calls_before


def test_the_demo_pages_bound_their_query(demo_api) -> None:
    assert demo_api.get("/demo", params={"business": 3}).status_code == 200
    assert "less than or equal to 2147483647" in limit_named(
        demo_api.get("/demo", params={"business": TOO_BIG_ID}), ["query", "business"]
    )


def test_the_admin_api_bounds_what_it_saves_and_what_it_looks_up(database_url) -> None:
    business_id, saved = add_business(database_url, "Bounded Plumbing")
    settings = make_settings(DATABASE_URL=database_url, ADMIN_API_KEY=ADMIN_KEY)
    bearer = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with served_api(settings) as url, httpx.Client(base_url=url, headers=bearer, timeout=30) as admin:
        config = f"/api/admin/businesses/{business_id}/config"
        too_long = admin.put(config, json=saved.model_dump(mode="json") | {"address": text(301)})
        at_limits = admin.put(config, json=config_at_every_limit() | {"phone_number": saved.phone_number})
        assert at_limits.status_code == 200, at_limits.text
        stored_at_limits = stored_config(database_url, business_id)
        answers = {
            "id": admin.get(f"/api/admin/businesses/{TOO_BIG_ID}/config"),
            "offset": admin.get("/api/admin/calls", params={"offset": TOO_BIG_ID}),
            "day": admin.get("/api/admin/dashboard", params={"until": "9999-12-31"}),
            "call id": admin.get(f"/api/admin/calls/{'c' * 129}"),
            "status": admin.get("/api/admin/callbacks", params={"status": "s" * 41}),
            "page": admin.get("/admin/calls", params={"business_id": str(TOO_BIG_ID)}),
        }
    assert "at most 300 characters" in limit_named(too_long, ["body", "address"])
    assert stored_at_limits == BusinessConfig.model_validate(
        config_at_every_limit() | {"phone_number": saved.phone_number}
    ).model_dump(mode="json")
    assert "less than or equal to 2147483647" in limit_named(answers["id"], ["path", "business_id"])
    assert "less than or equal to 2147483647" in limit_named(answers["offset"], ["query", "offset"])
    assert "less than or equal to 2999-12-31" in limit_named(answers["day"], ["query", "until"])
    assert "at most 128 characters" in limit_named(answers["call id"], ["path", "call_id"])
    assert "Input should be 'pending', 'dialing'" in limit_named(answers["status"], ["query", "status"])
    assert answers["page"].status_code == 422 and "business must be a number from 1 to" in answers["page"].text


def test_a_body_past_the_size_limit_is_refused_while_it_arrives(database_url) -> None:
    from api.input_bounds import MAX_BODY_BYTES

    settings = make_settings(DATABASE_URL=database_url, TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}")
    padding = " " * MAX_BODY_BYTES
    body = ('{"business_id": 1' + padding + "}").encode()
    calls_before = calls_recorded(database_url)
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        declared = client.post("/api/web-calls", content=body, headers={"Content-Type": "application/json"})
        # No Content-Length: sent in chunks, counted as they come.
        streamed = client.post(
            "/api/ai/check-config",
            content=(body[i : i + 65536] for i in range(0, len(body), 65536)),
            headers={"Content-Type": "application/json"},
        )
        at_limit = client.post(
            "/api/ai/check-config",
            content=('{"config": {"name": "Padded"}' + " " * (MAX_BODY_BYTES - 30) + "}").encode(),
            headers={"Content-Type": "application/json"},
        )
    assert declared.status_code == 413 and streamed.status_code == 413, (declared.text, streamed.text)
    assert (
        streamed.request.headers["transfer-encoding"] == "chunked" and "content-length" not in streamed.request.headers
    )
    assert at_limit.status_code == 200, at_limit.text
    assert calls_recorded(database_url) == calls_before
