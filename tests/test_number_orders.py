"""A new business's number bought at Telnyx: searched and ordered with the real `telnyx` SDK against the
simulator, from the admin API and from `cloudgreet businesses`. The number's next call is answered as the
business given it; an order Telnyx fails, or one for a number a business here already answers, adds
nothing and says why."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import telnyx
from sqlmodel import Session, select

from activities.number_orders import NumberOrderFailed, available_numbers, order_number
from database.engine import get_engine
from database.models import Business
from simulator.call_script import CallScript
from simulator.telnyx.server import TelnyxSimulatorServer
from simulator.telnyx.signing import generate_signing_key, signing_key_from_b64
from simulator.telnyx.simulator import TelnyxSimulator
from tests.in_process import ADMIN_KEY, make_settings, served_api

ROOT = Path(__file__).resolve().parent.parent
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def telnyx_alone() -> AsyncIterator[TelnyxSimulatorServer]:
    """A simulator of its own: what it has sold is this test's doing only."""
    seed, _ = generate_signing_key()
    server = TelnyxSimulatorServer(TelnyxSimulator("http://127.0.0.1:9/unused", signing_key_from_b64(seed)))
    async with server:
        yield server


def sdk(server: TelnyxSimulatorServer) -> telnyx.AsyncTelnyx:
    return telnyx.AsyncTelnyx(api_key="test-key", base_url=server.base_url, max_retries=0)


def businesses_named(database_url: str, name: str) -> list[Business]:
    with Session(get_engine(database_url)) as session:
        return list(session.exec(select(Business).where(Business.name == name)).all())


async def test_numbers_for_sale_are_found_by_area_code_with_their_place_and_price(telnyx_alone) -> None:
    async with sdk(telnyx_alone) as client:
        chicago = await available_numbers(client, area_code="312", limit=5)
        with_digits = await available_numbers(client, area_code="415", contains="5550105")
    assert len(chicago) == 5
    assert all(n.phone_number.startswith("+1312") and n.place == "CHICAGO, IL" for n in chicago)
    assert all({"voice", "sms"} <= set(n.features) and n.monthly_cost == "1.00" for n in chicago)
    assert [n.phone_number for n in with_digits] == ["+14155550105"]


async def test_an_order_settles_and_the_number_sold_is_no_longer_offered_nor_sold_twice(telnyx_alone) -> None:
    async with sdk(telnyx_alone) as client:
        first = (await available_numbers(client, area_code="512", limit=1))[0].phone_number
        waited: list[float] = []
        bought = await order_number(client, first, connection_id="c-1", poll_seconds=0.1, on_pending=waited.append)
        assert bought.status == "success" and bought.phone_number == first
        assert waited, "the order was pending first, as Telnyx's are, and the wait was reported"
        assert first not in [n.phone_number for n in await available_numbers(client, area_code="512", limit=50)]
        again = await order_number(client, first, connection_id="c-1", poll_seconds=0.1)
        assert again.already_ours and again.status == "success", "a retried order finds the number bought"
        assert len(telnyx_alone.simulator.numbers.orders) == 1, "and does not order it twice"
        someone_elses = (await available_numbers(client, area_code="512", limit=1))[0].phone_number
        telnyx_alone.simulator.numbers.sold.add(someone_elses)  # another Telnyx customer bought it meanwhile
        with pytest.raises(NumberOrderFailed, match=f"could not sell {someone_elses.replace('+', '[+]')}"):
            await order_number(client, someone_elses, connection_id="c-1", poll_seconds=0.1)
    assert bought.order_id is not None
    order = telnyx_alone.simulator.numbers.orders[bought.order_id]
    assert order.connection_id == "c-1", "the number's calls go to our Call Control connection"


async def test_our_numbers_are_listed_as_telnyx_lists_them(telnyx_alone) -> None:
    """GET /v2/phone_numbers in the SDK's own model, matched on digits as Telnyx matches them."""
    async with sdk(telnyx_alone) as client:
        first = (await available_numbers(client, area_code="617", limit=1))[0].phone_number
        await order_number(client, first, connection_id="c-1", poll_seconds=0.1)
        by_digits = await client.phone_numbers.list(filter={"phone_number": first.lstrip("+")})
        with_plus = await client.phone_numbers.list(filter={"phone_number": first})
    assert [(n.phone_number, n.status, n.connection_id) for n in by_digits.data] == [(first, "active", "c-1")]
    assert with_plus.data == [], "Telnyx finds nothing for a filter with a non-digit in it"
    auth = {"Authorization": "Bearer test-key"}
    async with httpx.AsyncClient(base_url=telnyx_alone.base_url, headers=auth) as http:
        assert (await http.get("/phone_numbers", params={"filter[colour]": "red"})).status_code == 400


