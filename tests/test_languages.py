"""The caller's language and the business's voices: a Spanish call through the real path, the keypad's
language menu, configurations Telnyx would refuse, and the migration from one `language`."""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from business.config import BusinessConfig
from database.engine import get_engine
from database.migrate import alembic_config
from database.models import Business, Callback, Escalation
from receptionist import unasked_words
from receptionist.caller_language import heard_language
from receptionist.consent_answers import yes_or_no
from receptionist.opening_words import opening_words
from receptionist.owed_callbacks import opening_with_question, says_not_sorted, says_sorted
from receptionist.survey_texts import meaning_of, survey_question
from receptionist.unasked_words import OWED_CALLBACK_QUESTION, PLEASE_HOLD, STILL_HOLDING, words_in
from simulator.call_script import CallerLine, CallScript
from simulator.fake_openai.behaviour import FakeReplyRule
from tests.businesses import open_every_day, store_business
from tests.in_process import ADMIN_KEY, make_settings, served_api
from tests.records import add_business, fresh_number
from tests.test_phone_call import finished_workflow, place
from tests.test_realtime_session import created_sessions, open_session, page_client, realtime_api
from tests.web_visitors import WebVisitor, loopback_client, web_api
from workflows.call import CallWorkflow
from workflows.call_messages import call_workflow_id
from workflows.callback import CallbackWorkflow
from workflows.satisfaction_survey import survey_workflow_id

pytestmark = pytest.mark.database

BILINGUAL = "+15555550171"
BILINGUAL_ELEVENLABS = "+15555550172"
LUPE = "AWS.Polly.Lupe-Neural"
CLONED = "ElevenLabs.eleven_multilingual_v2.21m00Tcm4TlvDq8ikWAM"
MENU = "Para español, oprima 8 o diga español."
PRICE_IN_SPANISH = "Una limpieza cuesta noventa dólares."
BEARER = {"Authorization": f"Bearer {ADMIN_KEY}"}


def speeches(call) -> list[dict]:
    """The speak commands Telnyx played, in order."""
    return [c.body for c in call.commands if c.action == "speak" and not c.duplicate and c.status_code == 200]


def transcriptions(call) -> list[tuple[str, str | None]]:
    """The transcription commands taken, with the language each started in."""
    return [
        (c.action, (c.body.get("transcription_engine_config") or {}).get("language"))
        for c in call.commands
        if "transcription" in c.action and not c.duplicate and c.status_code == 200
    ]


@pytest.fixture(scope="module")
def bilingual(stack) -> None:
    store_business(
        stack.database_url,
        open_every_day(BILINGUAL, languages=["en-US", "es-US"], voices={"es-US": {"voice": LUPE}}),
    )
    cloned = {"voice": CLONED, "api_key_ref": "skills-dental-elevenlabs"}
    store_business(
        stack.database_url,
        open_every_day(BILINGUAL_ELEVENLABS, languages=["en-US", "es-US"], voices={"es-US": cloned}),
    )


@pytest.fixture
def spanish_llm(stack) -> Iterator[None]:
    fake = stack.fake_llm.fake
    fake.clear_requests()
    fake.set_behaviour(
        fake.behaviour.model_copy(update={"rules": [FakeReplyRule(contains="limpieza", reply=PRICE_IN_SPANISH)]})
    )
    try:
        yield
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))


async def call_language(stack, call) -> str | None:
    handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(call.call_control_id))
    return (await handle.query(CallWorkflow.state)).language


async def test_a_caller_who_speaks_spanish_is_heard_and_answered_in_spanish_with_its_voice(
    stack, bilingual, spanish_llm
) -> None:
    script = CallScript(to_number=BILINGUAL, lines=["Hola, ¿cuánto cuesta una limpieza?"])
    call = await place(stack, script)
    await finished_workflow(stack, call)

    greeting, *replies = speeches(call)
    # The greeting is in the business's first language, and offers the other one in its own words.
    assert greeting["payload"].endswith(MENU)
    assert (greeting["voice"], greeting["language"]) == ("female", "en-US")
    # From the caller's first sentence on: Spanish words, Spanish voice, Spanish language (the filler too, if a
    # loaded machine kept the caller waiting for the LLM).
    answers = [r for r in replies if not r["command_id"].endswith("/filler")]
    assert answers and answers[0]["payload"] == PRICE_IN_SPANISH
    assert all((r["voice"], r["language"]) == (LUPE, "es-US") for r in replies)
    # Telnyx transcribes in Spanish from then on, with the engine's own code (Deepgram nova-3, the default
    # engine, has "en-US" and "es", not "es-US").
    assert transcriptions(call) == [
        ("start_transcription", "en-US"),
        ("stop_transcription", None),
        ("start_transcription", "es"),
    ]
    # The LLM is told to answer in the caller's language. A speculation on the interim words may have asked it
    # first, while the call was still English: that one is never what the caller hears, the last request is.
    *_, request = [r for r in stack.fake_llm.fake.requests if r.stream]
    assert "The caller speaks Spanish: answer only in Spanish" in request.messages[0]["content"]
    assert await call_language(stack, call) == "es-US"
    assert stack.simulator.simulator.refusals == []


