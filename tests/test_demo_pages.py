"""The browser demo in a real browser: Debian's Chromium (driven by Playwright, fake microphone)
sends its WebRTC offer to the API, which creates the call at the fake Realtime endpoint (an aiortc
peer inside the fake OpenAI server) and controls it; the page falls back to the phone brain (the
offline stack's worker) over the web channel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from business.config import demo_business
from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from simulator.fake_openai.fake_speech import append_events, silence, spoken
from simulator.fake_openai.realtime_state import FakeRealtimeBehaviour
from simulator.fake_openai.server import FakeOpenAIServer
from tests.in_process import make_settings, served_api
from tests.records import add_business
from tests.test_realtime_session import UNLIMITED, demo_business_id
from tests.waiting import eventually

pytestmark = pytest.mark.database


expect.set_options(timeout=20_000)

ADMIN_KEY = "admin-key-for-the-demo-page-tests"


def site_settings(offline_stack, fake_llm: FakeOpenAIServer, **overrides: object):
    return make_settings(
        DATABASE_URL=offline_stack.database_url,
        TEMPORAL_ADDRESS=offline_stack.env["TEMPORAL_ADDRESS"],
        TEMPORAL_TASK_QUEUE=offline_stack.env["TEMPORAL_TASK_QUEUE"],
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        ADMIN_API_KEY=ADMIN_KEY,
        **(UNLIMITED | overrides),
    )


@pytest.fixture(scope="module")
def site(offline_stack, fake_llm: FakeOpenAIServer) -> Iterator[str]:
    """The API with an OpenAI key and OPENAI_BASE_URL at the fake (where it creates the calls), on
    the offline stack's database, Temporal and task queue: its worker is the phone brain of the
    fallback, with the offline responder."""
    with served_api(site_settings(offline_stack, fake_llm)) as url:
        yield url


async def log_in(page: Page, site: str, path: str) -> None:
    """An admin's login (the /test-agent-simple page, where drafts are tried, is an admin's)."""
    await page.goto(f"{site}{path}")
    await page.get_by_label("Admin key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{site}{path}")


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("DEMO_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))


def script(fake: FakeOpenAIServer, *rules: FakeReplyRule) -> None:
    fake.fake.set_behaviour(FakeLLMBehaviour(rules=list(rules)))


def calls(fake: FakeOpenAIServer) -> list[dict]:
    return fake.fake.realtime.snapshot()["calls"]


async def speak(page: Page, words: str) -> None:
    """The visitor says `words`: audio streamed into the session's input buffer, then a pause, which
    the service's server VAD takes as the end of the turn (the fake hears the words in the audio)."""
    events = append_events(spoken(words) + silence(800))
    await page.evaluate("events => events.forEach((e) => window.cloudgreetDemo.agent.send(e))", events)


async def test_the_orb_connects_and_the_transcript_shows_both_sides(
    page: Page, site: str, fake_realtime, offline_stack, screenshots
) -> None:
    script(
        fake_realtime,
        FakeReplyRule(contains="cleaning", reply="A cleaning takes 30 minutes and costs $90."),
        FakeReplyRule(contains="saturday", reply="We are closed on Saturdays."),
    )
    business_id = demo_business_id(offline_stack.database_url)
    await page.goto(f"{site}/demo?business={business_id}")
    await expect(page.locator("#orb-label")).to_have_text("Press the orb to talk")

    await page.locator("#orb").click()
    await expect(page.locator("#orb")).to_have_attribute("data-state", "listening")
    await expect(page.locator("#status")).to_have_text("Connected to Bright Smile Dental: speak now")
    await expect(page.locator("#timer")).to_contain_text("left in this demo")
    # The receptionist speaks first, as on the phone.
    greeting = page.locator('#transcript li[data-role="agent"]').first
    await expect(greeting).to_contain_text("Thank you for calling Bright Smile Dental.")

    await expect(greeting).to_have_attribute("data-final", "true")
    # Speech (audio the fake's VAD and transcriber hear) and the agent's answer, both shown; the
    # transcription arrives after the answer, as it may from the service.
    await speak(page, "How much is a cleaning?")
    await expect(page.locator('#transcript li[data-role="user"] .text')).to_have_text(["How much is a cleaning?"])
    await expect(page.locator('#transcript li[data-role="agent"][data-final="true"] .text').nth(1)).to_have_text(
        "A cleaning takes 30 minutes and costs $90."
    )
    # Typing works too.
    await page.get_by_label("Type instead of speaking").fill("Are you open on Saturday?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator('#transcript li[data-role="user"] .text').nth(1)).to_have_text(
        "Are you open on Saturday?"
    )
    await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_have_text(
        "We are closed on Saturdays."
    )
    await page.screenshot(path=screenshots / "demo.png", full_page=True)

    # The server created the call from the page's offer with its own key, and joined its control
    # channel; no client secret was ever made.
    [call] = calls(fake_realtime)
    assert call["status_code"] == 201 and call["channel_open"] is True
    assert (call["created_with"], call["authorization"], call["control_channels"]) == ("api_key", "Bearer test-key", 1)
    assert fake_realtime.fake.realtime.secrets == {}

    await page.get_by_role("button", name="Hang up").click()
    await expect(page.locator("#status")).to_have_text("You hung up.")
    await expect(page.locator("#orb")).to_have_attribute("data-state", "idle")
    await expect(page.get_by_role("button", name="Hang up")).to_be_hidden()


