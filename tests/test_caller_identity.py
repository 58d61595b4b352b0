"""Caller ID is easy to spoof: through the real stack, a number alone hears, moves and cancels nothing.

Each test has a practice of its own (its own number and calendar). Kim books a checkup by phone;
then "a spoofer" calls presenting Kim's number, as anyone can, without knowing what Kim knows or
holding Kim's phone. The texts our app sends are read from the Telnyx simulator, where a scripted
caller reads a texted code out (`{texted_code}`) or misreads it (`{wrong_code}`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from database.engine import get_engine
from database.models import Appointment
from receptionist.booking_proof import (
    ASK_CODE_TO_CANCEL,
    ASK_NAME_AND_DAY,
    BOOKING_DAY_QUESTION,
    CODE_REFUSALS,
    CODE_SENT,
    NO_MATCH,
    OFFER_CODE,
    CodeCheck,
)
from simulator.call_script import CallScript
from simulator.fake_openai.behaviour import FakeReplyRule, FakeToolCall
from tests.businesses import open_every_day, store_business
from tests.records import fresh_number
from tests.test_phone_call import finished_workflow, spoken

pytestmark = pytest.mark.database

NEW_YORK = ZoneInfo("America/New_York")


def tomorrow() -> datetime:
    return datetime.now(NEW_YORK) + timedelta(days=1)


def tomorrow_at(hour: int) -> datetime:
    day = tomorrow().date()
    return datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Practice:
    """A practice of the test's own and Kim, its patient, whose number anyone can present."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.number = fresh_number()
        self.kims_number = fresh_number()
        store_business(stack.database_url, open_every_day(self.number).model_copy(update={"name": "Identity Dental"}))

    async def call(self, lines: list[str]):
        call = self.stack.simulator.place_call(
            CallScript(from_number=self.kims_number, to_number=self.number, lines=lines)
        )
        await self.stack.simulator.wait_ended(call, 90)
        await finished_workflow(self.stack, call)
        return call

    async def kim_books_a_checkup_tomorrow_at_9(self) -> Appointment:
        await self.call(["I'd like to book a checkup tomorrow at 9 am", "My name is Kim", "Yes", "Bye"])
        [appointment] = self.appointments()
        assert (appointment.caller_name, appointment.status) == ("Kim", "booked")
        assert as_utc(appointment.starts_at) == tomorrow_at(9)
        return appointment

    def appointments(self) -> list[Appointment]:
        with Session(get_engine(self.stack.database_url)) as session:
            return list(session.exec(select(Appointment).where(Appointment.caller_number == self.kims_number)).all())

    def codes_texted(self) -> list[str]:
        return [text for text in self.texts_to_kim() if "your code is" in text]

    def texts_to_kim(self) -> list[str]:
        return [m.text for m in self.stack.simulator.simulator.messages if m.to_number == self.kims_number]


def said(call) -> str:
    return " ".join(spoken(call))


def unchanged(practice: Practice, before: Appointment) -> None:
    [now] = practice.appointments()
    assert (now.id, now.status, as_utc(now.starts_at), now.service) == (
        before.id,
        "booked",
        as_utc(before.starts_at),
        before.service,
    )


async def test_a_spoofed_caller_id_hears_moves_and_cancels_nothing(offline_stack):
    practice = Practice(offline_stack)
    kims = await practice.kim_books_a_checkup_tomorrow_at_9()
    texts_before = len(practice.texts_to_kim())

    hear = await practice.call(["When is my appointment?", "Alex", "Tomorrow", "No", "Bye"])
    heard = said(hear)
    assert ASK_NAME_AND_DAY in heard and BOOKING_DAY_QUESTION in heard
    assert f"{NO_MATCH} {OFFER_CODE}" in heard
    assert "No problem. Is there anything else I can help with?" in heard, "no code without a yes"

    move = await practice.call(
        ["I need to reschedule my appointment to tomorrow at 3 pm", "Alex Kim", "Tomorrow", "Yes", "No", "Bye"]
    )
    assert f"{NO_MATCH} {OFFER_CODE}" in said(move)

    cancel = await practice.call(["Please cancel my appointment", "No thanks", "Bye"])
    assert ASK_CODE_TO_CANCEL in said(cancel)

    for call in (hear, move, cancel):
        # Nothing of the booking is told: not the service, the time, nor the name on it. The greeting is left
        # out: after hours it says when the practice opens again ("tomorrow at 9 AM"), which is no secret.
        replies = " ".join(spoken(call)[1:])
        assert "checkup" not in replies.lower() and "9 AM" not in replies and "Kim" not in replies
    unchanged(practice, kims)
    assert len(practice.texts_to_kim()) == texts_before, "nobody asked for a code, none was texted"