async def test_a_reply_prepared_in_english_is_not_spoken_once_the_caller_turned_out_to_speak_spanish(
    stack, bilingual, spanish_llm
) -> None:
    # A phone-paced caller: the speculation on the interim words asks the LLM well before the final transcript,
    # while the call is still English; the final's Spanish moves the call to Spanish.
    words = "Hola, ¿cuánto cuesta una limpieza?"
    talking = {"endpointing": True, "interim_spacing_seconds": 0.1}
    call = await place(stack, CallScript(to_number=BILINGUAL, lines=[words], **talking))
    await finished_workflow(stack, call)

    first, *later = [r for r in stack.fake_llm.fake.requests if r.stream]
    spanish = "The caller speaks Spanish: answer only in Spanish"
    assert spanish not in first.messages[0]["content"], "the speculation was asked while the call was English"
    assert later and spanish in later[-1].messages[0]["content"], "the reply heard was asked for in Spanish"
    _greeting, *replies = speeches(call)
    assert replies and all((r["voice"], r["language"]) == (LUPE, "es-US") for r in replies)


async def test_the_language_menu_works_by_keys_and_a_cloned_voice_speaks_spanish(stack, bilingual, spanish_llm) -> None:
    script = CallScript(
        to_number=BILINGUAL_ELEVENLABS,
        lines=[CallerLine(dtmf="8"), "¿Y una limpieza?", CallerLine(dtmf="9")],
    )
    call = await place(stack, script)
    await finished_workflow(stack, call)

    greeting, chosen, price, back = speeches(call)
    assert greeting["payload"].endswith(MENU)
    assert chosen["payload"] == "De acuerdo, seguimos en español. ¿En qué puedo ayudarle?"
    eleven_labs = {"type": "elevenlabs", "api_key_ref": "skills-dental-elevenlabs"}
    for spanish in (chosen, price):
        assert (spanish["voice"], spanish["language"], spanish["voice_settings"]) == (CLONED, "es-US", eleven_labs)
    assert price["payload"] == PRICE_IN_SPANISH
    # 9 is always the business's first language.
    assert back["payload"] == "All right, let's continue in English. How can I help you?"
    assert (back["voice"], back["language"]) == ("female", "en-US") and "voice_settings" not in back
    assert [language for action, language in transcriptions(call) if action == "start_transcription"] == [
        "en-US",
        "es",
        "en-US",
    ]
    # The keys chose a language: the brain was asked about the words only, never to answer a key.
    assert [r.messages[-1]["content"] for r in stack.fake_llm.fake.requests if r.stream] == ["¿Y una limpieza?"]
    assert stack.simulator.simulator.refusals == []


async def test_an_emergency_said_in_spanish_reaches_a_person_and_is_answered_in_spanish(stack, bilingual) -> None:
    script = CallScript(to_number=BILINGUAL, lines=["¡Ayuda! Tengo mucho dolor y la encía está sangrando"])
    call = await place(stack, script, timeout=120)
    await finished_workflow(stack, call)

    alarm = next(s for s in speeches(call) if s["payload"].startswith("Parece una emergencia"))
    assert (alarm["payload"], alarm["voice"], alarm["language"]) == (
        "Parece una emergencia. Ahora mismo le comunico con alguien.",
        LUPE,
        "es-US",
    )
    with Session(get_engine(stack.database_url)) as session:
        [escalation] = session.exec(select(Escalation).where(Escalation.call_id == call.call_control_id)).all()
    assert escalation.reason == "emergency: mucho dolor"
    assert stack.simulator.simulator.refusals == []


