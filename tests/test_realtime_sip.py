"""Realtime voice over SIP: a business's line answered by OpenAI's Realtime model, run by its CallWorkflow.

The fake OpenAI plays OpenAI's SIP endpoint (simulator/fake_openai/realtime_sip.py): it rings, posts
the signed `realtime.call.incoming` webhook to the API, and the call is reached only through the
`calls` API and its control channel, as with the real service. The API, the worker (a separate
process), Temporal and the database are real; the openai SDK talks to the fake.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session, select
from temporalio.client import WorkflowExecutionStatus

from activities.realtime_calls import sip_number
from business.config import BusinessConfig
from database.engine import get_engine
from database.models import Appointment, Business, Call, Callback, CallMetrics, ConversationTurn, Escalation
from domain.vocabulary import CallOutcome, CallStatus, PhoneMode, Speaker, TransferOutcome
from receptionist.tools import realtime_tools
from runtime.call_cost import CallPrices, RealtimeUsage, estimated_cost_usd
from runtime.realtime_sip import DIALED_NUMBER_HEADER, dialed_number_headers
from simulator.fake_openai.behaviour import FakeLLMBehaviour, FakeReplyRule, FakeToolCall
from simulator.fake_openai.realtime_sip import signed_webhook, webhook_body
from simulator.fake_openai.realtime_state import FakeRealtimeBehaviour
from simulator.fake_openai.server import FakeOpenAIServer
from tests.businesses import open_every_day, store_business
from tests.in_process import ADMIN_KEY, SECRET_KEY
from tests.test_metrics import sample
from tests.waiting import eventually
from tests.web_visitors import web_api
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database

SECRET = "whsec_" + "c2lwLWxpbmVzLW9mLXRoZS1jbG91ZGdyZWV0LXByb2plY3Q="
CALLER = "+15550100"
ON_CALL = ["+15555550197", "+15555550196"]


@pytest.fixture(scope="module")
def sip_api(stack) -> Iterator[str]:
    """An API with the project's OpenAI webhook secret, on the stack's Temporal and database."""
    with web_api(stack, OPENAI_WEBHOOK_SECRET=SECRET, ADMIN_API_KEY=ADMIN_KEY) as url:
        yield url


def realtime_business(stack, *, mode: PhoneMode = PhoneMode.REALTIME_SIP, **changes: Any) -> BusinessConfig:
    """A business of its own number whose line is in `mode`."""
    number = f"+1555555{uuid.uuid4().int % 10000:04d}"
    config = open_every_day(number).model_copy(
        update={"name": "Harbour Dental", "voice": "coral", "on_call_numbers": ON_CALL, **changes}
    )
    business_id = store_business(stack.database_url, config)
    with Session(get_engine(stack.database_url)) as session:
        business = session.get(Business, business_id)
        assert business is not None
        business.phone_mode = mode
        session.add(business)
        session.commit()
    return config


async def ring(fake: FakeOpenAIServer, api_url: str, to_number: str, **how: object) -> dict[str, Any]:
    """A phone call reaches OpenAI's SIP URI: the fake makes it and posts the signed webhook to our API."""
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            f"{fake.url}/_fake/realtime/sip/incoming",
            json={
                "webhook_url": f"{api_url}/api/openai/webhooks",
                "secret": SECRET,
                "from_number": CALLER,
                "to_number": to_number,
                **how,
            },
        )
    answer.raise_for_status()
    rang: dict[str, Any] = answer.json()
    return rang


async def say(fake: FakeOpenAIServer, call_id: str, words: str) -> None:
    async with httpx.AsyncClient() as client:
        heard = await client.post(f"{fake.url}/_fake/realtime/sip/{call_id}/say", json={"words": words})
    assert heard.json() == {"heard": True}


def fake_call(fake: FakeOpenAIServer, call_id: str) -> dict[str, Any]:
    return next(c for c in fake.fake.realtime.snapshot()["calls"] if c["call_id"] == call_id)


def accepted_session(fake: FakeOpenAIServer, call_id: str) -> dict[str, Any]:
    """The session the call was accepted with, as the service holds it."""
    call = next(p for p in fake.fake.realtime._peers if p.record.call_id == call_id)
    session: dict[str, Any] = call.conversation.session
    return session


