"""Satisfaction surveys through the real path: a finished call, the text asking for a rating, the
caller's reply as a signed message.received webhook, the rating on the dashboard; STOP honoured."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import nacl.signing
import pytest
from playwright.async_api import Page, expect
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from database.engine import get_engine
from database.satisfaction_models import SatisfactionSurvey, TextOptOut
from domain.vocabulary import SurveyDecision, SurveyStatus, TextReplyOutcome
from receptionist.survey_texts import survey_question
from simulator.call_script import CallScript, Misbehaviour
from simulator.telnyx.signing import sign_webhook
from simulator.telnyx.simulator import TelnyxSimulator
from simulator.telnyx.texts import ReceivedText, message_received
from tests.businesses import open_every_day, store_business
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.test_admin_pages import log_in
from tests.test_phone_call import finished_workflow, place
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id
from workflows.satisfaction_survey import SatisfactionSurveyWorkflow, survey_workflow_id

pytestmark = pytest.mark.database

SURVEYED = "+15555550131"
OPTED_OUT_BUSINESS = "+15555550132"
FORGERY_BUSINESS = "+15555550133"
NOT_SURVEYED = "+15555550134"
ON_THE_PAGE = "+15555550135"


def surveying(number: str, **changes) -> object:
    return open_every_day(number, satisfaction_survey=True, satisfaction_survey_delay_minutes=0, **changes).model_copy(
        update={"name": f"Survey Dental {number[-2:]}"}
    )


@pytest.fixture(scope="module")
def businesses(stack) -> dict[str, int]:
    return {
        number: store_business(stack.database_url, surveying(number))
        for number in (SURVEYED, OPTED_OUT_BUSINESS, FORGERY_BUSINESS, ON_THE_PAGE)
    } | {NOT_SURVEYED: store_business(stack.database_url, open_every_day(NOT_SURVEYED))}


@pytest.fixture(scope="module")
def admin(stack) -> Iterator[str]:
    with served_api(make_settings(DATABASE_URL=stack.database_url, ADMIN_API_KEY=ADMIN_KEY)) as url:
        yield url


def texts_to(stack, number: str) -> list:
    return [m for m in stack.simulator.simulator.messages if m.to_number == number]


def survey_of(stack, call_id: str) -> SatisfactionSurvey | None:
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(select(SatisfactionSurvey).where(SatisfactionSurvey.call_id == call_id)).first()


async def survey_result(stack, call) -> str:
    handle: WorkflowHandle = stack.temporal_client.get_workflow_handle(survey_workflow_id(call.call_control_id))
    return await handle.result()


async def a_finished_call(stack, business_number: str, caller: str):
    call = await place(stack, CallScript(from_number=caller, to_number=business_number, lines=["Do you do whitening?"]))
    await finished_workflow(stack, call)
    return call


async def dashboard(admin: str, business_id: int) -> dict:
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{admin}/api/admin/dashboard",
            params={"business_id": business_id, "since": str(today - timedelta(1)), "until": str(today + timedelta(1))},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
    assert answer.status_code == 200, answer.text
    return {m["key"]: m for m in answer.json()["key_metrics"]} | {"board": answer.json()}


async def test_a_caller_rates_the_call_by_text_and_the_dashboard_shows_it(stack, businesses, admin) -> None:
    caller = "+15555550211"
    call = await a_finished_call(stack, SURVEYED, caller)

    assert await survey_result(stack, call) == SurveyStatus.SENT
    [text] = texts_to(stack, caller)
    assert text.from_number == SURVEYED
    assert text.text == survey_question("Survey Dental 31")
    assert survey_of(stack, call.call_control_id).status == SurveyStatus.SENT

    # "4", delivered twice (Telnyx delivers at least once): recorded once, with the call it asked about.
    reply = await stack.simulator.receive_text(caller, SURVEYED, "4", duplicate=True)
    assert reply.statuses == [200, 200]
    survey = survey_of(stack, call.call_control_id)
    assert (survey.status, survey.rating) == (SurveyStatus.RATED, 4)

    metrics = await dashboard(admin, businesses[SURVEYED])
    satisfaction = metrics["customer_satisfaction"]
    assert satisfaction["value"] == 4.0 and satisfaction["display"] == "4.0 / 5"
    assert satisfaction["met"] is False  # the target is above 4.5
    assert "1 of 1 surveys answered (100 %)" in satisfaction["explanation"]
    assert (metrics["board"]["surveys_sent"], metrics["board"]["survey_response_rate"]) == (1, 100.0)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        inspected = (await client.get(f"{admin}/api/admin/calls/{call.call_control_id}")).json()
    assert (inspected["satisfaction"]["status"], inspected["satisfaction"]["rating"]) == ("rated", 4)

    # A second call soon after: the caller is not asked again within the month.
    again = await a_finished_call(stack, SURVEYED, caller)
    assert await survey_result(stack, again) == SurveyDecision.ASKED_RECENTLY
    assert len(texts_to(stack, caller)) == 1
    # Words that are no rating change nothing; a later rating replaces the earlier one.
    assert (await stack.simulator.receive_text(caller, SURVEYED, "you were great, 10/10")).statuses == [200]
    assert survey_of(stack, call.call_control_id).rating == 4
    await stack.simulator.receive_text(caller, SURVEYED, "5 stars")
    assert survey_of(stack, call.call_control_id).rating == 5
    assert (await dashboard(admin, businesses[SURVEYED]))["customer_satisfaction"]["display"] == "5.0 / 5"


async def test_a_caller_who_texted_stop_is_not_asked_until_start(stack, businesses) -> None:
    caller = "+15555550212"
    await stack.simulator.receive_text(caller, OPTED_OUT_BUSINESS, "Stop")
    with Session(get_engine(stack.database_url)) as session:
        [choice] = session.exec(select(TextOptOut).where(TextOptOut.caller_number == caller)).all()
    assert choice.opted_out and choice.business_id == businesses[OPTED_OUT_BUSINESS]

    call = await a_finished_call(stack, OPTED_OUT_BUSINESS, caller)
    assert await survey_result(stack, call) == SurveyDecision.OPTED_OUT
    assert texts_to(stack, caller) == []
    assert survey_of(stack, call.call_control_id) is None
    # Another business this caller never stopped still asks.
    other = await a_finished_call(stack, FORGERY_BUSINESS, caller)
    assert await survey_result(stack, other) == SurveyStatus.SENT

    # START, through the simulator's control API as a terminal would send it.
    async with httpx.AsyncClient() as client:
        started = await client.post(
            f"{stack.simulator.control_url}/simulator/texts",
            json={"from_number": caller, "to_number": OPTED_OUT_BUSINESS, "text": "START"},
        )
    assert started.status_code == 201 and started.json()["statuses"] == [200]
    after = await a_finished_call(stack, OPTED_OUT_BUSINESS, caller)
    assert await survey_result(stack, after) == SurveyStatus.SENT
    assert [t.from_number for t in texts_to(stack, caller)] == [FORGERY_BUSINESS, OPTED_OUT_BUSINESS]


async def test_a_business_without_surveys_texts_nobody(stack, businesses) -> None:
    caller = "+15555550213"
    call = await a_finished_call(stack, NOT_SURVEYED, caller)
    assert texts_to(stack, caller) == []
    descriptions = [
        w.id
        async for w in stack.temporal_client.list_workflows(
            f"WorkflowId = '{survey_workflow_id(call.call_control_id)}'"
        )
    ]
    assert descriptions == []


async def signed_post(
    url: str, body: dict, key: nacl.signing.SigningKey, timestamp: int | None = None
) -> httpx.Response:
    raw = json.dumps(body)
    headers = sign_webhook(key, raw, str(timestamp or int(time.time())))
    async with httpx.AsyncClient() as client:
        return await client.post(url, content=raw, headers=headers)


async def test_a_forged_or_stale_text_webhook_is_refused_and_records_nothing(stack, businesses) -> None:
    caller = "+15555550214"
    call = await a_finished_call(stack, FORGERY_BUSINESS, caller)
    assert await survey_result(stack, call) == SurveyStatus.SENT
    url = f"{stack.api_url}/api/telnyx/messaging-handler"
    body = {"data": message_received(ReceivedText(caller, FORGERY_BUSINESS, "1"), url), "meta": {"attempt": 1}}

    forged = await signed_post(url, body, nacl.signing.SigningKey.generate())
    assert forged.status_code == 403
    stale = await signed_post(url, body, stack.simulator.simulator.signing_key, int(time.time()) - 3600)
    assert stale.status_code == 403
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(url, json=body)
    assert unsigned.status_code == 401
    assert survey_of(stack, call.call_control_id).rating is None

    genuine = await signed_post(url, body, stack.simulator.simulator.signing_key)
    assert genuine.status_code == 200 and genuine.json()["status"] == TextReplyOutcome.RATED
    assert (await signed_post(url, body, stack.simulator.simulator.signing_key)).json()[
        "status"
    ] == TextReplyOutcome.DUPLICATE
    assert survey_of(stack, call.call_control_id).rating == 1


async def test_a_surveyed_call_replays_on_this_code(stack, businesses) -> None:
    call = await a_finished_call(stack, SURVEYED, "+15555550215")
    await survey_result(stack, call)
    histories = []
    for workflow_id in (call_workflow_id(call.call_control_id), survey_workflow_id(call.call_control_id)):
        histories.append(await stack.temporal_client.get_workflow_handle(workflow_id).fetch_history())
    replayer = Replayer(workflows=[CallWorkflow, SatisfactionSurveyWorkflow], data_converter=pydantic_data_converter)
    for history in histories:
        await replayer.replay_workflow(history)


def test_the_simulated_message_received_has_the_shape_of_the_telnyx_sdk() -> None:
    from telnyx.types.inbound_message_webhook_event import InboundMessageWebhookEvent

    text = ReceivedText("+15555550216", SURVEYED, "5")
    event = InboundMessageWebhookEvent.model_validate({"data": message_received(text, "http://api/messaging")})
    assert event.data is not None and event.data.payload is not None
    payload = event.data.payload
    assert (event.data.event_type, event.data.record_type, payload.direction, payload.type) == (
        "message.received",
        "event",
        "inbound",
        "SMS",
    )
    assert payload.from_ is not None and payload.from_.phone_number == "+15555550216"
    assert isinstance(payload.to, list) and payload.to[0].phone_number == SURVEYED
    assert (payload.id, payload.text, payload.received_at is not None) == (text.message_id, "5", True)


async def test_the_dashboard_page_shows_the_rating_against_its_target(page: Page, stack, businesses, admin) -> None:
    caller = "+15555550217"
    call = await a_finished_call(stack, ON_THE_PAGE, caller)
    assert await survey_result(stack, call) == SurveyStatus.SENT
    await stack.simulator.receive_text(caller, ON_THE_PAGE, "5")

    await log_in(page, admin, f"/admin/dashboard?business_id={businesses[ON_THE_PAGE]}")
    metric = page.locator('[data-metric="customer_satisfaction"]')
    await expect(metric.locator(".value")).to_have_text("5.0 / 5")
    await expect(metric.locator(".target")).to_contain_text("on target")
    await expect(metric.locator(".explain")).to_contain_text("1 of 1 surveys answered (100 %)")
    # And with the call it rated, on the call's page.
    await page.goto(f"{admin}/admin/calls/{call.call_control_id}")
    await expect(page.locator("#satisfaction")).to_contain_text("Rated 5 / 5")


async def test_the_simulator_refuses_texts_to_a_number_that_texted_stop_until_start() -> None:
    simulator = TelnyxSimulator("http://127.0.0.1:9/api/telnyx/voice-handler", nacl.signing.SigningKey.generate())
    simulator.set_webhook_retries([])  # nobody listens there: one delivery, refused
    message = {"from": SURVEYED, "to": "+15555550218", "text": "How did we do?"}
    try:
        await simulator.receive_text("+15555550218", SURVEYED, "unsubscribe")
        status, answer = simulator.send_message(message, "Bearer key", None)
        assert (status, answer["errors"][0]["code"]) == (422, "40300")
        assert simulator.refusals == ["message: The recipient has opted out (STOP)."]
        await simulator.receive_text("+15555550218", SURVEYED, "UNSTOP")
        assert simulator.send_message(message, "Bearer key", None)[0] == 200
    finally:
        await simulator.aclose()


async def test_webhooks_delivered_twice_and_out_of_order_still_text_the_caller_once(stack, businesses) -> None:
    caller = "+15555550219"
    script = CallScript(
        from_number=caller,
        to_number=SURVEYED,
        lines=["Do you do whitening?"],
        misbehaviour=Misbehaviour(duplicate_events=True, reorder_events=True),
    )
    call = await place(stack, script)
    await finished_workflow(stack, call)
    assert await survey_result(stack, call) == SurveyStatus.SENT
    assert [t.idempotency_key for t in texts_to(stack, caller)] == [survey_workflow_id(call.call_control_id)]
