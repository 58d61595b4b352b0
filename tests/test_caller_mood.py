"""The caller's mood: each caller turn is scored and kept, a caller who stays upset for two turns is offered
a person (and reaches one with a yes), on both brains; the call page and the dashboard show the mood."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from database.call_queries import call_detail
from database.dashboard_queries import build_dashboard
from database.engine import get_engine
from database.models import ConversationTurn, Escalation
from domain.vocabulary import Speaker, Utterance
from receptionist.caller_mood import PERSON_OFFER, STRONGLY_NEGATIVE, accepts_person_offer, offer_a_person, turn_mood
from simulator.call_script import CallScript
from tests.test_phone_call import finished_workflow, place, spoken

ANGRY = ["This is ridiculous, I have called three times already!", "You people are useless, I am really upset."]
CALM = ["What are your hours on Friday?", "Do you do whitening?"]
# Upset, and asking what the offline responder answers: the offer comes on top of an answer.
UPSET_QUESTIONS = [
    "This is ridiculous and I am really upset. What are your hours?",
    "I am furious, this is terrible. How much does a cleaning cost?",
]


def caller(text: str) -> Utterance:
    return Utterance(speaker=Speaker.CALLER, text=text)


def agent(text: str) -> Utterance:
    return Utterance(speaker=Speaker.AGENT, text=text)


@pytest.mark.parametrize("said", [*ANGRY, "This is unacceptable, nobody ever calls me back", "I'm furious"])
def test_an_angry_caller_is_strongly_negative(said: str) -> None:
    mood = turn_mood(said)
    assert mood is not None and mood <= STRONGLY_NEGATIVE


@pytest.mark.parametrize("said", [*CALM, "I'd like to book a cleaning next week", "No, Tuesday doesn't work for me"])
def test_an_ordinary_request_is_not(said: str) -> None:
    mood = turn_mood(said)
    assert mood is not None and mood > STRONGLY_NEGATIVE


def test_thanks_are_positive_and_other_languages_are_not_guessed() -> None:
    assert turn_mood("Thank you so much, that's great") > 0.5
    assert turn_mood("Esto es ridículo, estoy muy enojado", "es-US") is None
    assert turn_mood("   ") is None


def test_a_person_is_offered_after_two_upset_turns_and_only_once() -> None:
    assert not offer_a_person([], ANGRY[0])  # one upset turn is not yet a pattern
    assert not offer_a_person([caller(CALM[0]), agent("We open at nine.")], ANGRY[0])
    history = [caller(ANGRY[0]), agent("I'm sorry to hear that.")]
    assert offer_a_person(history, ANGRY[1])
    offered = [*history, caller(ANGRY[1]), agent(f"Let me look. {PERSON_OFFER}")]
    assert not offer_a_person(offered, "This is still ridiculous and useless!")


def test_only_a_yes_to_the_offer_accepts_it() -> None:
    offered = [caller(ANGRY[0]), agent(f"Let me look. {PERSON_OFFER}")]
    assert accepts_person_offer(offered, "Yes please")
    assert not accepts_person_offer(offered, "No, just tell me the price")
    assert not accepts_person_offer([caller(ANGRY[0]), agent("We open at nine.")], "Yes please")


async def test_an_upset_caller_is_offered_a_person_by_the_offline_brain_and_a_yes_reaches_one(offline_stack):
    call = await place(offline_stack, CallScript(from_number="+15555550181", lines=[*UPSET_QUESTIONS, "Yes please."]))
    await finished_workflow(offline_stack, call)

    said = " ".join(spoken(call))
    assert said.count(PERSON_OFFER) == 1, said
    with Session(get_engine(offline_stack.database_url)) as session:
        replies = session.exec(
            select(ConversationTurn.text)
            .where(ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == Speaker.AGENT)
            .order_by(ConversationTurn.turn_index)
        ).all()
    assert [PERSON_OFFER in reply for reply in replies[:2]] == [False, True]  # after the second upset turn only
    with Session(get_engine(offline_stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
        assert "upset" in escalation.reason
        moods = session.exec(
            select(ConversationTurn.sentiment)
            .where(ConversationTurn.call_id == call.call_control_id, ConversationTurn.speaker == Speaker.CALLER)
            .order_by(ConversationTurn.turn_index)
        ).all()
        assert moods[0] <= STRONGLY_NEGATIVE and moods[1] <= STRONGLY_NEGATIVE
        detail = call_detail(session, call.call_control_id)
        assert detail.mood is not None and detail.mood < 0
        assert [line.sentiment is not None for line in detail.transcript] == [
            line.speaker == Speaker.CALLER for line in detail.transcript
        ]
        today = datetime.now(UTC).date()
        dashboard = build_dashboard(session, None, today - timedelta(days=1), today + timedelta(days=1))
        assert any(day.mood is not None for day in dashboard.calls_per_day)


async def test_the_llm_is_told_to_offer_a_person_on_the_second_upset_turn_only(stack):
    stack.fake_llm.fake.clear_requests()
    call = await place(stack, CallScript(from_number="+15555550182", lines=[CALM[0], *ANGRY]))
    await finished_workflow(stack, call)

    requests = [r for r in stack.fake_llm.fake.requests if r.stream]
    told = [
        any(m["role"] == "system" and "offer to put them through" in m["content"] for m in r.messages) for r in requests
    ]
    assert told == [False, False, True]