def tool_outputs(fake: FakeOpenAIServer, call_id: str) -> list[str]:
    """What went back to the model over the control channel as function call outputs."""
    return [
        e["item"]["output"]
        for e in fake_call(fake, call_id)["client_events"]
        if e.get("type") == "conversation.item.create" and e["item"].get("type") == "function_call_output"
    ]


def agent_said(fake: FakeOpenAIServer, call_id: str) -> list[str]:
    return [
        e["transcript"]
        for e in fake_call(fake, call_id)["server_events"]
        if e.get("type") == "response.output_audio_transcript.done"
    ]


async def hang_up(fake: FakeOpenAIServer, call_id: str) -> None:
    """The caller hangs up: the call ends at OpenAI (its control channels close)."""
    async with httpx.AsyncClient() as client:
        (await client.post(f"{fake.base_url}/realtime/calls/{call_id}/hangup", headers={"authorization": "Bearer k"}))


def booked_start(config: BusinessConfig) -> str:
    day = datetime.now(ZoneInfo(config.timezone)).date() + timedelta(days=2)
    return f"{day.isoformat()}T10:00"


async def test_a_signed_incoming_call_is_accepted_with_the_business_session_its_tools_run_and_it_is_recorded(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    start = booked_start(config)
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="book",
                    tool_call=FakeToolCall(
                        name="book_appointment",
                        arguments={"service": "Cleaning", "start": start, "caller_name": "Ada Lovelace"},
                    ),
                )
            ]
        )
    )
    rang = await ring(fake_realtime, sip_api, config.phone_number)
    assert rang["webhook_status"] == 200
    call_id = rang["call_id"]

    # Accepted with the one instruction builder's instructions, the business's voice and the tool list.
    await eventually(
        lambda: fake_call(fake_realtime, call_id), lambda c: c["sip_status"] == "accepted", what="the call accepted"
    )
    session = accepted_session(fake_realtime, call_id)
    assert session["instructions"].startswith("You are the receptionist of Harbour Dental")
    assert session["audio"]["output"]["voice"] == "coral"
    assert [t["name"] for t in session["tools"]] == [t["name"] for t in realtime_tools()]
    assert session["audio"]["input"]["transcription"]["model"]

    # The model greets the caller as the control channel opens.
    said = await eventually(lambda: agent_said(fake_realtime, call_id), lambda s: bool(s), what="the greeting")
    assert said[0].startswith("Thank you for calling Harbour Dental.")  # its opening words, open or closed

    # A booking, asked by voice, runs through the workflow's tools; its result reaches the model.
    await say(fake_realtime, call_id, "Can I book a cleaning please")
    outputs = await eventually(
        lambda: tool_outputs(fake_realtime, call_id), lambda o: bool(o), what="the booking's result"
    )
    assert outputs[0].startswith("Booked a cleaning") and "10 AM" in outputs[0], outputs
    await eventually(
        lambda: agent_said(fake_realtime, call_id),
        lambda s: any(line.startswith("Done: ") for line in s),
        what="the model reading the result",
    )
    with Session(get_engine(stack.database_url)) as session_db:
        [appointment] = session_db.exec(select(Appointment).where(Appointment.call_id == call_id)).all()
        assert appointment.caller_name == "Ada Lovelace" and not appointment.is_demo

    await hang_up(fake_realtime, call_id)
    handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call_id))
    summary = await handle.result()
    assert summary["status"] == CallStatus.ENDED and summary["outcome"] == CallOutcome.BOOKED

    with Session(get_engine(stack.database_url)) as session_db:
        call = session_db.get(Call, call_id)
        assert call is not None and call.caller_number == CALLER and call.dialed_number == config.phone_number
        assert call.status == CallStatus.ENDED and call.outcome == CallOutcome.BOOKED
        turns = session_db.exec(
            select(ConversationTurn).where(ConversationTurn.call_id == call_id).order_by(ConversationTurn.id)
        ).all()
    caller_words = [t.text for t in turns if t.speaker == Speaker.CALLER]
    agent_words = [t.text for t in turns if t.speaker == Speaker.AGENT]
    assert "Can I book a cleaning please" in " ".join(caller_words), turns
    assert any(words.startswith("Done: ") for words in agent_words), turns
    tools = [c for t in turns for c in (t.tool_calls or [])]
    assert [c["name"] for c in tools] == ["book_appointment"], tools

    # Its estimated cost has the Realtime model's tokens, as each response reported them, besides its minutes.
    usage = RealtimeUsage()
    for event in fake_call(fake_realtime, call_id)["server_events"]:
        if event["type"] == "response.done":
            usage.add(event["response"]["usage"])
    assert usage.audio_output_tokens > 0 and usage.audio_input_tokens > 0
    with Session(get_engine(stack.database_url)) as session_db:
        metrics = session_db.get(CallMetrics, call_id)
    assert metrics is not None and metrics.duration_seconds
    assert metrics.estimated_cost_usd == estimated_cost_usd(CallPrices(), metrics.duration_seconds, 0, 0, usage)

    # The admin pages read it like any call: its transcript, its booking, its workflow in the Temporal UI.
    async with httpx.AsyncClient(base_url=sip_api) as admin:
        shown = await admin.get(f"/api/admin/calls/{call_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert shown.status_code == 200, shown.text
    inspection = shown.json()
    assert any("Can I book a cleaning please" in line["text"] for line in inspection["transcript"])
    assert len(inspection["bookings"]) == 1 and call_workflow_id(call_id) in inspection["temporal_ui_url"]


async def test_a_worker_killed_mid_call_another_joins_the_control_channel_and_the_tools_still_run_once(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    start = booked_start(config)
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="book",
                    tool_call=FakeToolCall(
                        name="book_appointment",
                        arguments={"service": "Checkup", "start": start, "caller_name": "Grace Hopper"},
                    ),
                )
            ]
        )
    )
    call_id = (await ring(fake_realtime, sip_api, config.phone_number))["call_id"]
    await eventually(lambda: agent_said(fake_realtime, call_id), lambda s: bool(s), what="the greeting")
    try:
        stack.worker.kill()
        stack.worker.start()
        # The control activity misses its heartbeats; another attempt, on the new worker, joins again.
        await eventually(
            lambda: fake_call(fake_realtime, call_id)["control_channels"],
            lambda joined: joined >= 2,
            timeout=90,
            what="the control channel joined again",
        )
        await say(fake_realtime, call_id, "I would like to book a checkup")
        outputs = await eventually(
            lambda: tool_outputs(fake_realtime, call_id), lambda o: bool(o), timeout=60, what="the booking's result"
        )
    finally:
        stack.ensure_worker()
    assert outputs[0].startswith("Booked a checkup"), outputs
    greetings = [s for s in agent_said(fake_realtime, call_id) if s.startswith("Thank you for calling")]
    assert len(greetings) == 1, "the caller is greeted once"
    await hang_up(fake_realtime, call_id)
    summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).result()
    assert summary["outcome"] == CallOutcome.BOOKED
    with Session(get_engine(stack.database_url)) as session:
        assert len(session.exec(select(Appointment).where(Appointment.call_id == call_id)).all()) == 1