async def test_the_server_says_goodbye_and_hangs_up_at_the_cap(
    page: Page, offline_stack, fake_llm: FakeOpenAIServer, fake_realtime
) -> None:
    with served_api(site_settings(offline_stack, fake_llm, REALTIME_MAX_SESSION_SECONDS=4)) as short_site:
        await page.goto(f"{short_site}/demo?business={demo_business_id(offline_stack.database_url)}")
        await page.locator("#orb").click()
        await expect(page.locator("#status")).to_have_text("Connected to Bright Smile Dental: speak now")
        # At the cap the server asks the agent for a goodbye, then hangs up the call itself.
        await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_have_text(
            "Our time for this demo is up. Thank you for calling Bright Smile Dental. Goodbye!"
        )
        await expect(page.locator("#status")).to_have_text("The demo ended after its limit of 0.1 minutes.")
        await expect(page.locator("#orb")).to_have_attribute("data-state", "idle")
        await expect(page.locator("#timer")).to_be_hidden()
        await expect(page.get_by_role("button", name="Reconnect")).to_be_hidden()
    [call] = calls(fake_realtime)
    assert call["hung_up"] is True
    goodbye = [e for e in call["client_events"] if e["type"] == "response.create"][-1]
    assert "Goodbye!" in goodbye["response"]["instructions"]


async def test_a_tool_call_is_run_by_the_server_over_the_control_channel(
    page: Page, site: str, fake_realtime, offline_stack, screenshots
) -> None:
    script(
        fake_realtime,
        FakeReplyRule(
            contains="free times", tool_call=FakeToolCall(name="check_availability", arguments={"service": "Cleaning"})
        ),
    )
    await log_in(page, site, f"/test-agent-simple?business={demo_business_id(offline_stack.database_url)}")
    await page.locator("#orb").click()
    await expect(page.locator("#orb")).to_have_attribute("data-state", "listening")

    await expect(page.locator('#transcript li[data-role="agent"][data-final="true"]')).to_have_count(1)  # the greeting
    await speak(page, "Do you have free times for a cleaning?")
    tool = page.locator("#tools li").first
    await expect(tool.locator(".tool-name")).to_have_text("check_availability")
    await expect(tool.locator(".tool-args")).to_have_text('{"service": "Cleaning"}')
    await expect(tool.locator(".tool-output")).to_contain_text("→ Free times for a cleaning: ")
    # The result went back into the session, and the agent said it.
    await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_contain_text(
        "Done: Free times for a cleaning: "
    )
    await page.screenshot(path=screenshots / "test-agent-simple.png", full_page=True)

    [call] = calls(fake_realtime)
    asked = next(e for e in call["server_events"] if e["type"] == "response.function_call_arguments.done")
    sent = [
        e
        for e in call["client_events"]
        if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"
    ]
    assert [e["item"]["call_id"] for e in sent] == [asked["call_id"]]
    assert sent[0]["item"]["output"].startswith("Free times for a cleaning: ")
    # Then the server asks for the answer. The page's microphone audio goes on meanwhile, on its own channel,
    # and may land between the two.
    after = call["client_events"][call["client_events"].index(sent[0]) + 1 :]
    assert [e["type"] for e in after if not e["type"].startswith("input_audio_buffer.")][:1] == ["response.create"]


