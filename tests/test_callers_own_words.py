"""The three kinds of sentence the keyword responder missed (issue 12), over the phone path with the offline brain.

Callers as they talk: a plumbing emergency described, not named; a technician's visit asked for
("can someone take a look"), which is a booking and no transfer; and a time named before a price
question, booked on a "yes, please" to "Would you like to book?".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from business.config import Service
from database.engine import get_engine
from database.models import Appointment
from simulator.call_script import CallScript
from tests.businesses import open_every_day, store_business
from tests.test_phone_call import finished_workflow, spoken

pytestmark = pytest.mark.database

DENTIST = "+15555550118"  # its own calendar: other modules book +15555550111
PLUMBER = "+15555550115"
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module", autouse=True)
def businesses(database_url: str) -> None:
    store_business(database_url, open_every_day(DENTIST))
    plumber = open_every_day(PLUMBER).model_copy(
        update={
            "name": "Rapid Rooter Plumbing",
            "business_type": "plumber",
            "services": [
                Service(name="Drain cleaning", duration_minutes=60, price="$150"),
                Service(name="Water heater repair", duration_minutes=90, price="$220"),
            ],
        }
    )
    store_business(database_url, plumber)


async def place(stack, script: CallScript):
    call = stack.simulator.place_call(script)
    await stack.simulator.wait_ended(call, 90)
    await finished_workflow(stack, call)
    return call


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(NEW_YORK).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def appointments_of(stack, caller: str) -> list[Appointment]:
    with Session(get_engine(stack.database_url)) as session:
        return session.exec(select(Appointment).where(Appointment.caller_number == caller)).all()


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def test_a_burst_pipe_in_the_callers_words_reaches_the_on_call_plumber(offline_stack):
    script = CallScript(
        from_number="+15555550281",
        to_number=PLUMBER,
        lines=["Hi, the pipe under my kitchen sink just burst and there's water all over the floor"],
    )
    call = await place(offline_stack, script)
    assert "Please hold while I connect you." in spoken(call)
    assert [t.to for t in call.transfers][:1] == ["+15555550199"], "the on-call person, first on the list"


async def test_someone_to_take_a_look_is_a_visit_booked_not_a_transfer(offline_stack):
    caller = "+15555550282"
    script = CallScript(
        from_number=caller,
        to_number=PLUMBER,
        lines=[
            "Can someone come take a look at my water heater? It's making a banging noise",
            "Water heater repair, tomorrow at 10 am",
            "Greg Miller",
            "Yes please",
        ],
    )
    call = await place(offline_stack, script)
    assert not call.transfers, "nobody transferred"
    said = " ".join(spoken(call))
    assert "I can book a visit for you." in said
    [visit] = appointments_of(offline_stack, caller)
    assert visit.service == "Water heater repair" and visit.caller_name == "Greg Miller"
    assert utc(visit.starts_at) == tomorrow_at(10)


async def test_yes_please_to_would_you_like_to_book_books_the_time_named_before(offline_stack):
    caller = "+15555550283"
    script = CallScript(
        from_number=caller,
        to_number=DENTIST,
        lines=["How much is a cleaning? I was hoping for tomorrow at 3:45 pm", "Yes, please", "Jane Doe", "That works"],
    )
    call = await place(offline_stack, script)
    said = " ".join(spoken(call))
    assert "A cleaning takes 30 minutes and costs $90. Would you like to book?" in said
    assert "May I have your name for the booking?" in said
    [cleaning] = appointments_of(offline_stack, caller)
    assert cleaning.service == "Cleaning" and cleaning.caller_name == "Jane Doe"
    assert utc(cleaning.starts_at) == tomorrow_at(15, 45)
    assert not call.transfers


async def test_a_business_that_speaks_spanish_answers_in_spanish_with_the_offline_brain(offline_stack, database_url):
    store_business(database_url, open_every_day("+15555550116", languages=["es-US"]))
    script = CallScript(
        from_number="+15555550284",
        to_number="+15555550116",
        lines=["¿Cuál es su horario?", "¿Cuánto cuesta una limpieza?", "No, gracias", "No, eso es todo, adiós"],
    )
    call = await place(offline_stack, script)
    said = " ".join(spoken(call))
    assert "Nuestro horario es de lunes a domingo, de nueve de la mañana a cinco de la tarde." in said
    assert "Limpieza: 30 minutos, $90. ¿Le gustaría hacer una cita?" in said
    assert "No hay problema. ¿Le puedo ayudar en algo más?" in said
    assert "Gracias por llamar a Skills Test Dental. ¡Que tenga buen día!" in said
    speaks = [c for c in call.commands if c.action == "speak" and "Limpieza" in c.body["payload"]]
    assert speaks and all(c.body["language"] == "es-US" for c in speaks)


async def test_a_spanish_emergency_is_heard_by_the_safety_net_and_answered_in_spanish(offline_stack, database_url):
    store_business(database_url, open_every_day("+15555550116", languages=["es-US"]))
    script = CallScript(
        from_number="+15555550285", to_number="+15555550116", lines=["Se me cayó un diente y no para de sangrar"]
    )
    call = await place(offline_stack, script)
    assert "Parece una emergencia. Ahora mismo le comunico con alguien." in spoken(call)  # the safety net, in Spanish
    assert [t.to for t in call.transfers][:1] == ["+15555550199"]