async def test_the_simulator_refuses_what_telnyx_refuses_in_a_search_or_an_order(telnyx_alone) -> None:
    auth = {"Authorization": "Bearer test-key"}
    async with httpx.AsyncClient(base_url=telnyx_alone.base_url, headers=auth) as http:
        unknown = await http.get("/available_phone_numbers", params={"filter[colour]": "red"})
        assert unknown.status_code == 400 and "colour" in unknown.json()["errors"][0]["detail"]
        wrong = await http.get("/available_phone_numbers", params={"filter[limit]": "many"})
        assert wrong.status_code == 400
        assert (await http.get("/available_phone_numbers")).status_code == 200
        assert (await http.get("/available_phone_numbers", headers={"Authorization": "Bearer"})).status_code == 401
        for body, where in (
            ({"phone_numbers": [{"phone_number": "312-555-0100"}]}, "phone_numbers"),
            ({"phone_numbers": []}, "phone_numbers"),
            ({"phone_numbers": [{"number": "+13125550100"}]}, "phone_numbers/0/phone_number"),
            ({"phone_numbers": [{"phone_number": "+13125550100"}], "colour": "red"}, "colour"),
        ):
            refused = await http.post("/number_orders", json=body)
            assert refused.status_code == 422, body
            assert refused.json()["errors"][0]["source"]["pointer"] == f"/{where}", refused.json()
        assert (await http.get("/number_orders/no-such-order")).status_code == 404
    assert telnyx_alone.simulator.numbers.orders == {}, "nothing refused was ordered"


@pytest.fixture
def admin(stack) -> Iterator[httpx.Client]:
    """The admin API of the stack's database and simulator, with Telnyx settings to buy numbers."""
    settings = make_settings(
        DATABASE_URL=stack.database_url,
        ADMIN_API_KEY=ADMIN_KEY,
        TELNYX_API_KEY="test-key",
        TELNYX_BASE_URL=stack.simulator.base_url,
        TELNYX_CONNECTION_ID="test-connection",
    )
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=90, headers=BEARER) as client:
        yield client


async def test_a_number_bought_from_the_admin_api_answers_as_the_business_given_it(stack, admin) -> None:
    offered = admin.get("/api/admin/numbers/available", params={"area_code": "617", "limit": 3})
    assert offered.status_code == 200, offered.text
    number = offered.json()[0]["phone_number"]
    assert offered.json()[0]["place"] == "BOSTON, MA"

    bought = admin.post("/api/admin/numbers/orders", json={"phone_number": number})
    assert bought.status_code == 201, bought.text
    assert bought.json()["status"] == "success"
    orders_before = len(stack.simulator.simulator.numbers.orders)
    again = admin.post("/api/admin/numbers/orders", json={"phone_number": number})  # a retry after a lost answer
    assert again.status_code == 200 and again.json()["already_ours"], again.text
    assert len(stack.simulator.simulator.numbers.orders) == orders_before, "not ordered a second time"

    assert admin.post("/api/admin/businesses", json={"name": "Beacon Hill Barbers", "phone_number": number}).is_success
    # Taken here now: not bought a second time at Telnyx.
    orders_before = len(stack.simulator.simulator.numbers.orders)
    taken = admin.post("/api/admin/numbers/orders", json={"phone_number": number})
    assert taken.status_code == 409 and "Beacon Hill Barbers" in taken.json()["detail"]
    assert len(stack.simulator.simulator.numbers.orders) == orders_before

    call = stack.simulator.place_call(CallScript(to_number=number, lines=[]))
    await stack.simulator.wait_ended(call, 60)
    spoken = [c.body["payload"] for c in call.commands if c.action == "speak" and not c.duplicate]
    assert spoken and "Beacon Hill Barbers" in spoken[0], spoken


def test_the_admin_api_refuses_an_order_it_cannot_place(stack) -> None:
    no_telnyx = make_settings(DATABASE_URL=stack.database_url, ADMIN_API_KEY=ADMIN_KEY)
    with served_api(no_telnyx) as url, httpx.Client(base_url=url, headers=BEARER) as client:
        assert client.get("/api/admin/numbers/available").status_code == 503
        assert client.post("/api/admin/numbers/orders", json={"phone_number": "+16175550199"}).status_code == 503
        assert client.post("/api/admin/numbers/orders", json={"phone_number": "617-555-0199"}).status_code == 422
        stranger = client.get("/api/admin/numbers/available", headers={"Authorization": "Bearer guess"})
        assert stranger.status_code == 401


def cloudgreet(stack, *args: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("TELNYX_", "OPENAI_", "TEMPORAL_", "ADMIN_"))}
    telnyx_env = {
        "TELNYX_API_KEY": "test-key",
        "TELNYX_BASE_URL": stack.simulator.base_url,
        "TELNYX_CONNECTION_ID": "test-connection",
    }
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        env={**kept, **telnyx_env, "DATABASE_URL": stack.database_url, "NO_COLOR": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )


async def test_the_command_line_buys_a_number_and_adds_the_business_only_once_it_is_ours(stack) -> None:
    listed = cloudgreet(stack, "businesses", "numbers", "--area-code", "415", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    number = listed.stdout.split()[0]
    assert number.startswith("+1415") and "SAN FRANCISCO, CA" in listed.stdout

    added = cloudgreet(stack, "businesses", "add", "Golden Gate Grooming", "--number", number, "--order")
    assert added.returncode == 0, added.stderr
    assert f"Bought {number}" in added.stdout and f"answering {number}" in added.stdout
    assert "pending at Telnyx" in added.stderr, "the wait for the order is shown"

    # A number Telnyx does not sell: the order fails, and the business is not added.
    sold = cloudgreet(stack, "businesses", "add", "Bay Grooming", "--number", "+14155550999", "--order")
    assert sold.returncode == 1 and "could not sell +14155550999" in sold.stderr and "no business added" in sold.stderr
    assert businesses_named(stack.database_url, "Bay Grooming") == []
