"""The admin JSON API and its guard: every admin route refuses a request without the key or a
session; with them, the configuration is validated and saved, and the dashboard and call
views show what the records say.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from pydantic import SecretStr
from sqlmodel import Session

from api.app import create_app
from database.engine import get_engine
from database.models import Business
from runtime.signing import SigningPurpose, token_signer
from tests.in_process import ADMIN_KEY, SECRET_KEY, make_settings, served_api
from tests.records import add_business, add_call

pytestmark = pytest.mark.database

BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Pages and API answer these without a session, by design: they show no business data.
PUBLIC = {("GET", "/admin/login"), ("POST", "/admin/login"), ("POST", "/admin/logout")}
# 2031-03-10 and 2031-03-11 in Los Angeles (UTC-7 then): far from any real test call.
DAY_ONE, DAY_TWO = date(2031, 3, 10), date(2031, 3, 11)
BOOKING_TOOL_CALL = {"id": "call_1", "name": "book_appointment", "arguments": '{"service": "Drain cleaning"}',
                     "result": "Booked drain cleaning tomorrow at 9:00."}  # fmt: skip


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture(scope="module")
def admin_settings(database_url: str, temporal) -> dict:
    return {
        "DATABASE_URL": database_url,
        "ADMIN_API_KEY": ADMIN_KEY,
        "TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
        "TEMPORAL_UI_URL": "http://temporal-ui.example:8233",
    }


@pytest.fixture(scope="module")
def admin(admin_settings: dict) -> Iterator[httpx.Client]:
    with served_api(make_settings(**admin_settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def plumber(database_url: str) -> dict:
    """A business in Los Angeles with five calls over two days, each showing something."""
    business_id, config = add_business(database_url, "Pine Street Plumbing", timezone="America/Los_Angeles")
    calls = {
        "booked": add_call(
            database_url,
            business_id,
            started_at=utc(2031, 3, 10, 17),
            outcome="booked",
            caller="+15555550111",
            replies=[
                ("My sink is blocked", "I can send someone tomorrow at nine.", 800, "llm"),
                ("Yes please", "Booked: drain cleaning tomorrow at nine.", 1200, "llm"),
            ],
            cost=0.02,
            longest_silence_ms=1800.0,
            booking="Drain cleaning",
            tool_calls=[BOOKING_TOOL_CALL],
            errors=[("reply.llm", "the LLM gave no sentence within 2.0s")],
        ),
        "message": add_call(
            database_url,
            business_id,
            started_at=utc(2031, 3, 10, 18),
            outcome="message",
            fallback_level="offline",
            caller="+15555550122",
            replies=[("Can Sam call me back?", "I will pass the message on.", 2500, "offline")],
        ),
        "missed": add_call(
            database_url,
            business_id,
            started_at=utc(2031, 3, 11, 16),
            status="missed",
            outcome="abandoned",
            caller="+15555550133",
            cost=None,
        ),
        # 06:30 UTC on the 12th is 23:30 on the 11th in Los Angeles: it counts on the 11th.
        "last_resort": add_call(
            database_url,
            business_id,
            started_at=utc(2031, 3, 12, 6, 30),
            fallback_level="callback_promise",
            caller="+15555550144",
            replies=[("Water everywhere!", "Someone will call you right back.", 4000, "llm")],
            cost=0.03,
            escalation_attempts=[{"number": "+15555550199", "result": "no answer"}],
        ),
        "in_flight": add_call(
            database_url, business_id, started_at=utc(2031, 3, 11, 20), status="in_progress", caller="+15555550155"
        ),
    }
    return {"id": business_id, "config": config, "calls": calls}


# --- the guard --------------------------------------------------------------------------------------


def every_route(app):
    """The app's routes, those of included routers too (FastAPI 0.16x keeps those behind a context)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI lists them directly
        return app.routes
    return list(iter_route_contexts(app.routes))


def admin_routes(settings: dict) -> list[tuple[str, str]]:
    found = []
    for route in every_route(create_app(make_settings(**settings))):
        path, methods = getattr(route, "path", ""), getattr(route, "methods", None)
        if methods and path.startswith(("/admin", "/api/admin")):
            found += [(method, path) for method in sorted(methods - {"HEAD"})]
    return found


