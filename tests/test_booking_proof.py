"""Caller ID is not proof: the appointment book tells, moves and cancels only for a caller who shows more.

Against the real database, through `AppointmentBook` as the activities and the Realtime endpoint use
it. The owner books in a call of their own; "a spoofer" is another call presenting the owner's number.
`NOW` is Monday, January 6, 2031 (tests/test_appointment_book.py); the booking is tomorrow.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from business.instructions import build_instructions
from database.appointment_book import CodeToSend
from receptionist.appointment_requests import BookingProof, CancelRequest, CodeRequest, LookUpRequest, ToolOutcome
from receptionist.booking_proof import (
    ASK_CODE_TO_CANCEL,
    ASK_NAME_AND_DAY,
    CANNOT_TEXT,
    CHECK_NAME_AND_DAY,
    CODE_LIFETIME_MINUTES,
    CODE_REFUSALS,
    CODE_SENT,
    CODE_TRIES,
    NO_MATCH,
    OFFER_CODE,
    TEXTED_ENOUGH,
    CodeCheck,
    digits_of,
    name_matches,
)
from tests.businesses import open_every_day
from tests.test_appointment_book import NOW, Shop, utc

pytestmark = pytest.mark.database

TOMORROW = "2031-01-07"


class Line(Shop):
    """A business that texts (`sms_from_number`), and the calls made to it."""

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self.config = self.config.model_copy(update={"sms_from_number": self.config.phone_number})

    def look_up(self, call_id: str, proof: BookingProof | None = None, *, key: str | None = None) -> ToolOutcome:
        return self.book_of.look_up(
            LookUpRequest(
                **self._common(None, call_id),
                idempotency_key=key or f"key-{uuid.uuid4()}",
                proof=proof or BookingProof(),
            )
        )

    def code(self, call_id: str, *, key: str | None = None, caller: str | None = None, now=NOW) -> CodeToSend:
        request = CodeRequest(**self._common(caller, call_id), idempotency_key=key or f"key-{uuid.uuid4()}")
        sent = self.book_of.code_to_send(request.model_copy(update={"now": now}))
        assert isinstance(sent, CodeToSend), sent
        return sent

    def cancel_at(self, call_id: str, proof: BookingProof, now) -> ToolOutcome:
        return self.book_of.cancel(
            CancelRequest(**self._common(None, call_id), idempotency_key=f"key-{uuid.uuid4()}", proof=proof).model_copy(
                update={"now": now}
            )
        )

    def code_refusal(self, call_id: str, *, caller: str | None = None) -> ToolOutcome:
        sent = self.book_of.code_to_send(
            CodeRequest(**self._common(caller, call_id), idempotency_key=f"key-{uuid.uuid4()}")
        )
        assert isinstance(sent, ToolOutcome), sent
        return sent


@pytest.fixture
def line(database_url: str) -> Line:
    return Line(database_url)


def a_call() -> str:
    return f"call-{uuid.uuid4()}"


def wrong(code: str) -> str:
    return f"{code[:-1]}{(int(code[-1]) + 1) % 10}"


# --- names and codes as callers say them -------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "booked", "that_day", "matches"),
    [
        ("jane doe", "Jane Doe", ["Jane Doe"], True),
        ("  JANE   DOE ", "Jane Doe", ["Jane Doe"], True),
        ("Jane", "Jane Doe", ["Jane Doe"], True),  # the first name alone, when only one Jane is booked that day
        ("Jane Doe", "Jane", ["Jane"], True),  # booked under the first name, the full name said
        ("Kim", "Kim Lee", ["Kim Lee", "Kim Park"], False),  # two Kims that day: which one?
        ("Kim Park", "Kim Park", ["Kim Lee", "Kim Park"], True),
        ("Doe", "Jane Doe", ["Jane Doe"], False),  # never a surname alone
        ("Jan Doe", "Jane Doe", ["Jane Doe"], False),
        ("Jane", None, [None], False),
        ("", "Jane Doe", ["Jane Doe"], False),
    ],
)
def test_a_name_is_compared_forgivingly_but_never_loosely(said, booked, that_day, matches) -> None:
    assert name_matches(said, booked, that_day) is matches


@pytest.mark.parametrize("read_out", ["481516", "4 8 1 5 1 6", "481-516", "It's four eight one five one six"])
def test_a_code_is_read_however_it_is_said(read_out: str) -> None:
    assert digits_of(read_out) == "481516"


# --- no proof, no appointment --------------------------------------------------------------------------


def test_a_spoofed_number_hears_moves_and_cancels_nothing_and_learns_nothing(line: Line) -> None:
    booked = line.book(f"{TOMORROW}T10:00", name="Jane Doe")
    spoofer = a_call()
    heard = line.look_up(spoofer)
    moved = line.move(f"{TOMORROW}T14:00", call_id=spoofer)
    cancelled = line.cancel(call_id=spoofer)
    assert (heard.ok, moved.ok, cancelled.ok) == (False, False, False)
    assert heard.message == moved.message == ASK_NAME_AND_DAY
    assert cancelled.message == ASK_CODE_TO_CANCEL
    guessed = line.move(f"{TOMORROW}T14:00", call_id=spoofer, proof=BookingProof(caller_name="John", day=TOMORROW))
    assert guessed.message == f"{NO_MATCH} {OFFER_CODE}"
    name_only = line.cancel(call_id=spoofer, proof=BookingProof(caller_name="Jane Doe", day=TOMORROW))
    assert name_only.message == ASK_CODE_TO_CANCEL, "the name and day do not cancel where a code can be texted"
    for said in (heard, moved, cancelled, guessed):
        assert "Jane" not in said.message and "cleaning" not in said.message and "10" not in said.message
    [appointment] = line.appointments()
    assert (appointment.id, appointment.status) == (booked.appointment_id, "booked")
    assert line.slots() == [utc("2031-01-07T15:00:00"), utc("2031-01-07T15:15:00")]

    # A number with no booking hears exactly the same.
    stranger = {"caller": line.new_caller(), "call_id": a_call()}
    assert line.move(f"{TOMORROW}T14:00", **stranger).message == ASK_NAME_AND_DAY
    assert line.cancel(**stranger).message == ASK_CODE_TO_CANCEL
    nobodys = line.move(f"{TOMORROW}T14:00", **stranger, proof=BookingProof(caller_name="John", day=TOMORROW))
    assert nobodys.message == guessed.message


def test_what_this_very_call_booked_needs_no_proof(line: Line) -> None:
    call = a_call()
    booked = line.book(f"{TOMORROW}T10:00", call_id=call)
    assert line.cancel(call_id=call).appointment_id == booked.appointment_id


# --- the name on the booking and its day ---------------------------------------------------------------


def test_the_name_and_day_tell_and_move_the_right_appointment(line: Line) -> None:
    line.book(f"{TOMORROW}T10:00", name="Kim Lee")
    park = line.book(f"{TOMORROW}T13:00", "Checkup", name="Kim Park")
    line.book("2031-01-08T10:00", name="Ann Lee")
    owner = a_call()
    assert line.look_up(owner, BookingProof(caller_name="Kim", day=TOMORROW)).message.startswith(NO_MATCH), (
        "two Kims booked that day: the first name alone is not enough"
    )
    heard = line.look_up(owner, BookingProof(caller_name="kim  PARK", day=TOMORROW))
    assert heard.ok and heard.appointment_id == park.appointment_id
    assert heard.message == "The appointment is a checkup tomorrow at 1 PM, under the name Kim Park."
    wrong_day = line.move("2031-01-09T10:00", call_id=owner, proof=BookingProof(caller_name="Ann Lee", day=TOMORROW))
    assert not wrong_day.ok and wrong_day.message.startswith(NO_MATCH)
    moved = line.move("2031-01-09T10:00", call_id=owner, proof=BookingProof(caller_name="Ann", day="2031-01-08"))
    assert moved.ok and moved.message == "Moved to a cleaning Thursday, January 9 at 10 AM.", moved.message


def test_a_retried_move_answers_as_moved_though_the_day_said_is_no_longer_its_day(line: Line) -> None:
    booked = line.book(f"{TOMORROW}T10:00", name="Jane Doe")
    proof = BookingProof(caller_name="Jane", day=TOMORROW)
    first = line.move("2031-01-08T14:00", call_id="call-y", key="call-y/turn-3/tool-0", proof=proof)
    retry = line.move("2031-01-08T14:00", call_id="call-y", key="call-y/turn-3/tool-0", proof=proof)
    assert first.ok and retry.ok and retry.appointment_id == booked.appointment_id


def test_where_no_code_can_be_texted_the_name_and_day_cancel(database_url: str) -> None:
    shop = Shop(database_url)  # no sms_from_number
    booked = shop.book(f"{TOMORROW}T10:00", name="Jane Doe")
    other_call = a_call()
    assert shop.cancel(call_id=other_call).message == ASK_NAME_AND_DAY
    refused = shop.cancel(call_id=other_call, proof=BookingProof(caller_name="John", day=TOMORROW))
    assert refused.message == f"{NO_MATCH} {CHECK_NAME_AND_DAY}", "no code is offered by a line that cannot text"
    cancelled = shop.cancel(call_id=other_call, proof=BookingProof(caller_name="Jane Doe", day=TOMORROW))
    assert cancelled.ok and cancelled.appointment_id == booked.appointment_id


# --- a code texted to the booking's number --------------------------------------------------------------


def test_the_texted_code_cancels_in_the_call_that_asked_for_it(line: Line) -> None:
    booked = line.book(f"{TOMORROW}T10:00")
    owner, elsewhere = a_call(), a_call()
    sent = line.code(owner, key=f"{owner}/turn-2/tool-0")
    assert (sent.to, sent.from_number) == (line.caller, line.config.sms_from_number)
    assert len(sent.code) == 6 and sent.code.isdigit()
    assert line.code(owner, key=f"{owner}/turn-2/tool-0").code == sent.code, "a retried send texts the same code"
    refused = line.cancel(call_id=elsewhere, proof=BookingProof(code=sent.code))
    assert refused.message == CODE_REFUSALS[CodeCheck.NONE_SENT], "a code works only in the call it was texted for"
    cancelled = line.cancel(call_id=owner, proof=BookingProof(code=" ".join(sent.code)))
    assert cancelled.ok and cancelled.appointment_id == booked.appointment_id
    assert [a.status for a in line.appointments()] == ["cancelled"]


def test_wrong_codes_lock_it_even_against_the_right_one(line: Line) -> None:
    line.book(f"{TOMORROW}T10:00")
    spoofer = a_call()
    code = line.code(spoofer).code
    tries = [line.cancel(call_id=spoofer, proof=BookingProof(code=wrong(code))) for _ in range(CODE_TRIES)]
    assert [t.message for t in tries] == [CODE_REFUSALS[CodeCheck.WRONG]] * (CODE_TRIES - 1) + [
        CODE_REFUSALS[CodeCheck.LOCKED]
    ]
    assert line.cancel(call_id=spoofer, proof=BookingProof(code=code)).message == CODE_REFUSALS[CodeCheck.LOCKED]
    assert line.look_up(spoofer, BookingProof(code=code)).message == CODE_REFUSALS[CodeCheck.LOCKED]
    assert line.code_refusal(spoofer).message == CODE_REFUSALS[CodeCheck.LOCKED], "and no new code in this call"
    assert [a.status for a in line.appointments()] == ["booked"]


def test_a_retried_wrong_try_counts_once(line: Line) -> None:
    line.book(f"{TOMORROW}T10:00")
    call = a_call()
    code = line.code(call).code
    for _ in range(CODE_TRIES):
        retried = line.cancel(call_id=call, key=f"{call}/turn-3/tool-0", proof=BookingProof(code=wrong(code)))
        assert retried.message == CODE_REFUSALS[CodeCheck.WRONG]
    assert line.cancel(call_id=call, proof=BookingProof(code=code)).ok


def test_an_expired_code_is_refused_and_a_new_one_texted(line: Line) -> None:
    line.book(f"{TOMORROW}T10:00")
    call = a_call()
    first = line.code(call).code
    later = NOW + timedelta(minutes=CODE_LIFETIME_MINUTES + 1)
    assert line.cancel_at(call, BookingProof(code=first), later).message == CODE_REFUSALS[CodeCheck.EXPIRED]
    renewed = line.code(call, now=later).code
    assert line.code_refusal(call).message == TEXTED_ENOUGH, "two texts per call at most"
    assert line.cancel_at(call, BookingProof(code=renewed), later).ok


def test_nobody_is_texted_for_a_number_without_a_booking_but_the_caller_hears_the_same(line: Line) -> None:
    nobody = line.code_refusal(a_call(), caller=line.new_caller())
    assert nobody == ToolOutcome(ok=True, message=CODE_SENT)
    line.config = line.config.model_copy(update={"sms_from_number": None})
    assert line.code_refusal(a_call()).message == CANNOT_TEXT


def test_the_llm_is_told_to_ask_for_the_name_and_day_or_a_code() -> None:
    instructions = build_instructions(open_every_day())
    assert "ask the name it is under and the day it is on" in instructions
    assert "text_booking_code" in instructions