async def test_the_end_call_tool_says_goodbye_then_hangs_up_the_call(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(rules=[FakeReplyRule(contains="bye", tool_call=FakeToolCall(name="end_call"))])
    )
    call_id = (await ring(fake_realtime, sip_api, config.phone_number))["call_id"]
    await eventually(lambda: agent_said(fake_realtime, call_id), lambda s: bool(s), what="the greeting")
    await say(fake_realtime, call_id, "That is all, bye")
    summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).result()
    assert (summary["status"], summary["outcome"], summary["hangup_cause"]) == (
        CallStatus.ENDED,
        CallOutcome.COMPLETED,
        "normal_clearing",
    )
    assert tool_outputs(fake_realtime, call_id) == ["Ending the call."]
    assert agent_said(fake_realtime, call_id)[-1].startswith("Done: Ending the call")  # the goodbye, then the hang-up
    assert fake_call(fake_realtime, call_id)["hung_up"] is True


async def test_escalation_refers_the_caller_down_the_on_call_ladder(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="person",
                    tool_call=FakeToolCall(name="escalate_to_human", arguments={"reason": "wants a person"}),
                )
            ]
        )
    )
    # The first on-call number's refer fails at OpenAI: the ladder goes on to the second.
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(refuse_refers_next=1))
    call_id = (await ring(fake_realtime, sip_api, config.phone_number))["call_id"]
    await eventually(lambda: agent_said(fake_realtime, call_id), lambda s: bool(s), what="the greeting")
    await say(fake_realtime, call_id, "I want to talk to a person")

    summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).result()
    assert summary["outcome"] == CallOutcome.ESCALATED
    call = fake_call(fake_realtime, call_id)
    assert call["refused_refers"] == [f"tel:{ON_CALL[0]}"]
    assert (call["sip_status"], call["referred_to"]) == ("referred", f"tel:{ON_CALL[1]}")
    with Session(get_engine(stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call_id)).all()
        assert [(a["number"], a["outcome"]) for a in escalation.attempts] == [
            (ON_CALL[0], TransferOutcome.FAILED),
            (ON_CALL[1], TransferOutcome.ANSWERED),
        ]
        assert escalation.status == "connected"
        record = session.get(Call, call_id)
        assert record is not None and record.outcome == CallOutcome.ESCALATED