def concrete(path: str, plumber: dict) -> str:
    values = {"business_id": str(plumber["id"]), "call_id": plumber["calls"]["booked"], "caller_number": "+15555550111"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)


def stranger(url: str, address: str) -> httpx.Client:
    """A client from an address of the loopback range of its own, so its wrong keys are counted apart."""
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=30)


def test_every_admin_route_refuses_requests_without_the_key_or_a_session(admin, admin_settings, plumber) -> None:
    routes = [r for r in admin_routes(admin_settings) if r not in PUBLIC]
    # The enumeration really sees the admin side (a broken filter would make this test pass on nothing).
    assert ("GET", "/admin/dashboard") in routes and ("PUT", "/api/admin/businesses/{business_id}/config") in routes
    assert len(routes) >= 12
    forged = URLSafeTimedSerializer("some-other-key-entirely", salt="cloudgreet.admin-session").dumps("a-session-id")
    # Signed with the real SECRET_KEY, for a session the database never opened.
    unopened = token_signer(SecretStr(SECRET_KEY), SigningPurpose.ADMIN_SESSION).dumps("never-opened")
    attempts = {
        "no credentials": {},
        "a wrong key": {"Authorization": "Bearer not-the-admin-key-at-all"},
        "a forged session": {"Cookie": f"cloudgreet_admin={forged}"},
        "a session cookie that is not one": {"Cookie": "cloudgreet_admin=admin"},
        "a well-signed cookie of no session": {"Cookie": f"cloudgreet_admin={unopened}"},
    }
    for number, (method, path) in enumerate(routes, start=1):
        # One wrong key per route and address: this test is about refusing, not throttling.
        with stranger(str(admin.base_url), f"127.0.2.{number}") as client:
            for attempt, headers in attempts.items():
                response = client.request(
                    method, concrete(path, plumber), headers=headers, json={}, follow_redirects=False
                )
                where = f"{method} {path} with {attempt}"
                if path.startswith("/api/"):
                    assert response.status_code == 401, where
                    assert response.headers["www-authenticate"] == "Bearer", where
                else:
                    assert response.status_code == 303, where
                    assert urlsplit(response.headers["location"]).path == "/admin/login", where
                assert "Pine Street" not in response.text and "+1555" not in response.text, where


def test_with_the_admin_key_the_api_answers_and_the_schema_documents_it(admin, plumber) -> None:
    businesses = admin.get("/api/admin/businesses", headers=BEARER)
    assert businesses.status_code == 200
    assert {"id": plumber["id"], "name": "Pine Street Plumbing"}.items() <= next(
        b for b in businesses.json() if b["id"] == plumber["id"]
    ).items()
    schema = admin.get("/openapi.json").json()
    for path in ("/api/admin/businesses/{business_id}/config", "/api/admin/dashboard", "/api/admin/calls/{call_id}",
                 "/api/admin/instructions-preview", "/api/health", "/metrics"):  # fmt: skip
        assert path in schema["paths"], path
    assert {"HTTPBearer", "APIKeyCookie"} <= set(schema["components"]["securitySchemes"])
    assert not [p for p in schema["paths"] if p.startswith("/admin")], "the HTML pages are not part of the API"


def test_without_an_admin_key_the_admin_side_is_off_and_says_how_to_turn_it_on(admin_settings) -> None:
    with served_api(make_settings(**{**admin_settings, "ADMIN_API_KEY": None})) as url:
        api = httpx.get(f"{url}/api/admin/businesses", headers=BEARER)
        assert api.status_code == 503
        assert "ADMIN_API_KEY" in api.json()["detail"]
        login = httpx.get(f"{url}/admin/login")
        assert "The admin side is off" in login.text and "ADMIN_API_KEY" in login.text
        assert httpx.post(f"{url}/admin/login", data={"api_key": ADMIN_KEY}).status_code == 503


