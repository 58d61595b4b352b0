"""The admin side as a stranger tries it: guessing keys (throttled with 429 and Retry-After),
replaying a logged-out cookie or one from before a key rotation (refused), and what the audit
log of configuration changes shows and the database holds.

Each test acts from client addresses of its own in the loopback range (127.0.3.x and up), so
the wrong keys of one test never throttle another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlmodel import Session, SQLModel, select

from api.admin_auth import FAILURE_WINDOW, FAILURES_ALLOWED, SESSION_COOKIE
from api.admin_throttle import FailedAttempts
from api.app import create_app
from database.admin_models import AdminSession, ConfigChange
from database.engine import get_engine
from runtime.signing import SigningPurpose, token_signer
from simulator.serving import UvicornThread
from tests.in_process import ADMIN_KEY, SECRET_KEY, make_settings, served_api
from tests.records import add_business

pytestmark = pytest.mark.database

BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}
WRONG = {"Authorization": "Bearer not-the-admin-key-at-all"}
OTHER_SECRET = "another-signing-key-0123456789-abcdefghijk"


def client(url: str, address: str) -> httpx.Client:
    """Requests from this address of the loopback range, as a separate visitor."""
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=30)


@contextmanager
def served(app) -> Iterator[str]:
    server = UvicornThread(app)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def settings(database_url: str) -> dict:
    return {"DATABASE_URL": database_url, "ADMIN_API_KEY": ADMIN_KEY}


def log_in(visitor: httpx.Client) -> dict[str, str]:
    """Logs in through the form; returns the Cookie header the browser would send from then on."""
    response = visitor.post("/admin/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return {"Cookie": response.headers["set-cookie"].split(";")[0]}


def session_row(database_url: str, cookie: dict[str, str]) -> AdminSession:
    """The database row of the session a cookie carries (read with the SECRET_KEY the tests sign with)."""
    signed = cookie["Cookie"].split("=", 1)[1]
    session_id = token_signer(SecretStr(SECRET_KEY), SigningPurpose.ADMIN_SESSION).loads(signed)
    with Session(get_engine(database_url)) as db:
        return db.get(AdminSession, session_id)


def refused(visitor: httpx.Client, headers: dict[str, str]) -> bool:
    """Whether both the JSON API and the pages refuse these credentials."""
    api = visitor.get("/api/admin/businesses", headers=headers)
    page = visitor.get("/admin/dashboard", headers=headers, follow_redirects=False)
    login_page = page.status_code == 303 and urlsplit(page.headers["location"]).path == "/admin/login"
    return api.status_code == 401 and login_page


# --- guessing keys -------------------------------------------------------------------------------


def test_forty_wrong_keys_get_429_with_retry_after_after_the_tenth_and_the_right_key_waits_too(settings) -> None:
    with served_api(make_settings(**settings)) as url, client(url, "127.0.3.1") as guesser:
        # Half of them at a route that also asks who the caller is (for the audit log): each counts once.
        routes = [("GET", "/api/admin/businesses"), ("PUT", "/api/admin/businesses/1/config")]
        answers = [guesser.request(*routes[n % 2], headers=WRONG, json={}) for n in range(40)]
        assert [a.status_code for a in answers] == [401] * FAILURES_ALLOWED + [429] * (40 - FAILURES_ALLOWED)
        throttled = answers[-1]
        wait = int(throttled.headers["retry-after"])
        assert 0 < wait <= FAILURE_WINDOW.total_seconds()
        assert throttled.json()["detail"].startswith(
            "Too many wrong admin keys from your address (10 within 15 minutes)"
        )
        assert "Try again in " in throttled.json()["detail"] and " minutes;" in throttled.json()["detail"]

        # While it waits, the right key from that address is refused too: else guessing would go on.
        right_key = guesser.get("/api/admin/businesses", headers=BEARER)
        assert right_key.status_code == 429 and "retry-after" in right_key.headers
        form = guesser.post("/admin/login", data={"api_key": ADMIN_KEY}, follow_redirects=False)
        assert form.status_code == 429 and int(form.headers["retry-after"]) > 0
        assert "Too many wrong admin keys from your address" in form.text
        assert SESSION_COOKIE not in form.headers.get("set-cookie", "")

        with client(url, "127.0.3.2") as someone_else:
            assert someone_else.get("/api/admin/businesses", headers=BEARER).status_code == 200


def test_wrong_keys_at_the_login_form_count_as_well(settings) -> None:
    with served_api(make_settings(**settings)) as url, client(url, "127.0.3.3") as guesser:
        tries = [guesser.post("/admin/login", data={"api_key": f"guess-{n:02d}-guess-guess"}) for n in range(12)]
        assert [t.status_code for t in tries] == [401] * FAILURES_ALLOWED + [429, 429]
        assert "That is not the admin key." in tries[0].text
        assert "Too many wrong admin keys" in tries[-1].text and int(tries[-1].headers["retry-after"]) > 0
        # The form and the bearer token share one count per address.
        assert guesser.get("/api/admin/businesses", headers=BEARER).status_code == 429


def test_once_the_window_has_passed_the_right_key_works_again(settings) -> None:
    clock = [1000.0]
    app = create_app(make_settings(**settings))
    app.state.admin_failed_attempts = FailedAttempts(
        FAILURES_ALLOWED, FAILURE_WINDOW.total_seconds(), clock=lambda: clock[0]
    )
    with served(app) as url, client(url, "127.0.3.4") as visitor:
        for _ in range(FAILURES_ALLOWED):
            assert visitor.get("/api/admin/businesses", headers=WRONG).status_code == 401
        clock[0] += 60
        refused_now = visitor.get("/api/admin/businesses", headers=BEARER)
        assert refused_now.status_code == 429
        assert refused_now.headers["retry-after"] == str(int(FAILURE_WINDOW.total_seconds()) - 60)

        clock[0] += FAILURE_WINDOW.total_seconds()
        assert visitor.get("/api/admin/businesses", headers=BEARER).status_code == 200
        log_in(visitor)
        # The right key is never counted: any number of correct requests stay unthrottled.
        assert {visitor.get("/api/admin/businesses", headers=BEARER).status_code for _ in range(30)} == {200}


# --- sessions ------------------------------------------------------------------------------------


def test_a_logged_out_cookie_is_refused_even_if_someone_kept_a_copy(settings, database_url) -> None:
    with served_api(make_settings(**settings)) as url, client(url, "127.0.4.1") as person:
        cookie = log_in(person)
        assert person.get("/api/admin/businesses", headers=cookie).status_code == 200
        row = session_row(database_url, cookie)
        assert row.revoked_at is None and row.client_address == "127.0.4.1"

        logged_out = person.post("/admin/logout", headers=cookie, follow_redirects=False)
        assert logged_out.status_code == 303 and f'{SESSION_COOKIE}=""' in logged_out.headers["set-cookie"]
        assert refused(person, cookie)  # the copy the browser was told to forget
        with Session(get_engine(database_url)) as db:
            assert db.get(AdminSession, row.id).revoked_at is not None


def test_a_new_admin_key_or_secret_key_ends_every_session(settings) -> None:
    with served_api(make_settings(**settings)) as url, client(url, "127.0.4.2") as person:
        cookie = log_in(person)
        assert person.get("/api/admin/businesses", headers=cookie).status_code == 200

    rotated_key = make_settings(**{**settings, "ADMIN_API_KEY": "the-new-admin-key-0123456789"})
    with served_api(rotated_key) as url, client(url, "127.0.4.2") as person:
        assert refused(person, cookie)
        assert person.get("/api/admin/businesses", headers={"Authorization": "Bearer the-new-admin-key-0123456789"}).status_code == 200  # fmt: skip

    with served_api(make_settings(**settings, SECRET_KEY=OTHER_SECRET)) as url, client(url, "127.0.4.2") as person:
        assert refused(person, cookie)  # signed with the old SECRET_KEY


def test_log_out_everywhere_ends_every_session_but_not_the_key(settings, database_url) -> None:
    with served_api(make_settings(**settings)) as url:
        with client(url, "127.0.4.3") as laptop, client(url, "127.0.4.4") as phone:
            on_laptop, on_phone = log_in(laptop), log_in(phone)
            host = urlsplit(url).netloc
            done = phone.post(
                "/admin/logout-everywhere", headers={**on_phone, "Origin": f"http://{host}"}, follow_redirects=False
            )
            assert done.status_code == 303 and done.headers["location"] == "/admin/login"
            assert refused(laptop, on_laptop) and refused(phone, on_phone)
            assert laptop.get("/api/admin/businesses", headers=BEARER).status_code == 200
        with Session(get_engine(database_url)) as db:
            open_sessions = db.exec(select(AdminSession).where(AdminSession.revoked_at.is_(None))).all()
        assert open_sessions == []


def test_another_site_cannot_log_everyone_out(settings) -> None:
    with served_api(make_settings(**settings)) as url, client(url, "127.0.4.5") as person:
        cookie = log_in(person)
        forged = person.post(
            "/admin/logout-everywhere", headers={**cookie, "Origin": "https://evil.example"}, follow_redirects=False
        )
        assert forged.status_code == 303 and urlsplit(forged.headers["location"]).path == "/admin/login"
        assert person.get("/api/admin/businesses", headers=cookie).status_code == 200  # still logged in


def test_without_a_secret_key_the_admin_side_is_off_and_says_so(settings) -> None:
    with served_api(make_settings(**settings, SECRET_KEY=None)) as url:
        api = httpx.get(f"{url}/api/admin/businesses", headers=BEARER)
        assert api.status_code == 503
        assert api.json()["detail"].startswith("the admin side is off: set SECRET_KEY (")  # only what is missing
        login = httpx.get(f"{url}/admin/login")
        assert "The admin side is off: set SECRET_KEY" in login.text
        assert httpx.post(f"{url}/admin/login", data={"api_key": ADMIN_KEY}).status_code == 503


# --- the audit log -------------------------------------------------------------------------------


def test_a_change_through_the_api_is_in_the_audit_log_field_by_field(settings, database_url) -> None:
    business_id, _ = add_business(database_url, "Audit Trail Plumbing")
    url_of = f"/api/admin/businesses/{business_id}/config"
    with served_api(make_settings(**settings)) as url, client(url, "127.0.5.1") as program:
        config = program.get(url_of, headers=BEARER).json()
        before = {"greeting": config["greeting"], "on_call_numbers": config["on_call_numbers"]}
        changed = {**config, "greeting": "Audit Trail, this is Sam.", "on_call_numbers": ["+15555550123"]}
        assert program.put(url_of, json=changed, headers=BEARER).status_code == 200
        assert program.put(url_of, json=changed, headers=BEARER).status_code == 200  # the same again: no change
        log = program.get(f"{url_of}/changes", headers=BEARER)
        anonymous = httpx.get(f"{url}{url_of}/changes")

    assert log.status_code == 200 and anonymous.status_code == 401
    [entry] = log.json()
    assert (entry["credential"], entry["session"], entry["client_address"]) == ("bearer", None, "127.0.5.1")
    assert entry["changes"] == [
        {"field": "greeting", "before": before["greeting"], "after": "Audit Trail, this is Sam."},
        {"field": "on_call_numbers", "before": before["on_call_numbers"], "after": ["+15555550123"]},
    ]
    with Session(get_engine(database_url)) as db:
        [row] = db.exec(select(ConfigChange).where(ConfigChange.business_id == business_id)).all()
    assert row.changes == entry["changes"] and row.credential == "bearer" and row.session_id is None


def test_a_change_from_the_configuration_form_names_the_session_and_shows_on_the_page(settings, database_url) -> None:
    business_id, _ = add_business(database_url, "Form Audit Salon")
    url_of = f"/api/admin/businesses/{business_id}/config"
    with served_api(make_settings(**settings)) as url, client(url, "127.0.5.2") as person:
        cookie = log_in(person)
        session_id = session_row(database_url, cookie).id
        config = person.get(url_of, headers=cookie).json()
        # What the form's script sends: the whole configuration, with the session, from the page's origin.
        form_save = {**cookie, "Origin": f"http://{urlsplit(url).netloc}"}
        saved = person.put(url_of, json={**config, "booking_slot_minutes": 45}, headers=form_save)
        assert saved.status_code == 200, saved.text
        taken = person.put(url_of, json={**config, "phone_number": "+15555550100"}, headers=form_save)
        assert taken.status_code == 409  # refused: nothing saved, nothing logged
        page = person.get(f"/admin/businesses/{business_id}/config", headers=cookie)
        log = person.get(f"{url_of}/changes", headers=cookie).json()

    [entry] = log
    assert (entry["credential"], entry["session"]) == ("session", session_id[:8])
    assert entry["changes"] == [
        {"field": "booking_slot_minutes", "before": config["booking_slot_minutes"], "after": 45}
    ]
    changes = page.text.split('id="changes"')[1]
    assert f"session {session_id[:8]}" in changes and "from 127.0.5.2" in changes
    assert "<code>booking_slot_minutes</code>" in changes and "<code>45</code>" in changes
    with Session(get_engine(database_url)) as db:
        [row] = db.exec(select(ConfigChange).where(ConfigChange.business_id == business_id)).all()
    assert row.session_id == session_id and row.client_address == "127.0.5.2"


def test_the_migrations_build_exactly_the_tables_the_models_describe(database_url) -> None:
    import database.admin_models  # noqa: F401  (registers the admin tables, as the migrations' env.py does)

    with get_engine(database_url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