async def test_when_nobody_can_be_referred_the_model_takes_a_message_and_a_call_back_is_promised(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    caller = "+12025550143"
    fake_realtime.fake.set_behaviour(
        FakeLLMBehaviour(
            rules=[
                FakeReplyRule(
                    contains="person",
                    tool_call=FakeToolCall(name="escalate_to_human", arguments={"reason": "a loose crown"}),
                ),
                FakeReplyRule(
                    contains="message",
                    tool_call=FakeToolCall(
                        name="take_message",
                        arguments={"message": "My crown came loose", "reason": "a loose crown", "caller_name": "Ada"},
                    ),
                ),
            ]
        )
    )
    fake_realtime.fake.realtime.set_behaviour(FakeRealtimeBehaviour(refuse_refers_next=2))  # both numbers fail
    call_id = (await ring(fake_realtime, sip_api, config.phone_number, from_number=caller))["call_id"]
    await eventually(lambda: agent_said(fake_realtime, call_id), lambda s: bool(s), what="the greeting")
    await say(fake_realtime, call_id, "Can I talk to a person")
    told = await eventually(lambda: tool_outputs(fake_realtime, call_id), lambda o: bool(o), what="the ladder's end")
    assert told[0].startswith("I'm sorry, nobody could take your call right now.") and "take_message" in told[0]
    await eventually(
        lambda: agent_said(fake_realtime, call_id), lambda s: any(x.startswith("Done: ") for x in s), what="read"
    )
    await say(fake_realtime, call_id, "Please take a message")
    await eventually(lambda: tool_outputs(fake_realtime, call_id), lambda o: len(o) == 2, what="the message taken")
    await hang_up(fake_realtime, call_id)

    summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).result()
    assert summary["outcome"] == CallOutcome.MESSAGE and summary["fallback_level"] == "callback_promise"
    assert fake_call(fake_realtime, call_id)["refused_refers"] == [f"tel:{n}" for n in ON_CALL]
    with Session(get_engine(stack.database_url)) as session:
        [callback] = session.exec(select(Callback).where(Callback.call_id == call_id)).all()
        assert (callback.caller_number, callback.message) == (caller, "My crown came loose")
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call_id)).all()
        assert escalation.status == "nobody_answered"


async def test_a_call_transferred_to_the_project_uri_finds_its_line_by_the_dialled_number_header(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    config = realtime_business(stack)
    signed = {h["name"]: h["value"] for h in dialed_number_headers(SecretStr(SECRET_KEY), config.phone_number)}
    # A stranger dialling the project's SIP URI names the business with the header, unsigned or signed for another.
    for forged in (
        {DIALED_NUMBER_HEADER: config.phone_number},
        {**signed, DIALED_NUMBER_HEADER: "+15559990009"},
    ):
        stranger = await ring(
            fake_realtime, sip_api, "+15559990003", to_uri="sip:proj_cloudgreet@sip.api.openai.com", headers=forged
        )
        summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(stranger["call_id"])).result()
        assert summary["status"] == CallStatus.NEVER_STARTED
        assert fake_call(fake_realtime, stranger["call_id"])["sip_status"] == "rejected"
    rang = await ring(
        fake_realtime,
        sip_api,
        "+15559990002",
        to_uri="sip:proj_cloudgreet@sip.api.openai.com",
        headers=signed,
    )
    await eventually(
        lambda: fake_call(fake_realtime, rang["call_id"]), lambda c: c["sip_status"] == "accepted", what="accepted"
    )
    assert accepted_session(fake_realtime, rang["call_id"])["instructions"].startswith(
        "You are the receptionist of Harbour Dental"
    )
    await hang_up(fake_realtime, rang["call_id"])
    await stack.temporal_client.get_workflow_handle(call_workflow_id(rang["call_id"])).result()