async def test_a_spanish_caller_held_for_a_person_then_promised_a_call_back_hears_it_all_in_spanish(
    stack, bilingual
) -> None:
    # Nobody on call takes the call: the caller is put on hold, hears they are still held, is asked for a
    # message and promised a call-back; every one of those fixed sentences in Spanish, with the Spanish voice.
    script = CallScript(
        from_number="+12015550277",  # a number a call-back may dial
        to_number=BILINGUAL,
        lines=["¡Ayuda! Tengo mucho dolor y la encía está sangrando", "Se me cayó un diente jugando al fútbol"],
        on_call_answers={"+15555550199": "no_key_press", "+15555550198": "no_key_press"},
        max_call_seconds=120,
    )
    call = await place(stack, script, timeout=120)
    await finished_workflow(stack, call)

    _greeting, *said = speeches(call)
    assert [s["payload"] for s in said[:2]] == [
        "Parece una emergencia. Ahora mismo le comunico con alguien.",
        words_in(PLEASE_HOLD, "es"),
    ]
    payloads = [s["payload"] for s in said]
    assert words_in(STILL_HOLDING, "es") in payloads, "held, the caller hears so in Spanish"
    assert payloads[-2:] == [
        "Lo siento, ahora mismo nadie ha podido atender su llamada. "
        "Dígame brevemente de qué se trata y le devolveremos la llamada.",
        "Gracias. Le devolveremos la llamada en unos minutos. ¡Adiós!",
    ]
    assert all((s["voice"], s["language"]) == (LUPE, "es-US") for s in said)
    with Session(get_engine(stack.database_url)) as session:
        [callback] = session.exec(select(Callback).where(Callback.call_id == call.call_control_id)).all()
    assert "diente" in (callback.message or "")
    await stack.temporal_client.get_workflow_handle(callback.workflow_id).terminate("test over")
    assert stack.simulator.simulator.refusals == []


async def test_a_spanish_callers_texts_are_in_spanish_the_booking_confirmation_and_the_rating_asked(
    offline_stack,
) -> None:
    line, caller = fresh_number(), "+15555550179"
    config = open_every_day(line, languages=["es-US"], satisfaction_survey=True, satisfaction_survey_delay_minutes=0)
    store_business(offline_stack.database_url, config)
    script = CallScript(
        from_number=caller, to_number=line, lines=["Quisiera una limpieza mañana a las diez", "Ana López", "Sí"]
    )
    call = await place(offline_stack, script)
    await finished_workflow(offline_stack, call)
    survey = offline_stack.temporal_client.get_workflow_handle(survey_workflow_id(call.call_control_id))
    await survey.result()

    said = " ".join(s["payload"] for s in speeches(call))
    assert "a nombre de Ana López. ¿Se la reservo?" in said, said
    confirmation, rating = [m.text for m in offline_stack.simulator.simulator.messages if m.to_number == caller]
    assert confirmation == (
        "Skills Test Dental: Su cita de limpieza está reservada para mañana a las diez de la mañana. "
        "Responda o llámenos para cambiarla."
    )
    assert rating == survey_question("Skills Test Dental", "es-US")
    assert rating.startswith("Skills Test Dental: ¡gracias por llamar!")
    assert meaning_of("4 de 5").rating == 4 and meaning_of("5 estrellas").rating == 5


def test_a_spanish_callers_answers_to_the_calls_own_questions_are_understood() -> None:
    # "Is that sorted now?" about an urgent call-back owed: in doubt, it is not.
    assert opening_with_question("Hola.", "es-US") == f"Hola. {words_in(OWED_CALLBACK_QUESTION, 'es')}"
    assert says_sorted("Sí, ya está resuelto") and says_sorted("Ya no hace falta, gracias")
    assert not says_sorted("No, todavía no") and says_not_sorted("No, todavía no")
    assert not says_sorted("Sí, pero sigue goteando")
    # "May this call be recorded?" and "Shall I put you through to a person?"
    assert yes_or_no("Sí, claro") is True and yes_or_no("De acuerdo") is True
    assert yes_or_no("No, prefiero que no") is False and yes_or_no("No hay problema") is True
    assert yes_or_no("¿Cuánto cuesta una limpieza?") is None
    assert yes_or_no("Sí", spanish=False) is None, "calls recorded before heard English answers only"