def test_logging_in_sets_a_session_that_only_sends_you_back_into_the_admin(admin) -> None:
    wrong = admin.post("/admin/login", data={"api_key": "guess-guess-guess", "next": "/admin/calls"})
    assert wrong.status_code == 401
    assert "That is not the admin key." in wrong.text
    assert "cloudgreet_admin" not in wrong.headers.get("set-cookie", "")

    elsewhere = admin.post(
        "/admin/login", data={"api_key": ADMIN_KEY, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == "/admin/dashboard"
    cookie = elsewhere.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert admin.get("/admin/calls", headers=session).status_code == 200
    assert admin.get("/api/admin/businesses", headers=session).status_code == 200

    logged_out = admin.post("/admin/logout", headers=session, follow_redirects=False)
    assert 'cloudgreet_admin=""' in logged_out.headers["set-cookie"]


def test_a_session_cannot_be_used_by_another_site_to_change_anything(admin, plumber) -> None:
    login = admin.post("/admin/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
    session = {"Cookie": login.headers["set-cookie"].split(";")[0]}
    url = f"/api/admin/businesses/{plumber['id']}/config"
    config = admin.get(url, headers=session).json()
    from_elsewhere = admin.put(url, json=config, headers={**session, "Origin": "https://evil.example"})
    assert from_elsewhere.status_code == 401
    host = urlsplit(str(admin.base_url)).netloc
    assert admin.put(url, json=config, headers={**session, "Origin": f"http://{host}"}).status_code == 200


# --- the configuration ------------------------------------------------------------------------------


def test_a_configuration_with_bad_values_is_refused_field_by_field_and_nothing_is_saved(admin, database_url) -> None:
    business_id, config = add_business(database_url, "Bad Values Salon")
    url = f"/api/admin/businesses/{business_id}/config"
    good = admin.get(url, headers=BEARER).json()
    cases = {
        ("on_call_numbers",): {"on_call_numbers": ["12345"]},
        ("hours", "monday"): {"hours": {"monday": {"opens": "17:00", "closes": "09:00"}}},
        ("services", 0, "duration_minutes"): {"services": [{"name": "Cut", "duration_minutes": 0}]},
        ("timezone",): {"timezone": "Mars/Olympus_Mons"},
        ("name",): {"name": ""},
    }
    for location, change in cases.items():
        response = admin.put(url, json={**good, **change}, headers=BEARER)
        assert response.status_code == 422, (location, response.text)
        problems = response.json()["detail"]
        assert [tuple(p["loc"][1:]) for p in problems] == [location], problems
        assert problems[0]["msg"]  # e.g. "Value error, not E.164 numbers: ['12345']"
    assert "not E.164" in admin.put(url, json={**good, "on_call_numbers": ["12345"]}, headers=BEARER).text
    with Session(get_engine(database_url)) as session:
        assert session.get(Business, business_id).config == config.model_dump(mode="json")


def test_a_good_configuration_is_saved_for_the_next_call(admin, database_url) -> None:
    business_id, _ = add_business(database_url, "Old Name Barbers")
    url = f"/api/admin/businesses/{business_id}/config"
    config = admin.get(url, headers=BEARER).json()
    new_number = "+15555559876"
    config.update(name="New Name Barbers", phone_number=new_number, greeting="New Name Barbers, hi!")
    saved = admin.put(url, json=config, headers=BEARER)
    assert saved.status_code == 200, saved.text
    assert admin.get(url, headers=BEARER).json()["greeting"] == "New Name Barbers, hi!"
    with Session(get_engine(database_url)) as session:
        row = session.get(Business, business_id)
        # The columns the phone path looks a business up by follow the configuration.
        assert (row.name, row.phone_number) == ("New Name Barbers", new_number)

    taken = admin.put(url, json={**config, "phone_number": "+15555550100"}, headers=BEARER)
    assert taken.status_code == 409
    assert taken.json()["detail"] == "+15555550100 is already the number of Bright Smile Dental"
    assert admin.get("/api/admin/businesses/987654/config", headers=BEARER).status_code == 404


def test_the_preview_shows_the_instructions_the_agent_would_get(admin, plumber) -> None:
    config = plumber["config"].model_dump(mode="json") | {"custom_instructions": "Always ask for the street address."}
    preview = admin.post("/api/admin/instructions-preview", json=config, headers=BEARER)
    assert preview.status_code == 200
    body = preview.json()
    assert body["greeting"] == "Thank you for calling Pine Street Plumbing. How can I help you today?"
    assert "Pine Street Plumbing" in body["instructions"]
    assert "Drain cleaning: 60 minutes, $150" in body["instructions"]
    assert "Always ask for the street address." in body["instructions"]
    assert (
        admin.post(
            "/api/admin/instructions-preview", json={**config, "timezone": "Nowhere"}, headers=BEARER
        ).status_code
        == 422
    )


# --- the dashboard and the calls --------------------------------------------------------------------


def test_the_dashboard_counts_the_key_metrics_against_their_targets(admin, plumber) -> None:
    response = admin.get(
        "/api/admin/dashboard",
        params={"business_id": plumber["id"], "since": DAY_ONE, "until": DAY_TWO},
        headers=BEARER,
    )
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["timezone"] == "America/Los_Angeles"
    assert (board["calls"], board["finished_calls"]) == (5, 4)
    metrics = {m["key"]: m for m in board["key_metrics"]}
    # Answered and handled: the booked call and the message; not the missed one nor the last resort.
    assert metrics["call_success_rate"]["value"] == 50.0 and metrics["call_success_rate"]["met"] is False
    assert metrics["average_response_latency"]["value"] == pytest.approx(2.125)
    assert metrics["average_response_latency"]["met"] is True
    assert metrics["booking_rate"]["value"] == pytest.approx(33.3)  # one booking among three answered calls
    assert metrics["customer_satisfaction"]["display"] == "not measured"
    assert metrics["customer_satisfaction"]["value"] is None
    assert [(d["day"], d["calls"], d["booked"]) for d in board["calls_per_day"]] == [
        ("2031-03-10", 2, 1),
        ("2031-03-11", 3, 0),
    ]
    assert board["outcomes"] == {"booked": 1, "message": 1, "abandoned": 1, "completed": 1}
    assert board["fallback_levels"] == {"llm": 2, "offline": 1, "callback_promise": 1}
    assert board["offline_reply_share"] == 25.0
    assert board["cost_per_call_usd"] == pytest.approx(0.02) and board["total_cost_usd"] == pytest.approx(0.06)
    buckets = {b["label"]: b["turns"] for b in board["latency_distribution"]}
    assert (buckets["0.5–1 s"], buckets["1–1.5 s"], buckets["2–3 s"], buckets["3–5 s"]) == (1, 1, 1, 1)

    backwards = admin.get("/api/admin/dashboard", params={"since": DAY_TWO, "until": DAY_ONE}, headers=BEARER)
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == "the range starts (2031-03-11) after it ends (2031-03-10)"
    assert admin.get("/api/admin/dashboard", params={"business_id": 987654}, headers=BEARER).status_code == 404


def test_the_calls_list_filters_by_status_outcome_date_and_caller(admin, plumber) -> None:
    def listed(**params: object) -> list[str]:
        response = admin.get("/api/admin/calls", params={"business_id": plumber["id"], **params}, headers=BEARER)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["calls"]]

    calls = plumber["calls"]
    newest_first = [calls["last_resort"], calls["in_flight"], calls["missed"], calls["message"], calls["booked"]]
    assert listed() == newest_first
    assert listed(status="missed") == [calls["missed"]]
    assert listed(outcome="booked") == [calls["booked"]]
    assert listed(since="2031-03-11", until="2031-03-11") == [calls["in_flight"], calls["missed"]]
    assert listed(caller="0122") == [calls["message"]]
    assert listed(limit=2, offset=1) == newest_first[1:3]
    assert admin.get("/api/admin/calls", params={"limit": 0}, headers=BEARER).status_code == 422


def test_the_call_filters_find_a_transferred_call_and_refuse_a_status_no_call_has(admin, database_url) -> None:
    business_id, _ = add_business(database_url, "Put Through Plumbing")
    transferred = add_call(
        database_url, business_id, started_at=utc(2031, 4, 1, 17), status="transferred", caller="+15555550166"
    )
    add_call(database_url, business_id, started_at=utc(2031, 4, 1, 18), caller="+15555550167")
    wanted = {"business_id": business_id, "status": "transferred"}
    listed = admin.get("/api/admin/calls", params=wanted, headers=BEARER)
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["calls"]] == [transferred]
    page = admin.get("/admin/calls", params=wanted, headers=BEARER)
    assert page.status_code == 200
    assert "+15555550166" in page.text and "+15555550167" not in page.text

    # The page's menus offer what calls can be, and nothing they cannot.
    def offered(name: str) -> list[str]:
        menu = re.search(rf'<select name="{name}">(.*?)</select>', page.text, re.S)
        return re.findall(r"<option[^>]*>(\w+)</option>", menu[1])

    assert {"transferred", "voicemail", "dialing", "in_progress", "ended", "missed"} <= set(offered("status"))
    assert "failed" not in offered("status")
    assert {"voicemail", "no_answer", "booked", "abandoned"} <= set(offered("outcome"))

    # `failed` was offered once, but no call is ever failed: refused, naming what a call can be.
    refused = admin.get("/api/admin/calls", params={"status": "failed"}, headers=BEARER)
    assert refused.status_code == 422
    assert "'transferred'" in refused.text and "'never_started'" in refused.text, refused.text
    refused_page = admin.get("/admin/calls", params={"status": "failed"}, headers=BEARER)
    assert refused_page.status_code == 422
    assert "status must be one of ringing, answering, in_progress, transferred, dialing" in refused_page.text
    assert admin.get("/api/admin/calls", params={"outcome": "won"}, headers=BEARER).status_code == 422
    refused_callbacks = admin.get("/api/admin/callbacks", params={"status": "lost"}, headers=BEARER)
    assert refused_callbacks.status_code == 422 and "'fulfilled'" in refused_callbacks.text


def test_the_longest_silence_a_caller_heard_is_on_the_call_its_page_and_the_dashboard(admin, plumber) -> None:
    call_id = plumber["calls"]["booked"]
    detail = admin.get(f"/api/admin/calls/{call_id}", headers=BEARER).json()
    assert detail["longest_silence_ms"] == 1800.0 and detail["metrics"]["longest_silence_ms"] == 1800.0
    page = admin.get(f"/admin/calls/{call_id}", headers=BEARER)
    assert page.status_code == 200 and '<dd data-field="longest-silence">1.80 s</dd>' in page.text
    board = admin.get(
        "/api/admin/dashboard",
        params={"business_id": plumber["id"], "since": DAY_ONE, "until": DAY_TWO},
        headers=BEARER,
    ).json()
    silence = next(m for m in board["key_metrics"] if m["key"] == "longest_silence")
    assert (silence["value"], silence["display"], silence["met"]) == (1.8, "1.80 s", False)


def test_a_call_shows_transcript_steps_effects_and_where_to_find_its_workflow(admin, plumber) -> None:
    call_id = plumber["calls"]["booked"]
    detail = admin.get(f"/api/admin/calls/{call_id}", headers=BEARER).json()
    assert [(t["speaker"], t["text"]) for t in detail["transcript"]] == [
        ("caller", "My sink is blocked"),
        ("agent", "I can send someone tomorrow at nine."),
        ("caller", "Yes please"),
        ("agent", "Booked: drain cleaning tomorrow at nine."),
    ]
    assert detail["transcript"][1]["reply_latency_ms"] == 800
    assert detail["transcript"][3]["tool_calls"] == [BOOKING_TOOL_CALL]
    assert [e["source"] for e in detail["errors"]] == ["reply.llm"]
    assert [b["service"] for b in detail["bookings"]] == ["Drain cleaning"]
    assert (
        detail["temporal_ui_url"]
        == f"http://temporal-ui.example:8233/namespaces/default/workflows/call-{call_id.replace(':', '%3A')}"
    )
    assert detail["live"] is None  # a finished call has no live state to ask for
    assert admin.get(f"/api/admin/calls/call-{call_id}", headers=BEARER).json()["id"] == call_id  # by workflow id too

    escalated = admin.get(f"/api/admin/calls/{plumber['calls']['last_resort']}", headers=BEARER).json()
    assert escalated["escalations"][0]["attempts"] == [{"number": "+15555550199", "result": "no answer"}]

    # No workflow runs behind this synthetic in-flight record: the view says so instead of failing.
    in_flight = admin.get(f"/api/admin/calls/{plumber['calls']['in_flight']}", headers=BEARER).json()
    assert in_flight["live"]["state"] is None
    assert "not found" in in_flight["live"]["problem"].lower()
    assert admin.get("/api/admin/calls/v3:nothing-like-it", headers=BEARER).status_code == 404


def test_the_calls_page_shows_the_filtered_calls_and_says_what_is_wrong_with_a_filter(admin, plumber) -> None:
    missed = admin.get("/admin/calls", params={"business_id": plumber["id"], "status": "missed"}, headers=BEARER)
    assert missed.status_code == 200
    assert "+15555550133" in missed.text and "+15555550111" not in missed.text
    assert "1 call." in missed.text
    backwards = admin.get("/admin/calls", params={"since": "2031-03-11", "until": "2031-03-10"}, headers=BEARER)
    assert backwards.status_code == 422
    assert "`since` (2031-03-11) is after `until` (2031-03-10)" in backwards.text
    not_a_number = admin.get("/admin/calls", params={"business_id": "pine"}, headers=BEARER)
    assert not_a_number.status_code == 422 and "business must be a number, not &#39;pine&#39;" in not_a_number.text


def test_the_configuration_form_has_a_control_for_every_field_of_the_configuration(admin, plumber) -> None:
    from business.config import BusinessConfig

    page = admin.get(f"/admin/businesses/{plumber['id']}/config", headers=BEARER)
    assert page.status_code == 200
    for name, field in BusinessConfig.model_fields.items():
        if field.exclude:
            assert f'name="{name}"' not in page.text, "an old field, read and never written, has no control"
        elif name == "services":
            assert 'name="service-duration"' in page.text
        elif name == "hours":
            assert 'data-day="sunday"' in page.text
        else:
            assert re.search(rf'<(input|textarea)[^>]* name="{name}"', page.text), f"no form control for {name}"
    # The preview beside the form starts from what is saved.
    assert "Drain cleaning: 60 minutes, $150" in page.text


def test_promised_call_backs_are_listed_soonest_first_and_filtered(admin, database_url) -> None:
    from sqlmodel import Session

    from database.engine import get_engine
    from database.models import Callback

    business_id, _ = add_business(database_url, "Call-back Listing Dental")
    with Session(get_engine(database_url)) as session:
        for key, due, status in (
            ("later", utc(2031, 5, 2, 13), "pending"),
            ("sooner", utc(2031, 5, 1, 13), "pending"),
            ("kept", utc(2031, 4, 30, 13), "done"),
        ):
            session.add(
                Callback(
                    business_id=business_id,
                    caller_number="+15555550177",
                    reason=f"about {key}",
                    due_at=due,
                    status=status,
                    idempotency_key=f"listing-{key}-{business_id}",
                )
            )
        session.commit()
    pending = admin.get("/api/admin/callbacks", params={"business_id": business_id, "status": "pending"})
    assert pending.status_code == 200
    assert [c["reason"] for c in pending.json()] == ["about sooner", "about later"]
    assert admin.get("/api/admin/callbacks", params={"status": "lost"}).status_code == 422


def test_an_admin_chooses_who_answers_a_business_line_and_the_choice_is_in_the_audit_log(
    admin: httpx.Client, database_url: str
) -> None:
    business_id, _ = add_business(database_url, "Quay Street Dental")
    path = f"/api/admin/businesses/{business_id}/phone-mode"
    chosen = admin.put(path, headers=BEARER, json={"phone_mode": "realtime_sip"})
    assert chosen.status_code == 200 and chosen.json()["phone_mode"] == "realtime_sip"
    listed = {b["id"]: b for b in admin.get("/api/admin/businesses", headers=BEARER).json()}
    assert listed[business_id]["phone_mode"] == "realtime_sip"
    changes = admin.get(f"/api/admin/businesses/{business_id}/config/changes", headers=BEARER).json()
    assert any(
        c["field"] == "phone_mode" and (c["before"], c["after"]) == ("telnyx_speech", "realtime_sip")
        for entry in changes
        for c in entry["changes"]
    ), changes
    assert admin.put(path, headers=BEARER, json={"phone_mode": "carrier_pigeon"}).status_code == 422
    assert httpx.put(f"{admin.base_url}{path}", json={"phone_mode": "telnyx_speech"}).status_code == 401  # no key
