"""Trying a change on past calls (`cloudgreet replay`, the admin API's replays): recorded calls answered
again with a draft configuration or model, then and now side by side, without running any tool."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session, select

from activities.call_replay import NOT_RUN
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Appointment, Business
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from tests.businesses import open_every_day, store_business
from tests.conftest import ROOT
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.test_admin_pages import log_in
from tests.test_phone_call import finished_workflow, place

pytestmark = pytest.mark.database

LLM_BUSINESS = "+15555550141"
OFFLINE_BUSINESS = "+15555550143"
PAGE_BUSINESS = "+15555550144"
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}
WHITENING_TOOL = FakeReplyRule(
    contains="whitening", tool_call=FakeToolCall(name="check_availability", arguments={"service": "Whitening"})
)


def cloudgreet(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", *args],
        env={**env, "COLUMNS": "220", "NO_COLOR": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def appointments(database_url: str) -> int:
    with Session(get_engine(database_url)) as session:
        return len(session.exec(select(Appointment)).all())


@pytest.fixture
def whitening_rule(fake_llm) -> Iterator[None]:
    fake_llm.fake.set_behaviour(FakeLLMBehaviour(rules=[WHITENING_TOOL]))
    yield
    fake_llm.fake.set_behaviour(FakeLLMBehaviour())


@pytest.fixture(scope="module")
def admin(stack, fake_llm) -> Iterator[str]:
    settings = make_settings(
        DATABASE_URL=stack.database_url,
        ADMIN_API_KEY=ADMIN_KEY,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_MODEL="fake-gpt",
    )
    with served_api(settings) as url:
        yield url


async def test_a_draft_and_a_model_replayed_through_the_admin_api_show_then_and_now(
    stack, fake_llm, whitening_rule, admin
) -> None:
    business_id = store_business(stack.database_url, open_every_day(LLM_BUSINESS))
    call = await place(stack, CallScript(to_number=LLM_BUSINESS, lines=["Can I get a whitening next week?"]))
    await finished_workflow(stack, call)
    fake_llm.fake.clear_requests()
    booked_before = appointments(stack.database_url)

    async with httpx.AsyncClient(base_url=admin, headers=BEARER, timeout=60) as client:
        draft = {"custom_instructions": "Always offer the spring whitening discount."}
        same = await client.post(
            f"/api/admin/businesses/{business_id}/replays",
            json={"call_ids": [call.call_control_id], "config": draft, "model": "fake-gpt-next"},
        )
        assert same.status_code == 200, same.text
        report = same.json()
        [replayed] = report["calls"]
        [turn] = replayed["turns"]
        assert turn["caller_text"] == "Can I get a whitening next week?"
        assert [t["name"] for t in turn["then_tools"]] == ["check_availability"]
        assert turn["now_tools"] == [{"name": "check_availability", "arguments": {"service": "Whitening"}}]
        assert turn["now_said"] == f"Done: {NOT_RUN}."
        assert (report["tools_differ"], report["model"], turn["now_brain"]) == (False, "fake-gpt-next", "llm")

        # The draft and the model reached the brain; the tool was answered with the stub, not run.
        requests = fake_llm.fake.requests
        assert {r.model for r in requests} == {"fake-gpt-next"}
        assert "spring whitening discount" in requests[0].messages[0]["content"]
        assert requests[-1].messages[-1] | {"tool_call_id": None} == {
            "role": "tool",
            "tool_call_id": None,
            "content": NOT_RUN,
        }
        assert appointments(stack.database_url) == booked_before

        # A brain that no longer checks the calendar for this caller: the regression check says so.
        fake_llm.fake.set_behaviour(FakeLLMBehaviour())
        differs = (
            await client.post(f"/api/admin/businesses/{business_id}/replays", json={"call_ids": [call.call_control_id]})
        ).json()
        assert differs["tools_differ"] is True
        assert differs["calls"][0]["turns"][0]["now_tools"] == []

        # Kept as a set, the call is replayed by the set's name (the configuration page's "Saved set").
        kept = await client.post(
            "/api/admin/replay-sets", json={"name": "whitening", "call_ids": [call.call_control_id]}
        )
        assert kept.status_code == 200, kept.text
        by_set = await client.post(f"/api/admin/businesses/{business_id}/replays", json={"set_name": "whitening"})
        assert [c["call_id"] for c in by_set.json()["calls"]] == [call.call_control_id]

        # A draft that is no configuration is refused with what is wrong, and nothing is replayed.
        bad = await client.post(
            f"/api/admin/businesses/{business_id}/replays",
            json={"call_ids": [call.call_control_id], "config": {"booking_slot_minutes": 1}},
        )
        assert bad.status_code == 422 and "booking_slot_minutes" in bad.text


async def test_a_saved_set_is_the_regression_check_of_a_configuration_change(offline_stack, tmp_path) -> None:
    store_business(offline_stack.database_url, open_every_day(OFFLINE_BUSINESS))
    lines = ["What time do you open on Friday?", "My retainer snapped this morning."]
    call = await place(offline_stack, CallScript(to_number=OFFLINE_BUSINESS, lines=lines))
    await finished_workflow(offline_stack, call)
    env = offline_stack.env

    saved = cloudgreet(env, "replay", "--save-set", "retainers", call.call_control_id)
    assert saved.returncode == 0, saved.stderr
    assert "saved set 'retainers': 1 calls" in saved.stdout

    # The configuration as it is: the offline responder asks for the same tools as then.
    unchanged = cloudgreet(env, "replay", "--set", "retainers")
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert "same tools" in unchanged.stdout and "with the offline responder" in unchanged.stdout
    assert "turn 2 caller: My retainer snapped this morning." in unchanged.stdout

    # A draft that makes a snapped retainer an emergency: now the safety net hands the caller to a person.
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"emergency_phrases": ["retainer snapped"]}))
    changed = cloudgreet(env, "replay", "--set", "retainers", "--config", str(draft))
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert "DIFFERS" in changed.stdout and "safety_net_escalation" in changed.stdout
    as_json = json.loads(cloudgreet(env, "replay", call.call_control_id, "--config", str(draft), "--json").stdout)
    assert [t["tools_differ"] for t in as_json[0]["turns"]] == [False, True]
    assert [t["name"] for t in as_json[0]["turns"][1]["now_tools"]] == ["safety_net_escalation"]

    unknown = cloudgreet(env, "replay", "v3:no-such-call")
    assert unknown.returncode == 2 and "no call 'v3:no-such-call'" in unknown.stderr


async def test_the_configuration_page_tries_its_draft_on_past_calls_without_saving_it(
    page: Page, stack, whitening_rule, admin
) -> None:
    business_id = store_business(stack.database_url, open_every_day(PAGE_BUSINESS))
    call = await place(stack, CallScript(to_number=PAGE_BUSINESS, lines=["Do you have whitening on Monday?"]))
    await finished_workflow(stack, call)

    await log_in(page, admin, f"/admin/businesses/{business_id}/config")
    await page.get_by_label("Emergency phrases").fill("whitening")
    await page.get_by_role("button", name="Try on past calls").click()

    await expect(page.locator("#replay-status")).to_have_text(
        "1 calls replayed with the LLM fake-gpt; tools differ in 1."
    )
    replayed = page.locator(f'article.replay[data-call-id="{call.call_control_id}"]')
    await expect(replayed.locator("h3")).to_contain_text("tools differ")
    await expect(replayed.locator("td.then")).to_contain_text('check_availability({"service":"Whitening"})')
    await expect(replayed.locator("td.now")).to_contain_text("safety_net_escalation")
    with Session(get_engine(stack.database_url)) as session:  # a draft: nothing saved
        assert BusinessConfig.model_validate(session.get(Business, business_id).config).emergency_phrases is None