async def test_wrong_codes_lock_the_texted_code_and_the_appointment_stays(offline_stack):
    practice = Practice(offline_stack)
    kims = await practice.kim_books_a_checkup_tomorrow_at_9()
    # The spoofer asks for a code: it goes to Kim's phone, and the spoofer can only guess.
    spoofer = await practice.call(
        [
            "Please cancel my appointment",
            "Yes",
            "It's {wrong_code}",
            "{wrong_code}",
            "Maybe {wrong_code}",
            "Bye",
        ]
    )
    heard = said(spoofer)
    assert CODE_SENT in heard
    assert heard.count(CODE_REFUSALS[CodeCheck.WRONG]) == 2
    assert CODE_REFUSALS[CodeCheck.LOCKED] in heard
    [code_text] = practice.codes_texted()
    assert "If you are not on the phone with us, do not share it." in code_text
    unchanged(practice, kims)


async def test_kim_hears_and_moves_with_the_name_and_day_and_cancels_with_the_texted_code(offline_stack):
    practice = Practice(offline_stack)
    await practice.kim_books_a_checkup_tomorrow_at_9()

    hear = await practice.call(["When is my appointment?", "kim", "Tomorrow", "Bye"])
    assert "The appointment is a checkup tomorrow at 9 AM, under the name Kim." in said(hear)

    await practice.call(["I need to reschedule my appointment to tomorrow at 11 am", "Kim", "tomorrow", "Yes", "Bye"])
    [moved] = practice.appointments()
    assert as_utc(moved.starts_at) == tomorrow_at(11) and moved.status == "booked"

    cancel = await practice.call(["Please cancel my appointment", "Yes", "The code is {texted_code}", "Bye"])
    [code_text] = practice.codes_texted()
    code = code_text.split("your code is ")[1][:6]
    assert any(line.text == f"The code is {code}" for line in cancel.conversation if line.speaker == "caller")
    assert "All set. Cancelled a checkup tomorrow at 11 AM." in said(cancel)
    [cancelled] = practice.appointments()
    assert cancelled.status == "cancelled"


async def test_through_the_llm_a_wrong_name_is_refused_and_the_right_one_moves_it(stack, offline_stack):
    practice = Practice(offline_stack)  # Kim books with the offline brain; the LLM takes the next call
    kims = await practice.kim_books_a_checkup_tomorrow_at_9()
    day = tomorrow().date().isoformat()
    wrong = {"new_start": f"{day}T15:00", "caller_name": "Alex", "day": day}
    right = {"new_start": f"{day}T15:00", "caller_name": "  KIM ", "day": day}
    fake = stack.fake_llm.fake
    fake.set_behaviour(
        fake.behaviour.model_copy(
            update={
                "rules": [
                    FakeReplyRule(
                        contains="I'm Alex", tool_call=FakeToolCall(name="move_appointment", arguments=wrong)
                    ),
                    FakeReplyRule(contains="I'm Kim", tool_call=FakeToolCall(name="move_appointment", arguments=right)),
                ]
            }
        )
    )
    practice.stack = stack
    try:
        refused = await practice.call(["Move my appointment to 3 pm, I'm Alex"])
        unchanged(practice, kims)
        moved = await practice.call(["Move my appointment to 3 pm, I'm Kim"])
    finally:
        fake.set_behaviour(fake.behaviour.model_copy(update={"rules": []}))
    assert f"Done: {NO_MATCH} {OFFER_CODE}" in said(refused)
    assert "Done: Moved to a checkup tomorrow at 3 PM." in said(moved)
    [appointment] = practice.appointments()
    assert as_utc(appointment.starts_at) == tomorrow_at(15)
