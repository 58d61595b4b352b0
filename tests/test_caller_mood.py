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
from receptionist.caller_mood import (
    PERSON_OFFER,
    SPANISH_LEXICON,
    STRONGLY_NEGATIVE,
    accepted_offer,
    accepts_person_offer,
    offer_a_person,
    person_offer,
    turn_mood,
)
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.records import fresh_number
from tests.test_phone_call import finished_workflow, place, spoken
from tests.test_speculation import requests_about

ANGRY = ["This is ridiculous, I have called three times already!", "You people are useless, I am really upset."]
CALM = ["What are your hours on Friday?", "Do you do whitening?"]
# Upset, and asking what the offline responder answers: the offer comes on top of an answer.
UPSET_QUESTIONS = [
    "This is ridiculous and I am really upset. What are your hours?",
    "I am furious, this is terrible. How much does a cleaning cost?",
]
ANGRY_ES = ["¡Es ridículo, ya he llamado tres veces!", "Ustedes son unos inútiles, estoy muy molesta."]
CALM_ES = ["¿Qué horario tienen el viernes?", "¿Hacen blanqueamientos?"]
UPSET_QUESTIONS_ES = [
    "Esto es ridículo y estoy muy enojado. ¿A qué hora abren?",
    "Estoy furioso, esto es terrible. ¿Cuánto cuesta una limpieza?",
]


def caller(text: str) -> Utterance:
    return Utterance(speaker=Speaker.CALLER, text=text)


def agent(text: str) -> Utterance:
    return Utterance(speaker=Speaker.AGENT, text=text)


@pytest.mark.parametrize(
    ("said", "language"),
    [(said, "en-US") for said in [*ANGRY, "This is unacceptable, nobody ever calls me back", "I'm furious"]]
    + [
        (said, "es-US")
        for said in [*ANGRY_ES, *UPSET_QUESTIONS_ES, "Esto es inaceptable, nadie me devuelve la llamada"]
    ]
    + [("Estoy furiosa", "es-MX"), ("No me ayudaron, estoy muy enojado", "es")],
)
def test_an_angry_caller_is_strongly_negative(said: str, language: str) -> None:
    mood = turn_mood(said, language)
    assert mood is not None and mood <= STRONGLY_NEGATIVE


@pytest.mark.parametrize(
    ("said", "language"),
    [(said, "en-US") for said in [*CALM, "I'd like to book a cleaning next week", "No, Tuesday doesn't work for me"]]
    + [(said, "es-US") for said in [*CALM_ES, "Quisiera reservar una limpieza la semana que viene"]]
    + [("No, el martes no me viene bien", "es-US"), ("No tengo ningún problema", "es-US")],
)
def test_an_ordinary_request_is_not(said: str, language: str) -> None:
    mood = turn_mood(said, language)
    assert mood is not None and mood > STRONGLY_NEGATIVE


def test_thanks_are_positive_and_languages_without_a_lexicon_are_not_guessed() -> None:
    assert turn_mood("Thank you so much, that's great") > 0.5
    assert turn_mood("Muchas gracias, es usted muy amable", "es-US") > 0.5
    assert turn_mood("Perfecto, excelente servicio", "es") > 0.5
    assert turn_mood("C'est ridicule, je suis très en colère", "fr-FR") is None
    assert turn_mood("   ") is None


def test_spanish_negation_and_degree_words_work_as_vader_reads_english_ones() -> None:
    content, not_content = turn_mood("Estoy contento", "es"), turn_mood("No estoy contento", "es")
    assert content > 0 > not_content  # "no" turns it, with a pronoun between too
    assert turn_mood("No me gusta nada", "es") < 0 < turn_mood("Me gusta", "es")
    assert turn_mood("Nunca es bueno", "es") < 0
    assert turn_mood("Estoy muy molesto", "es") < turn_mood("Estoy molesto", "es") < 0  # "muy" is VADER's "very"
    # "pero" is VADER's "but": what follows weighs more.
    assert turn_mood("El trato fue bueno pero la espera fue horrible", "es") < 0
    # Accents or none, as transcripts write them.
    assert turn_mood("Es pésimo, estoy furioso", "es") == turn_mood("Es pesimo, estoy furioso", "es")


