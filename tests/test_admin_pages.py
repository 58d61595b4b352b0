"""The admin pages in a real browser (Debian's Chromium driven by Playwright) against the real
stack: log in, fix a configuration the form refused, hear the next call use it, and find a
finished call on the dashboard with its transcript.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session

from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Business
from simulator.call_script import CallScript
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.records import add_business
from tests.test_new_businesses import unused_number
from tests.test_phone_call import finished_workflow, spoken

pytestmark = pytest.mark.database

NEW_GREETING = "Riverside Plumbing, this is Robin. What is leaking today?"


@pytest.fixture(scope="module")
def site(stack) -> Iterator[str]:
    """The admin pages of an API on the stack's database and Temporal, with an admin key."""
    settings = make_settings(
        DATABASE_URL=stack.database_url, ADMIN_API_KEY=ADMIN_KEY, TEMPORAL_ADDRESS=stack.env["TEMPORAL_ADDRESS"]
    )
    with served_api(settings) as url:
        yield url


@pytest.fixture(scope="module")
def plumber(stack) -> tuple[int, BusinessConfig]:
    # No opening hours: the greeting (not an after-hours message) answers at any hour the tests run.
    return add_business(stack.database_url, "Riverside Plumbing")


async def log_in(page: Page, site: str, path: str) -> None:
    await page.goto(f"{site}{path}")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await page.get_by_label("Admin key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{site}{path}")


def stored_config(stack, business_id: int) -> BusinessConfig:
    with Session(get_engine(stack.database_url)) as session:
        return BusinessConfig.model_validate(session.get(Business, business_id).config)


async def test_a_wrong_key_is_refused_and_the_pages_need_a_login(page: Page, site: str) -> None:
    await page.goto(f"{site}/admin/dashboard")
    assert page.url.startswith(f"{site}/admin/login")
    await page.get_by_label("Admin key").fill("not-the-key-not-the-key")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("That is not the admin key.")
    response = await page.goto(f"{site}/api/admin/businesses")
    assert response.status == 401


async def test_the_configuration_panel_refuses_a_bad_value_and_the_next_call_uses_a_good_one(
    page: Page,
    site: str,
    stack,
    plumber,
) -> None:
    business_id, config = plumber
    await log_in(page, site, f"/admin/businesses/{business_id}/config")
    on_call = page.get_by_label("On-call numbers for emergencies")
    greeting = page.get_by_label("Greeting", exact=True)

    await on_call.fill("12345")
    await page.get_by_role("button", name="Save configuration").click()
    problems = page.locator("#form-problems")
    await expect(problems).to_be_visible()
    await expect(problems).to_contain_text("On-call numbers for emergencies: not E.164 numbers: ['12345']")
    await expect(page.locator('.field[data-path="on_call_numbers"] .field-error')).to_have_text(
        "not E.164 numbers: ['12345']"
    )
    assert stored_config(stack, business_id).on_call_numbers == []  # nothing was saved

    await on_call.fill("+15555550199")
    await greeting.fill(NEW_GREETING)
    # The preview follows the form: this greeting is what a caller will hear.
    await expect(page.locator("#preview-greeting")).to_have_text(NEW_GREETING)
    await page.get_by_role("button", name="Save configuration").click()
    await expect(page.locator("#save-status")).to_have_text("Saved. The next call uses this configuration.")
    await expect(problems).to_be_hidden()
    saved = stored_config(stack, business_id)
    assert (saved.greeting, saved.on_call_numbers) == (NEW_GREETING, ["+15555550199"])

    call = stack.simulator.place_call(CallScript(to_number=config.phone_number, lines=["My kitchen sink is leaking"]))
    await stack.simulator.wait_ended(call, 60)
    assert spoken(call)[0] == NEW_GREETING


async def test_a_finished_call_is_on_the_dashboard_and_its_page_shows_the_transcript(
    page: Page,
    site: str,
    stack,
    plumber,
    tmp_path,
) -> None:
    business_id, config = plumber
    call = stack.simulator.place_call(
        CallScript(to_number=config.phone_number, from_number="+15555550177", lines=["Do you fix water heaters?"])
    )
    await stack.simulator.wait_ended(call, 60)
    await finished_workflow(stack, call)

    await log_in(page, site, f"/admin/dashboard?business_id={business_id}")
    await expect(page.get_by_role("heading", name="Dashboard · Riverside Plumbing")).to_be_visible()
    for label in ("Call success rate", "Average response latency", "Appointment booking rate", "Customer satisfaction"):
        await expect(page.get_by_role("heading", name=label)).to_be_visible()
    await expect(page.locator('[data-metric="customer_satisfaction"] .value')).to_have_text("not measured")
    # Chart.js drew the charts (served by the API itself, no CDN).
    assert await page.evaluate("Object.keys(Chart.instances).length") >= 4
    row = page.locator("table.calls tr", has_text="+15555550177")
    await expect(row).to_have_count(1)
    await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

    await row.get_by_role("link").click()
    await page.wait_for_url("**/admin/calls/**")
    await expect(page.get_by_role("heading", name="Call from +15555550177")).to_be_visible()
    transcript = page.locator("#transcript")
    await expect(transcript.locator("li.caller")).to_contain_text(["Do you fix water heaters?"])
    await expect(transcript.locator("li.agent")).to_contain_text(["Thanks for asking about Do you fix water heaters."])
    link = page.get_by_role("link", name="Open the workflow in the Temporal UI")
    assert (await link.get_attribute("href")).endswith(f"/workflows/call-{call.call_control_id.replace(':', '%3A')}")
    await page.screenshot(path=tmp_path / "call.png", full_page=True)


async def test_a_business_added_on_the_configuration_page_answers_its_number(page: Page, site: str, stack, plumber):
    business_id, config = plumber
    await log_in(page, site, f"/admin/businesses/{business_id}/config")
    new = page.locator("#new-business-form")
    await new.get_by_label("Name").fill("Cedar Street Bakery")
    await new.get_by_label("Phone number").fill(config.phone_number)  # the plumber's: taken
    await new.get_by_role("button", name="Add business").click()
    await expect(page.locator("#new-business-problems")).to_contain_text(
        f"{config.phone_number} is already the number of Riverside Plumbing"
    )

    number = unused_number(stack.database_url)
    await new.get_by_label("Phone number").fill(number)
    await new.get_by_role("button", name="Add business").click()
    await expect(page.get_by_role("heading", name="Configuration · Cedar Street Bakery")).to_be_visible()

    call = stack.simulator.place_call(CallScript(to_number=number, lines=[]))
    await stack.simulator.wait_ended(call, 60)
    assert "Cedar Street Bakery" in spoken(call)[0]


async def test_an_admin_puts_a_business_on_the_public_demo_and_takes_it_off(page: Page, site: str, stack) -> None:
    business_id, _ = add_business(stack.database_url, "Demo Listing Bakery")

    async def listed() -> bool:
        demo = await page.context.new_page()
        await demo.goto(f"{site}/demo")
        names = await demo.locator("#business option").all_text_contents()
        await demo.close()
        return any("Demo Listing Bakery" in name for name in names)

    assert not await listed()  # off by default
    await log_in(page, site, f"/admin/businesses/{business_id}/config")
    await page.get_by_label("On the public demo page").check()
    await expect(page.locator("#demo-status")).to_have_text("Listed on /demo.")
    assert await listed()
    await page.get_by_label("On the public demo page").uncheck()
    await expect(page.locator("#demo-status")).to_have_text("Not on /demo.")
    assert not await listed()
