"""The web channel: the phone brain answering a browser through the same CallWorkflow."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment, Business, Call, ConversationTurn
from tests.web_visitors import WebVisitor, loopback_client, web_api
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def web_url(offline_stack):
    with web_api(offline_stack) as url:
        yield url


@pytest.fixture
async def api(web_url):
    async with loopback_client(web_url) as client:
        yield client


async def visitor(api, stack) -> WebVisitor:
    """A visitor who has started a conversation with the demo business."""
    someone = WebVisitor(api)
    started = await someone.start(business_id(stack))
    assert started.status_code == 201, started.text
    return someone


def business_id(stack, number: str = "+15555550100") -> int:
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(select(Business.id).where(Business.phone_number == number)).one()


async def test_a_typed_conversation_is_greeted_answered_and_recorded(api, offline_stack):
    someone = await visitor(api, offline_stack)
    call = someone.call
    assert call["greeting"] == "Thank you for calling Bright Smile Dental. How can I help you today?"
    assert call["conversation_token"] and call["max_turns"] == 30 and call["max_minutes"] == 15

    turn = await someone.say("How much is a cleaning?")
    assert turn.status_code == 200
    assert turn.json()["reply"] == "A cleaning takes 30 minutes and costs $90. Would you like to book?"
    assert turn.json()["turn_ms"] > 0

    bye = await someone.say("Thanks, bye")
    assert bye.json()["ended"] is True
    assert "Goodbye" in bye.json()["reply"]

    await offline_stack.temporal_client.get_workflow_handle(call_workflow_id(call["call_id"])).result()
    with Session(get_engine(offline_stack.database_url)) as session:
        record = session.get(Call, call["call_id"])
        assert record.direction == "web"
        assert record.hangup_cause == "normal_clearing", "the agent's goodbye ends it, as on a phone line"
        turns = session.exec(select(ConversationTurn).where(ConversationTurn.call_id == call["call_id"])).all()
    assert {(t.turn_index, t.speaker) for t in turns} >= {(1, "caller"), (1, "agent")}


async def test_booking_over_the_web_uses_the_same_validated_booking(api, offline_stack):
    someone = await visitor(api, offline_stack)
    replies = []
    for words in ["I'd like to book a whitening", "the day after tomorrow", "at 1 pm", "My name is Web Tester", "yes"]:
        replies.append((await someone.reply_to(words))["reply"])
    assert "Shall I book it?" in replies[-2]
    assert replies[-1].startswith("One moment. All set. Booked a whitening")
    with Session(get_engine(offline_stack.database_url)) as session:
        [appointment] = session.exec(select(Appointment).where(Appointment.call_id == someone.call_id)).all()
    assert appointment.service == "Whitening" and appointment.caller_name == "Web Tester"


async def test_bad_input_to_the_web_channel_gets_clear_errors(api, offline_stack):
    assert (await api.post("/api/web-calls", json={"business_id": 999999})).status_code == 404
    assert (await api.post("/api/web-calls", json={"business_id": "many"})).status_code == 422
    someone = await visitor(api, offline_stack)
    assert (await someone.say("hi", call_id="web-nope")).status_code == 404
    assert (await someone.say("")).status_code == 422
    assert (await someone.say("x" * 3000)).status_code == 422
    assert (await someone.hang_up()).status_code == 202


async def test_a_visitor_hanging_up_ends_the_conversation(api, offline_stack):
    someone = await visitor(api, offline_stack)
    await someone.say("What are your hours?")
    assert (await someone.hang_up()).status_code == 202

    summary = await offline_stack.temporal_client.get_workflow_handle_for(
        CallWorkflow.run, call_workflow_id(someone.call_id)
    ).result()
    assert (summary.status, summary.hangup_cause, summary.caller_turns) == ("ended", "web_hangup", 1)
    after = await someone.say("Hello?")
    assert after.status_code in (404, 409), after.text
    with Session(get_engine(offline_stack.database_url)) as session:
        record = session.get(Call, someone.call_id)
    assert (record.status, record.hangup_cause) == ("ended", "web_hangup")


async def test_a_web_visitor_cannot_cancel_someone_elses_booking(api, offline_stack):
    first = await visitor(api, offline_stack)
    for words in ["I'd like to book a checkup", "tomorrow", "at 3 pm", "My name is First", "yes"]:
        await first.say(words)
    second = await visitor(api, offline_stack)
    reply = await second.reply_to("Please cancel my appointment")
    assert "can't find" in reply["reply"]
    with Session(get_engine(offline_stack.database_url)) as session:
        [appointment] = session.exec(select(Appointment).where(Appointment.call_id == first.call_id)).all()
    assert appointment.status == "booked"


async def test_a_foreign_page_may_not_start_web_conversations(api, offline_stack):
    response = await api.post(
        "/api/web-calls", json={"business_id": business_id(offline_stack)}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


async def test_a_turn_sent_again_with_its_key_is_taken_once_and_hears_its_first_reply(api, offline_stack):
    someone = await visitor(api, offline_stack)
    for words in ["I'd like to book a whitening", "the day after tomorrow", "at 2 pm", "My name is Retry Tester"]:
        await someone.reply_to(words)
    # The confirmation's answer is lost, and the page (or a proxy) sends it again, twice at once.
    confirm = await someone.say("yes", key="turn-5-3f6c")
    again = await asyncio.gather(*(someone.say("yes", key="turn-5-3f6c") for _ in range(2)))
    assert [r.status_code for r in (confirm, *again)] == [200, 200, 200], [r.text for r in again]
    assert {r.json()["reply"] for r in again} == {confirm.json()["reply"]}
    assert confirm.json()["reply"].startswith("One moment. All set. Booked a whitening")
    # Other words under a used key are another turn, not the old turn's reply; so is another key.
    hours = await someone.say("What are your hours?", key="turn-5-3f6c")
    assert hours.status_code == 200 and "All set" not in hours.json()["reply"]
    other = await someone.reply_to("What are your hours?")
    assert "All set" not in other["reply"]

    handle = offline_stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(someone.call_id))
    state = await handle.query(CallWorkflow.state)
    assert state.caller_turns == 7, "the confirmation counted once"
    with Session(get_engine(offline_stack.database_url)) as session:
        booked = session.exec(select(Appointment).where(Appointment.call_id == someone.call_id)).all()
    assert len(booked) == 1


async def test_a_turn_key_that_is_no_key_is_a_readable_422(api, offline_stack):
    someone = await visitor(api, offline_stack)
    for key in ["", "x" * 129, "two words", "caf\u00e9".encode("latin-1")]:
        refused = await someone.say("hello", key=key)
        assert refused.status_code == 422, (key, refused.text)
        assert "Idempotency-Key" in refused.text