def test_the_spanish_lexicon_is_in_vaders_format_with_vaders_english_ratings() -> None:
    lines = SPANISH_LEXICON.read_text(encoding="utf-8").splitlines()
    assert 250 <= len(lines) <= 500  # small: the words callers say about a service
    for line in lines:
        word, mean, std, ratings = line.split("\t")
        assert word == word.lower() and word.isalpha() and word.isascii(), word
        assert -4 <= float(mean) <= 4 and float(std) >= 0 and ratings.startswith("[")


def test_a_person_is_offered_after_two_upset_turns_and_only_once() -> None:
    assert not offer_a_person([], ANGRY[0])  # one upset turn is not yet a pattern
    assert not offer_a_person([caller(CALM[0]), agent("We open at nine.")], ANGRY[0])
    history = [caller(ANGRY[0]), agent("I'm sorry to hear that.")]
    assert offer_a_person(history, ANGRY[1])
    offered = [*history, caller(ANGRY[1]), agent(f"Let me look. {PERSON_OFFER}")]
    assert not offer_a_person(offered, "This is still ridiculous and useless!")


def test_a_spanish_caller_upset_for_two_turns_is_offered_a_person_in_spanish() -> None:
    history = [caller(ANGRY_ES[0]), agent("Lo siento.")]
    assert offer_a_person(history, ANGRY_ES[1], "es-US")
    assert not offer_a_person(history, ANGRY_ES[1], "en-US")  # read as English, the words say nothing
    offered = [*history, caller(ANGRY_ES[1]), agent(f"Abrimos a las nueve. {person_offer('es-US')}")]
    assert not offer_a_person(offered, "¡Sigue siendo ridículo!", "es-US")
    assert accepts_person_offer(offered, "Sí, por favor")
    assert not accepts_person_offer(offered, "No, solo quiero saber el precio")


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


async def test_a_spanish_caller_upset_for_two_turns_is_offered_a_person_in_spanish_and_a_si_reaches_one(
    offline_stack,
) -> None:
    spanish_line = fresh_number()
    store_business(offline_stack.database_url, open_every_day(spanish_line, languages=["es-US"]))
    script = CallScript(
        from_number=fresh_number(), to_number=spanish_line, lines=[*UPSET_QUESTIONS_ES, "Sí, por favor."]
    )
    call = await place(offline_stack, script)
    await finished_workflow(offline_stack, call)

    offer = person_offer("es-US")
    said = spoken(call)
    assert " ".join(said).count(offer) == 1, said
    assert accepted_offer("es-US") in said
    with Session(get_engine(offline_stack.database_url)) as session:
        turns = session.exec(
            select(ConversationTurn)
            .where(ConversationTurn.call_id == call.call_control_id)
            .order_by(ConversationTurn.turn_index, ConversationTurn.id)
        ).all()
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
    replies = [t.text for t in turns if t.speaker == Speaker.AGENT]
    assert [offer in reply for reply in replies[:2]] == [False, True]  # after the second upset turn only
    assert "Abrimos" in replies[0] or "abierto" in replies[0] or "horario" in replies[0].lower(), replies[0]
    moods = [t.sentiment for t in turns if t.speaker == Speaker.CALLER]
    assert moods[0] <= STRONGLY_NEGATIVE and moods[1] <= STRONGLY_NEGATIVE  # read in Spanish, as scored
    assert moods[2] > 0  # "Sí, por favor"
    assert "upset" in escalation.reason


async def test_the_llm_is_told_to_offer_a_person_on_the_second_upset_turn_only(stack):
    stack.fake_llm.fake.clear_requests()
    call = await place(stack, CallScript(from_number="+15555550182", lines=[CALM[0], *ANGRY]))
    await finished_workflow(stack, call)

    def told(request) -> bool:
        return any(m["role"] == "system" and "offer to put them through" in m["content"] for m in request.messages)

    # Per caller line, every request that answered it whole: on a loaded machine a turn may ask more than once
    # (a speculation started on its last interim, a retried reply), and each of those asks the same way.
    lines = [CALM[0], *ANGRY]
    asked = [[told(r) for r in requests_about(stack, line) if r.stream] for line in lines]
    assert all(asked), f"every line was answered by the LLM: {asked}"
    assert [set(told_per_line) for told_per_line in asked] == [{False}, {False}, {True}], asked
