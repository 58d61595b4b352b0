"""The web channel: the phone brain answering a browser through the same CallWorkflow."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment, Business, Call, ConversationTurn

pytestmark = pytest.mark.database


@pytest.fixture
async def api(offline_stack):
    async with httpx.AsyncClient(base_url=offline_stack.api_url, timeout=30) as client:
        yield client


def business_id(stack, number: str = "+15555550100") -> int:
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(select(Business.id).where(Business.phone_number == number)).one()


async def test_a_typed_conversation_is_greeted_answered_and_recorded(api, offline_stack):
    started = await api.post("/api/web-calls", json={"business_id": business_id(offline_stack)})
    assert started.status_code == 201, started.text
    call = started.json()
    assert call["greeting"] == "Thank you for calling Bright Smile Dental. How can I help you today?"

    turn = await api.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": "How much is a cleaning?"})
    assert turn.status_code == 200
    assert turn.json()["reply"] == "A cleaning takes 30 minutes and costs $90. Would you like to book?"
    assert turn.json()["turn_ms"] > 0

    bye = await api.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": "Thanks, bye"})
    assert bye.json()["ended"] is True
    assert "Goodbye" in bye.json()["reply"]

    with Session(get_engine(offline_stack.database_url)) as session:
        record = session.get(Call, call["call_id"])
        assert record.direction == "web"
        turns = session.exec(select(ConversationTurn).where(ConversationTurn.call_id == call["call_id"])).all()
    assert {(t.turn_index, t.speaker) for t in turns} >= {(1, "caller"), (1, "agent")}


async def test_booking_over_the_web_uses_the_same_validated_booking(api, offline_stack):
    call = (await api.post("/api/web-calls", json={"business_id": business_id(offline_stack)})).json()
    replies = []
    for words in ["I'd like to book a whitening", "the day after tomorrow", "at 1 pm", "My name is Web Tester", "yes"]:
        response = await api.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": words})
        replies.append(response.json()["reply"])
    assert "Shall I book it?" in replies[-2]
    assert replies[-1].startswith("One moment. All set. Booked a whitening")
    with Session(get_engine(offline_stack.database_url)) as session:
        [appointment] = session.exec(select(Appointment).where(Appointment.call_id == call["call_id"])).all()
    assert appointment.service == "Whitening" and appointment.caller_name == "Web"


async def test_bad_input_to_the_web_channel_gets_clear_errors(api, offline_stack):
    assert (await api.post("/api/web-calls", json={"business_id": 999999})).status_code == 404
    assert (await api.post("/api/web-calls", json={"business_id": "many"})).status_code == 422
    assert (await api.post("/api/web-calls/web-nope/turns", json={"text": "hi"})).status_code == 404
    call = (await api.post("/api/web-calls", json={"business_id": business_id(offline_stack)})).json()
    assert (await api.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": ""})).status_code == 422
    assert (await api.post(f"/api/web-calls/{call['call_id']}/turns", json={"text": "x" * 3000})).status_code == 422
    hung_up = await api.post(f"/api/web-calls/{call['call_id']}/hangup")
    assert hung_up.status_code == 202


async def test_a_web_visitor_cannot_cancel_someone_elses_booking(api, offline_stack):
    bid = business_id(offline_stack)
    first = (await api.post("/api/web-calls", json={"business_id": bid})).json()
    for words in ["I'd like to book a checkup", "tomorrow", "at 3 pm", "My name is First", "yes"]:
        await api.post(f"/api/web-calls/{first['call_id']}/turns", json={"text": words})
    second = (await api.post("/api/web-calls", json={"business_id": bid})).json()
    reply = (await api.post(f"/api/web-calls/{second['call_id']}/turns", json={"text": "Please cancel my appointment"})).json()
    assert "can't find" in reply["reply"]
    with Session(get_engine(offline_stack.database_url)) as session:
        [appointment] = session.exec(select(Appointment).where(Appointment.call_id == first["call_id"])).all()
    assert appointment.status == "booked"


async def test_a_foreign_page_may_not_start_web_conversations(api, offline_stack):
    response = await api.post(
        "/api/web-calls", json={"business_id": business_id(offline_stack)}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
