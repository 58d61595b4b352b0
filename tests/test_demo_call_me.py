"""The demo page's "call me" in a real browser (Debian's Chromium through Playwright): with WebRTC
failing, the page offers it beside the web channel, and the visitor's request reaches the fake
Telnyx as a dial from the business's number, answered by the receptionist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session

from database.engine import get_engine
from database.models import Business
from simulator.call_script import CallScript
from simulator.fake_openai.realtime_state import FakeRealtimeBehaviour
from simulator.fake_openai.server import FakeOpenAIServer
from tests.in_process import make_settings, served_api
from tests.records import add_business
from tests.test_call_me import GREETING_START, dials_to, fresh_visitor_number, spoken
from tests.test_realtime_session import UNLIMITED, demo_business_id

pytestmark = pytest.mark.database

expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def site(offline_stack, fake_llm: FakeOpenAIServer) -> Iterator[str]:
    """The API with OPENAI_BASE_URL at the fake (whose Realtime endpoint the tests make refuse), on the
    offline stack's database, Temporal, task queue and fake Telnyx: its worker dials and answers."""
    env = offline_stack.env
    settings = make_settings(
        DATABASE_URL=offline_stack.database_url,
        TEMPORAL_ADDRESS=env["TEMPORAL_ADDRESS"],
        TEMPORAL_TASK_QUEUE=env["TEMPORAL_TASK_QUEUE"],
        TELNYX_API_KEY=env["TELNYX_API_KEY"],
        TELNYX_BASE_URL=env["TELNYX_BASE_URL"],
        TELNYX_CONNECTION_ID=env["TELNYX_CONNECTION_ID"],
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        **UNLIMITED,
    )
    with served_api(settings) as url:
        yield url


async def test_when_webrtc_fails_the_visitor_can_be_called_instead(
    page: Page, site: str, fake_realtime, offline_stack
) -> None:
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(refuse_calls_always=True, refuse_calls_status=503))
    visitor = fresh_visitor_number()
    offline_stack.simulator.expect_outbound_call(visitor, CallScript())
    await page.goto(f"{site}/demo?business={demo_business_id(offline_stack.database_url)}")
    await page.locator("#orb").click()

    await expect(page.get_by_role("button", name="Reconnect")).to_be_visible()
    # Both fallbacks: the web channel, and "call me" beside it.
    await expect(page.locator("#notice")).to_contain_text("Switched to the phone assistant over the web")
    form = page.get_by_role("form", name="Call me")
    await expect(form).to_be_visible()

    await page.get_by_label("Your phone number").fill("+1 900 555 0199")
    await page.get_by_label("CloudGreet may call this number once now").check()
    await page.get_by_role("button", name="Call me").click()
    await expect(page.locator("#call-me-status")).to_have_text(
        "+1 900 555 0199 is a premium-rate number: we never call those."
    )

    await page.get_by_label("Your phone number").fill(visitor)
    await page.get_by_role("button", name="Call me").click()
    await expect(page.locator("#call-me-status")).to_contain_text(f"Calling {visitor} now from +15555550100")
    await expect(page.get_by_role("button", name="Call me")).to_be_disabled()
    if folder := os.environ.get("DEMO_SCREENSHOTS"):
        await page.screenshot(path=Path(folder) / "demo-call-me.png", full_page=True)

    call = await offline_stack.simulator.wait_for_outbound_call(visitor, timeout=30)
    await offline_stack.simulator.wait_ended(call, timeout=60)
    assert call.from_number == "+15555550100"
    assert len(dials_to(offline_stack, visitor)) == 1
    assert GREETING_START in spoken(call)[0]

    # A new attempt withdraws the offer: here it connects, so none is made again.
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour())
    await page.get_by_role("button", name="Reconnect").click()
    await expect(page.locator("#status")).to_have_text("Connected to Bright Smile Dental: speak now")
    await expect(form).to_have_count(0)


async def test_a_business_without_a_number_is_not_offered_call_me(
    page: Page, site: str, fake_realtime, offline_stack
) -> None:
    business_id, _ = add_business(offline_stack.database_url, "Numberless Demo Plumbing")
    with Session(get_engine(offline_stack.database_url)) as session:
        business = session.get(Business, business_id)
        business.phone_number = None
        business.demo_enabled = True  # on the public demo, as a business must be to be tried there
        session.add(business)
        session.commit()
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(refuse_calls_always=True, refuse_calls_status=503))
    await page.goto(f"{site}/demo?business={business_id}")
    async with page.expect_response(lambda r: f"/api/ai/call-me/{business_id}" in r.url) as asked:
        await page.locator("#orb").click()
    assert (await (await asked.value).json())["available"] is False
    await expect(page.locator("#notice")).to_contain_text("Switched to the phone assistant over the web")
    await expect(page.locator("#status")).to_contain_text("(web channel)")
    await expect(page.get_by_role("form", name="Call me")).to_have_count(0)