def test_every_fixed_phrase_has_spanish_words_with_the_same_values() -> None:
    tables = {name: table for name, table in vars(unasked_words).items() if name.isupper() and isinstance(table, dict)}
    assert len(tables) > 20
    for name, table in tables.items():
        assert set(table) == {"en", "es"}, name
        fields = [{f for _, f, _, _ in string.Formatter().parse(words) if f} for words in table.values()]
        assert fields[0] == fields[1], name
    # Another language falls back to English; a region is no other language.
    assert words_in(PLEASE_HOLD, "fr-FR") == words_in(PLEASE_HOLD, None) == "Please hold while I connect you."
    assert words_in(PLEASE_HOLD, "es-MX") == "Por favor, espere mientras le comunico."


def test_a_spanish_business_closed_now_says_so_and_when_it_reopens_in_spanish() -> None:
    config = open_every_day(BILINGUAL, languages=["es-US", "en-US"])
    friday_night = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # Friday 9 PM in New York
    assert opening_words(config, friday_night, open_now=False) == (
        "Gracias por llamar a Skills Test Dental. Ahora mismo estamos cerrados. Volvemos a abrir mañana a las "
        "nueve de la mañana. Puedo responder a sus preguntas, tomar un mensaje o programar una "
        "llamada. ¿En qué puedo ayudarle?"
    )
    english = open_every_day(BILINGUAL)
    assert opening_words(english, friday_night, open_now=False).startswith(
        "Thank you for calling Skills Test Dental. We're closed right now. We open again"
    )


async def test_a_business_saved_as_es_before_languages_were_checked_is_spoken_to_not_refused(stack) -> None:
    # Telnyx's speak takes no bare "es": such a business used to have every sentence refused.
    spanish_row = open_every_day("+15555550173").model_dump(mode="json") | {"language": "es", "greeting": "Hola."}
    del spanish_row["languages"]
    with Session(get_engine(stack.database_url)) as session:
        session.add(Business(name=spanish_row["name"], phone_number="+15555550173", config=spanish_row))
        session.commit()
    call = await place(stack, CallScript(to_number="+15555550173", lines=["¿Cuál es su horario?"]))
    await finished_workflow(stack, call)

    assert [s["language"] for s in speeches(call)] == ["es-US"] * len(speeches(call)) and len(speeches(call)) > 1
    assert transcriptions(call) == [("start_transcription", "es")]
    assert stack.simulator.simulator.refusals == []


async def test_a_web_visitor_who_writes_spanish_is_answered_in_spanish(stack, bilingual, spanish_llm) -> None:
    with Session(get_engine(stack.database_url)) as session:
        business_id = session.exec(select(Business.id).where(Business.phone_number == BILINGUAL)).one()
    with web_api(stack) as url:
        async with loopback_client(url) as client:
            someone = WebVisitor(client)
            assert (await someone.start(business_id)).status_code == 201
            assert not someone.call["greeting"].endswith(MENU), "no keypad in a browser"
            reply = await someone.reply_to("Hola, ¿cuánto cuesta una limpieza?")
            await someone.hang_up()
    assert reply["reply"] == PRICE_IN_SPANISH
    handle = stack.temporal_client.get_workflow_handle_for(CallWorkflow.run, call_workflow_id(someone.call_id))
    assert (await handle.query(CallWorkflow.state)).language == "es-US"


async def test_calls_that_change_language_replay_deterministically(stack, bilingual, spanish_llm) -> None:
    scripts = [
        CallScript(to_number=BILINGUAL, from_number="+15555550174", lines=["Hola, ¿cuánto cuesta una limpieza?"]),
        CallScript(to_number=BILINGUAL_ELEVENLABS, from_number="+15555550175", lines=[CallerLine(dtmf="8"), "Adiós"]),
    ]
    histories = []
    for script in scripts:
        call = await place(stack, script)
        handle = stack.temporal_client.get_workflow_handle(call_workflow_id(call.call_control_id))
        await handle.result()
        histories.append(await handle.fetch_history())
    replayer = Replayer(workflows=[CallWorkflow, CallbackWorkflow], data_converter=pydantic_data_converter)

    async def each():
        for history in histories:
            yield history

    results = await replayer.replay_workflows(each(), raise_on_replay_failure=False)
    assert {run_id: str(failure) for run_id, failure in results.replay_failures.items()} == {}
    assert all(
        any(e.marker_recorded_event_attributes.marker_name == "core_patch" for e in h.events) for h in histories
    ), "the language patches are in the histories"


