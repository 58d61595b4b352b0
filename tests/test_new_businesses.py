"""More than one business: one is added by `cloudgreet businesses add` or the admin API on a number of its
own, and the next call to that number is answered as that business. A number belongs to one business;
a number that is taken or not E.164 is refused with a message that says so, and nothing is saved."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Business
from simulator.call_script import CallScript
from tests.in_process import ADMIN_KEY, make_settings, served_api

pytestmark = pytest.mark.database

ROOT = Path(__file__).resolve().parent.parent
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


def unused_number(database_url: str) -> str:
    """A US number no business of the shared test database has (other modules add businesses too)."""
    with Session(get_engine(database_url)) as session:
        taken = set(session.exec(select(Business.phone_number)).all())
    while (number := f"+1202555{random.randrange(10_000):04d}") in taken:
        pass
    return number


def businesses_named(database_url: str, name: str) -> list[Business]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(Business).where(Business.name == name)).all())


def cloudgreet(database_url: str, *args: str) -> subprocess.CompletedProcess:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "ADMIN_"))}
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        env={**kept, "DATABASE_URL": database_url, "NO_COLOR": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_business_added_from_the_command_line_answers_its_own_number(stack) -> None:
    number = unused_number(stack.database_url)
    added = cloudgreet(
        stack.database_url, "businesses", "add", "Harbor Lights Vet", "--number", number, "--type", "vet"
    )
    assert added.returncode == 0, added.stderr
    assert f"Harbor Lights Vet, answering {number}" in added.stdout
    assert number in cloudgreet(stack.database_url, "businesses", "list").stdout

    call = stack.simulator.place_call(CallScript(to_number=number, lines=[]))
    await stack.simulator.wait_ended(call, 60)
    spoken = [c.body["payload"] for c in call.commands if c.action == "speak" and not c.duplicate]
    assert spoken and "Harbor Lights Vet" in spoken[0], spoken


def test_a_taken_number_is_refused_naming_its_business_and_nothing_is_added(database_url: str) -> None:
    number = unused_number(database_url)
    assert cloudgreet(database_url, "businesses", "add", "First Owner Bakery", "--number", number).returncode == 0

    again = cloudgreet(database_url, "businesses", "add", "Second Owner Deli", "--number", number)
    assert again.returncode == 1
    assert f"{number} is already the number of First Owner Bakery" in again.stderr
    assert businesses_named(database_url, "Second Owner Deli") == []


@pytest.mark.parametrize("number", ["555-0100", "+1 202 555 0100", "+0123"])
def test_a_number_that_is_not_e164_is_refused_with_what_to_type(database_url: str, number: str) -> None:
    refused = cloudgreet(database_url, "businesses", "add", "Nowhere Nails", "--number", number)
    assert refused.returncode == 2
    assert "phone_number" in refused.stderr and "E.164" in refused.stderr, refused.stderr
    assert businesses_named(database_url, "Nowhere Nails") == []


@pytest.fixture(scope="module")
def admin(database_url: str) -> Iterator[httpx.Client]:
    with (
        served_api(make_settings(DATABASE_URL=database_url, ADMIN_API_KEY=ADMIN_KEY)) as url,
        httpx.Client(base_url=url, timeout=30, headers=BEARER) as client,
    ):
        yield client


def test_the_admin_api_adds_a_business_lists_it_and_logs_who_added_it(admin: httpx.Client, database_url: str) -> None:
    number = unused_number(database_url)
    created = admin.post("/api/admin/businesses", json={"name": "Maple Yoga", "phone_number": number})
    assert created.status_code == 201, created.text
    business = created.json()
    assert business["name"] == "Maple Yoga" and business["phone_number"] == number

    assert business in admin.get("/api/admin/businesses").json()
    config = admin.get(f"/api/admin/businesses/{business['id']}/config").json()
    assert config["phone_number"] == number and config["timezone"] == "America/New_York"  # the usual defaults
    changes = admin.get(f"/api/admin/businesses/{business['id']}/config/changes").json()
    assert len(changes) == 1 and changes[0]["credential"] == "bearer"
    assert {"field": "phone_number", "before": None, "after": number} in changes[0]["changes"]


def test_the_admin_api_refuses_a_taken_number_and_one_missing(admin: httpx.Client, database_url: str) -> None:
    number = unused_number(database_url)
    assert admin.post("/api/admin/businesses", json={"name": "Oak Dental", "phone_number": number}).status_code == 201

    taken = admin.post("/api/admin/businesses", json={"name": "Elm Dental", "phone_number": number})
    assert taken.status_code == 409
    assert taken.json()["detail"] == f"{number} is already the number of Oak Dental"

    missing = admin.post("/api/admin/businesses", json={"name": "Elm Dental"})
    assert missing.status_code == 422
    assert [error["loc"][-1] for error in missing.json()["detail"]] == ["phone_number"]
    assert businesses_named(database_url, "Elm Dental") == []


def test_adding_a_business_needs_the_admin_key(admin: httpx.Client, database_url: str) -> None:
    number = unused_number(database_url)
    body = {"name": "Sneaky Stranger LLC", "phone_number": number}
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-the-key"}):
        assert admin.post("/api/admin/businesses", json=body, headers=headers).status_code == 401
    assert businesses_named(database_url, "Sneaky Stranger LLC") == []


def test_the_command_line_chooses_who_answers_a_line(database_url: str) -> None:
    number = unused_number(database_url)
    assert cloudgreet(database_url, "businesses", "add", "Quayside Optician", "--number", number).returncode == 0
    with Session(get_engine(database_url)) as session:
        business = session.exec(select(Business).where(Business.phone_number == number)).one()
    chosen = cloudgreet(database_url, "businesses", "phone-mode", str(business.id), "realtime_sip")
    assert chosen.returncode == 0, chosen.stderr
    assert "is answered by realtime_sip from its next call on" in chosen.stdout
    assert f"{number:<16}  realtime_sip" in cloudgreet(database_url, "businesses", "list").stdout
    refused = cloudgreet(database_url, "businesses", "phone-mode", str(business.id), "fax")
    assert refused.returncode == 2 and "telnyx_speech, realtime_sip" in refused.stderr