async def test_when_the_agent_ends_the_call_the_server_hangs_up_after_its_goodbye(
    page: Page, site: str, fake_realtime, offline_stack
) -> None:
    script(fake_realtime, FakeReplyRule(contains="goodbye", tool_call=FakeToolCall(name="end_call")))
    await page.goto(f"{site}/demo?business={demo_business_id(offline_stack.database_url)}")
    await page.locator("#orb").click()
    await expect(page.locator('#transcript li[data-role="agent"][data-final="true"]')).to_have_count(1)  # greeting
    await page.get_by_label("Type instead of speaking").fill("That is all, goodbye")
    await page.get_by_role("button", name="Send").click()
    # The server ran end_call, the agent answered it, and then the server hung up.
    await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_contain_text(
        "Done: Say a short goodbye"
    )
    await expect(page.locator("#status")).to_have_text("The assistant ended the conversation.")
    await expect(page.get_by_role("button", name="Reconnect")).to_be_hidden()
    [call] = calls(fake_realtime)
    assert call["hung_up"] is True


async def test_typing_during_a_reply_is_answered_after_it(page: Page, site: str, fake_realtime, offline_stack) -> None:
    script(fake_realtime, FakeReplyRule(contains="saturday", reply="We are closed on Saturdays."))
    # Every reply stays in progress after its first words until the test lets it go on.
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(hold_replies=True))
    await page.goto(f"{site}/demo?business={demo_business_id(offline_stack.database_url)}")
    await page.locator("#orb").click()
    greeting = page.locator('#transcript li[data-role="agent"]').first
    await expect(greeting.locator(".text")).to_have_text("Thank")
    await expect(greeting).not_to_have_attribute("data-final", "true")

    # The visitor types while the greeting is being spoken: the words go in at once, the request
    # for an answer waits for the greeting to finish (the service refuses a second active response).
    await page.get_by_label("Type instead of speaking").fill("Are you open on Saturday?")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator('#transcript li[data-role="user"] .text')).to_have_text(["Are you open on Saturday?"])
    [call] = calls(fake_realtime)
    assert [e["type"] for e in call["client_events"]] == ["response.create", "conversation.item.create"]

    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour())
    await expect(greeting).to_have_attribute("data-final", "true")
    await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_have_text(
        "We are closed on Saturdays."
    )
    [call] = calls(fake_realtime)
    assert [e["type"] for e in call["client_events"]] == [
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    assert [e for e in call["server_events"] if e["type"] == "error"] == []
    done = [e["response"]["status"] for e in call["server_events"] if e["type"] == "response.done"]
    assert done == ["completed", "completed"]


async def test_when_realtime_refuses_the_page_retries_then_falls_back_to_the_phone_brain(
    page: Page, site: str, fake_realtime, offline_stack, screenshots
) -> None:
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(refuse_calls_always=True, refuse_calls_status=503))
    await page.goto(f"{site}/demo?business={demo_business_id(offline_stack.database_url)}")
    await page.locator("#orb").click()

    await expect(page.get_by_role("button", name="Reconnect")).to_be_visible()
    await expect(page.locator("#error-text")).to_contain_text(
        "Could not connect to the voice assistant: OpenAI did not open a Realtime session; try again later"
    )
    await expect(page.locator("#notice")).to_contain_text("Switched to the phone assistant over the web")
    await expect(page.locator("#status")).to_have_text(
        "Talking to the phone assistant of Bright Smile Dental (web channel)"
    )
    await expect(page.locator('#transcript li[data-role="agent"] .text').first).to_have_text(
        "Thank you for calling Bright Smile Dental. How can I help you today?"
    )
    # Three attempts of the page, each the server's (which retries once itself); no secret ever made.
    assert [c["status_code"] for c in calls(fake_realtime)] == [503] * 6
    assert fake_realtime.fake.realtime.secret_requests == []

    await page.get_by_label("Type instead of speaking").fill("How much is a cleaning?")
    async with page.expect_request(lambda r: r.url.endswith("/turns")) as sent:
        await page.get_by_role("button", name="Send").click()
    await expect(page.locator('#transcript li[data-role="agent"] .text').last).to_have_text(
        "A cleaning takes 30 minutes and costs $90. Would you like to book?"
    )
    # Each turn carries its own key, so a retry of the request on its way is taken once.
    turn_key = (await sent.value).headers.get("idempotency-key", "")
    assert turn_key.startswith("web-web-") and turn_key.endswith("-1")
    await page.screenshot(path=screenshots / "demo-fallback.png", full_page=True)

    # Realtime is back: Reconnect leaves the web channel and talks to it again.
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour())
    await page.get_by_role("button", name="Reconnect").click()
    await expect(page.locator("#status")).to_have_text("Connected to Bright Smile Dental: speak now")
    await expect(page.get_by_role("button", name="Reconnect")).to_be_hidden()
    await eventually(lambda: calls(fake_realtime)[-1], lambda c: c["channel_open"], what="the reconnected data channel")