def test_a_single_language_business_has_no_menu_and_never_switches() -> None:
    config = BusinessConfig(name="One Language Dental")
    assert heard_language(config, "Hola, quisiera una cita para mañana", "en-US") is None
    bilingual = BusinessConfig(name="Two Languages Dental", languages=["en-US", "es-MX"])
    assert heard_language(bilingual, "Hola, quisiera una cita para mañana", "en-US") == "es-MX"
    assert heard_language(bilingual, "Español", "en-US") == "es-MX"
    assert heard_language(bilingual, "Sí", "en-US") is None, "one word tells nothing"
    assert heard_language(bilingual, "Yes, I'd like to book a cleaning for tomorrow", "es-MX") == "en-US"


def test_a_configuration_of_one_language_still_reads() -> None:
    old = BusinessConfig.model_validate({"name": "Old Row Dental", "language": "es-MX", "voice": "male"})
    assert old.languages == ["es-MX"] and old.language == "es-MX"
    assert "language" not in old.model_dump(mode="json"), "written as languages only"
    assert old.voice_for("es-MX").voice == "male"
    assert old.greeting_text() == "Gracias por llamar a Old Row Dental. ¿En qué puedo ayudarle?"
    # Saved before languages were checked: read, written and read again (as an old call's history does).
    free_text = BusinessConfig.model_validate({"name": "Free Text Dental", "language": "Spanish (Mexico)"})
    assert BusinessConfig.model_validate_json(free_text.model_dump_json()).languages == ["Spanish (Mexico)"]