@pytest.mark.parametrize(
    ("header", "number"),
    [
        ("<sip:+15550100@pstn.example>;tag=fake", "+15550100"),
        ("<sip:15555550123@sip.telnyx.com;user=phone>", "+15555550123"),
        ("tel:+442071838750", "+442071838750"),
        ("<sip:proj_abc@sip.api.openai.com>", None),
        ("+15555550123", "+15555550123"),
        ("", None),
    ],
)
def test_the_numbers_of_a_sip_call_are_read_from_its_headers(header: str, number: str | None) -> None:
    assert sip_number(header) == number


async def test_a_call_to_a_line_not_in_realtime_mode_is_declined(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer
) -> None:
    telnyx_line = realtime_business(stack, mode=PhoneMode.TELNYX_SPEECH)
    for number in (telnyx_line.phone_number, "+15559990000"):  # a Telnyx-speech line, and nobody's number
        call_id = (await ring(fake_realtime, sip_api, number))["call_id"]
        summary = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).result()
        assert summary["status"] == CallStatus.NEVER_STARTED
        assert fake_call(fake_realtime, call_id)["sip_status"] == "rejected"


@pytest.mark.parametrize("how", [{"forged": True}, {"stale": True}])
async def test_a_forged_or_stale_webhook_is_refused_and_starts_nothing(
    stack, sip_api: str, fake_realtime: FakeOpenAIServer, how: dict
) -> None:
    config = realtime_business(stack)
    async with httpx.AsyncClient(base_url=sip_api) as client:
        before = (await client.get("/metrics")).text
        rang = await ring(fake_realtime, sip_api, config.phone_number, **how)
        after = (await client.get("/metrics")).text
    assert rang["webhook_status"] == 400
    counted = "cloudgreet_openai_webhooks_total"
    assert sample(after, counted, result="bad_signature") == sample(before, counted, result="bad_signature") + 1
    assert not await workflow_exists(stack, rang["call_id"])
    assert fake_call(fake_realtime, rang["call_id"])["sip_status"] == "ringing"


async def test_a_replayed_webhook_is_acknowledged_and_starts_nothing_twice(stack, sip_api: str) -> None:
    call_id = f"rtc_replayed_{uuid.uuid4().hex}"
    body = webhook_body(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "realtime.call.incoming",
            "created_at": int(datetime.now().timestamp()),
            "data": {
                "call_id": call_id,
                "sip_headers": [
                    {"name": "From", "value": f"<sip:{CALLER}@pstn.example>"},
                    {"name": "To", "value": "<sip:+15559990001@sip.api.openai.com>"},
                ],
            },
        }
    )
    headers = signed_webhook(body, SECRET)
    async with httpx.AsyncClient(base_url=sip_api) as client:
        before = (await client.get("/metrics")).text
        first = await client.post("/api/openai/webhooks", content=body, headers=headers)
        again = await client.post("/api/openai/webhooks", content=body, headers=headers)
        after = (await client.get("/metrics")).text
    counted = "cloudgreet_openai_webhooks_total"
    for result in ("delivered", "duplicate"):
        assert sample(after, counted, result=result) == sample(before, counted, result=result) + 1
    assert first.status_code == 200 and first.json()["call_id"] == call_id
    # Acknowledged, so OpenAI stops delivering it, and nothing started twice.
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    runs = [w async for w in stack.temporal_client.list_workflows(f"WorkflowId = '{call_workflow_id(call_id)}'")]
    assert len(runs) == 1


async def workflow_exists(stack, call_id: str) -> bool:
    try:
        described = await stack.temporal_client.get_workflow_handle(call_workflow_id(call_id)).describe()
    except Exception:
        return False
    return described.status is not None and described.status != WorkflowExecutionStatus.TERMINATED