async def test_a_draft_configuration_is_checked_and_then_used(
    page: Page, site: str, fake_realtime, offline_stack
) -> None:
    await log_in(page, site, f"/test-agent-simple?business={demo_business_id(offline_stack.database_url)}")
    await page.get_by_label("A draft (paste or edit JSON below)").check()
    draft = demo_business().model_dump(mode="json")
    draft["services"][0]["duration_minutes"] = 0
    draft["timezone"] = "Mars/Base"
    await page.get_by_label("Configuration JSON").fill(json.dumps(draft))
    await page.get_by_role("button", name="Check configuration").click()
    await expect(page.locator("#config-errors li")).to_have_text(
        ["timezone: unknown timezone 'Mars/Base'", "services.0.duration_minutes: Input should be greater than 0"]
    )
    # Pressing the orb with a bad draft opens no session.
    await page.locator("#orb").click()
    await expect(page.locator("#status")).to_have_text("Fix the configuration first.")
    assert calls(fake_realtime) == []

    # No opening hours: the greeting (not the after-hours words) whatever the hour the test runs.
    draft = demo_business().model_dump(mode="json") | {
        "name": "Draft Dental",
        "greeting": "Draft Dental, Robin speaking.",
        "hours": {},
    }
    await page.get_by_label("Configuration JSON").fill(json.dumps(draft))
    await page.get_by_role("button", name="Check configuration").click()
    await expect(page.locator("#config-ok")).to_have_text("The configuration is valid: Draft Dental (voice marin).")
    await page.get_by_text("What the agent is told").click()
    await expect(page.locator("#preview-instructions")).to_contain_text("You are the receptionist of Draft Dental")

    await page.locator("#orb").click()
    await expect(page.locator('#transcript li[data-role="agent"] .text').first).to_have_text(
        "Draft Dental, Robin speaking."
    )
    [call] = calls(fake_realtime)
    assert call["requested_session"]["instructions"].startswith("You are the receptionist of Draft Dental")
    await page.get_by_role("button", name="Hang up").click()
    await eventually(lambda: calls(fake_realtime)[0]["hung_up"], bool, what="the server hanging up the call")


async def test_the_public_demo_lists_only_businesses_that_opted_in_and_drafts_need_a_login(
    page: Page, site: str, offline_stack
) -> None:
    add_business(offline_stack.database_url, "Opted In Bakery", demo_enabled=True)
    add_business(offline_stack.database_url, "Private Plumbing")
    await page.goto(f"{site}/demo")
    names = await page.locator("select option").all_text_contents()
    assert any("Opted In Bakery" in name for name in names)
    assert not any("Private Plumbing" in name for name in names)
    # The page where drafts are tried sends a stranger to the login form.
    await page.goto(f"{site}/test-agent-simple")
    assert page.url.startswith(f"{site}/admin/login")