@pytest.fixture(scope="module")
def admin(database_url: str) -> Iterator[httpx.Client]:
    settings = make_settings(DATABASE_URL=database_url, ADMIN_API_KEY=ADMIN_KEY)
    with served_api(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def refused(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(str(p) for p in problem["loc"][1:]): problem["msg"] for problem in response.json()["detail"]}


def test_the_configuration_refuses_languages_and_voices_telnyx_would_refuse(admin, database_url) -> None:
    business_id, saved = add_business(database_url, "Babel Plumbing")
    url = f"/api/admin/businesses/{business_id}/config"
    good = saved.model_dump(mode="json")

    assert refused(admin.put(url, json={**good, "languages": ["en-US", "es"]}, headers=BEARER)) == {
        "languages.1": "Telnyx does not speak 'es': choose one of es-ES, es-MX, es-US"
    }
    assert (
        "it speaks arb, cmn-CN"
        in refused(admin.put(url, json={**good, "languages": ["xx-YY"]}, headers=BEARER))["languages.0"]
    )
    assert "unknown voice 'robot'" in refused(admin.put(url, json={**good, "voice": "robot"}, headers=BEARER))["voice"]
    not_a_language = refused(admin.put(url, json={**good, "languages": ["english please"]}, headers=BEARER))
    assert not_a_language == {
        "languages.0": "'english please' is not a language tag: use BCP-47 tags such as en-US, es-US"
    }
    for voices, problem in [
        ({"es-US": {"voice": "Robot"}}, "unknown voice 'Robot': use female or male, AWS.Polly.<Voice>-Neural"),
        ({"es-US": {"voice": CLONED}}, "needs an api_key_ref: the Telnyx integration secret"),
        ({"es-US": {"voice": LUPE, "api_key_ref": "x"}}, "api_key_ref is for ElevenLabs voices only"),
        ({"es-US": {"voice": "Azure.en-US-AvaNeural"}}, "speaks en-US, not es-US"),
        ({"fr-FR": {"voice": "female"}}, "'fr-FR' is not one of the languages"),
    ]:
        answer = admin.put(url, json={**good, "languages": ["en-US", "es-US"], "voices": voices}, headers=BEARER)
        assert answer.status_code == 422 and problem in answer.text, (voices, answer.text)

    choice = {"languages": ["en-US", "es-mx"], "voices": {"es-MX": {"voice": "Azure.es-MX-DaliaNeural"}}}
    assert admin.put(url, json={**good, **choice}, headers=BEARER).status_code == 200
    stored = admin.get(url, headers=BEARER).json()
    assert stored["languages"] == ["en-US", "es-MX"] and "language" not in stored
    assert stored["voices"] == {"es-MX": {"voice": "Azure.es-MX-DaliaNeural", "api_key_ref": None}}


def test_the_migration_moves_each_language_into_languages(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'before-languages.db'}"
    command.upgrade(alembic_config(url), "0006")
    old = {"name": "Spanish Only Dental", "language": "es-MX", "voice": "male"}
    # Rows as the schema of 0006 holds them: today's `Business` model has columns that came later.
    insert = text(
        "INSERT INTO businesses (name, phone_number, config, created_at, updated_at) "
        "VALUES (:name, NULL, :config, :at, :at)"
    )
    with Session(get_engine(url)) as session:
        for name, config in ((old["name"], old), ("Default Dental", {"name": "Default Dental"})):
            session.execute(insert, {"name": name, "config": json.dumps(config), "at": datetime.now(UTC)})
        session.commit()

    command.upgrade(alembic_config(url), "0009")
    with Session(get_engine(url)) as session:
        rows = dict(session.exec(text("SELECT name, config FROM businesses")).all())  # type: ignore[call-overload]
    configs = {name: BusinessConfig.model_validate_json(config) for name, config in rows.items()}
    assert configs["Spanish Only Dental"].languages == ["es-MX"] and configs["Default Dental"].languages == ["en-US"]
    assert '"language"' not in rows["Spanish Only Dental"]

    command.downgrade(alembic_config(url), "0006")
    with Session(get_engine(url)) as session:
        back = dict(session.exec(text("SELECT name, config FROM businesses")).all())  # type: ignore[call-overload]
    assert '"language": "es-MX"' in back["Spanish Only Dental"] and "languages" not in back["Spanish Only Dental"]


def test_the_configuration_page_shows_each_language_with_its_voice_and_key(admin, database_url) -> None:
    business_id, _ = add_business(
        database_url, "Two Tongues Plumbing", languages=["en-US", "es-MX"], voices={"es-MX": {"voice": "male"}}
    )
    page = admin.get(f"/admin/businesses/{business_id}/config", headers=BEARER)
    assert page.status_code == 200
    rows = page.text[page.text.index('id="spoken-languages"') :]
    assert "English (en-US) · default</td><td><code>female</code></td><td>9</td>" in rows
    assert "Spanish (es-MX)</td><td><code>male</code></td><td>8</td>" in rows


async def test_the_realtime_session_speaks_the_configured_language_unless_the_visitor_chooses(
    database_url, fake_realtime
) -> None:
    business_id, _ = add_business(
        database_url, "Solo Español Plumbing", languages=["es-MX", "en-US"], demo_enabled=True
    )
    with realtime_api(database_url, fake_realtime) as url:
        async with page_client(url) as page:
            configured = await open_session(page, business_id=business_id)
            chosen = await open_session(page, business_id=business_id, language="en-US")
    assert (configured.json()["language"], chosen.json()["language"]) == ("es-MX", "en-US")
    first, second = created_sessions(fake_realtime)[-2:]
    assert first["audio"]["input"]["transcription"]["language"] == "es"
    assert "Speak es-MX. The business also speaks English (en-US)" in first["instructions"]
    assert second["audio"]["input"]["transcription"]["language"] == "en"
    assert "Speak en-US. The caller speaks English: answer only in English" in second["instructions"]


@pytest.mark.parametrize(
    ("kind", "said", "phrase"),
    [
        ("plumber", "¡Se reventó una tubería y hay agua por todas partes!", "se revento"),
        ("plumbing", "La cocina está inundada", "inundada"),
        ("hvac", "Creo que huele a gas en el sótano", "huele a gas"),
        ("dental office", "Se me cayó un diente jugando al fútbol", "se me cayo un diente"),
        ("general", "Es una emergencia", "emergencia"),
    ],
)
def test_emergencies_in_spanish_for_a_business_that_speaks_it(kind: str, said: str, phrase: str) -> None:
    from receptionist.emergencies_by_language import emergency_in_languages

    spanish = BusinessConfig(name="Bilingüe", business_type=kind, languages=["en-US", "es-US"])
    assert emergency_in_languages(spanish, said) == phrase
    english_only = BusinessConfig(name="English Only", business_type=kind)
    assert emergency_in_languages(english_only, said) is None
    assert emergency_in_languages(spanish, "Quisiera una cita para una limpieza") is None


def test_each_transcription_engine_gets_its_own_code_for_a_language() -> None:
    from business.telnyx_catalog import engine_language, transcription_language

    assert transcription_language("es-US") == "es"  # Google, Telnyx's default engine
    assert transcription_language("en-GB-WLS") == "en"
    assert engine_language("es-MX", "TranscriptionEngineTelnyxConfigParam") == "es"
    assert engine_language("es-US", "DeepgramNova2ConfigParam") == "es-419", "nova-2 has Latin American Spanish"
    assert engine_language("xx-YY", "TranscriptionEngineAzureConfigParam") is None
