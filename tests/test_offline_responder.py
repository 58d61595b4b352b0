"""The receptionist that needs no network, talked to turn by turn as a caller would.

Each turn goes through `offline_reply` with the conversation so far, the way the call workflow
calls it; where the responder asks for a tool, the test plays the activity's answer back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from domain.vocabulary import Utterance
from receptionist.booking_proof import (
    ASK_CODE_TO_CANCEL,
    ASK_NAME_AND_DAY,
    BOOKING_DAY_QUESTION,
    CODE_QUESTION,
    CODE_REFUSALS,
    CODE_SENT,
    NAME_ON_BOOKING_QUESTION,
    NO_MATCH,
    OFFER_CODE,
    CodeCheck,
)
from receptionist.caller_memory import ReturningCaller
from receptionist.conversation_state import ConversationState
from receptionist.offline_responder import READBACK_QUESTION, BrainReply, offline_reply
from receptionist.owed_callbacks import OWED_CALLBACK_QUESTION
from receptionist.tools import ToolRound

# Monday, December 7, 2026, 10:00 AM in New York: the office is open.
MONDAY_MORNING = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
# Saturday, December 12, 2026, 10:00 AM in New York: closed for the weekend.
SATURDAY_MORNING = datetime(2026, 12, 12, 15, 0, tzinfo=UTC)


def dental(**changes: object) -> BusinessConfig:
    config = BusinessConfig(
        name="Bright Smile Dental",
        business_type="dental office",
        address="12 Main Street, Springfield",
        timezone="America/New_York",
        services=[
            Service(name="Cleaning", duration_minutes=30, price="$90"),
            Service(name="Checkup", duration_minutes=45, price="$120"),
            Service(name="Whitening", duration_minutes=60, price="$250"),
        ],
        hours={day: OpeningHours(opens=time(8), closes=time(17)) for day in WEEKDAYS[:5]},
    )
    return config.model_copy(update=changes)


class Call:
    """One phone call with the offline responder: the transcript grows as the workflow grows it.

    Like the workflow, it keeps the state each reply returns and hands it to the next; with
    `keep_state=False` every reply reads the conversation from the transcript alone."""

    def __init__(
        self,
        config: BusinessConfig | None = None,
        now: datetime = MONDAY_MORNING,
        *,
        language: str = "en",
        keep_state: bool = True,
        returning: ReturningCaller | None = None,
    ) -> None:
        self.config, self.now, self.language, self.keep_state = config or dental(), now, language, keep_state
        self.returning = returning
        self.history: list[Utterance] = []
        self.state: ConversationState | None = None

    def reply(self, caller_text: str, rounds: list[ToolRound]) -> BrainReply:
        reply = offline_reply(
            self.config,
            self.history,
            caller_text,
            rounds,
            self.now,
            language=self.language,
            state=self.state,
            returning=self.returning,
        )
        if self.keep_state:
            self.state = reply.state
        return reply

    def say(self, caller_text: str, tool_results: list[str] | None = None) -> BrainReply:
        reply = self.reply(caller_text, [])
        spoken = [reply.text]
        if reply.tool_calls and tool_results is not None:
            rounds = [ToolRound(said=reply.text, calls=reply.tool_calls, results=tool_results)]
            after = self.reply(caller_text, rounds)
            assert after.tool_calls == []
            spoken.append(after.text)
        self.history += [
            Utterance(speaker="caller", text=caller_text),
            Utterance(speaker="agent", text=" ".join(spoken)),
        ]
        return reply

    @property
    def last_said(self) -> str:
        return self.history[-1].text


def only_call(reply: BrainReply) -> tuple[str, dict]:
    assert len(reply.tool_calls) == 1, reply
    return reply.tool_calls[0].name, reply.tool_calls[0].parsed_arguments()


# --- booking over several turns --------------------------------------------------------------------


def test_a_booking_collected_over_several_turns_is_read_back_then_booked() -> None:
    call = Call()
    assert call.say("Hi").text == "Hello! How can I help you today?"
    reply = call.say("I'd like to book an appointment")
    assert "Which service" in reply.text and "cleaning, checkup, whitening" in reply.text and not reply.tool_calls
    assert call.say("A cleaning please").text == "What day would suit you?"
    reply = call.say(
        "Tomorrow",
        tool_results=[
            "Free times for a cleaning: tomorrow at 8 AM (2026-12-08T08:00); tomorrow at 2 PM (2026-12-08T14:00)."
        ],
    )
    assert only_call(reply) == ("check_availability", {"service": "Cleaning", "day": "2026-12-08"})
    assert call.last_said.endswith(
        "Free times for a cleaning: tomorrow at 8 AM; tomorrow at 2 PM. Which would you like?"
    )
    assert call.say("at 2 pm").text == "May I have your name for the booking?"
    reply = call.say("Jane Doe")
    assert reply.text == f"Just to confirm: a cleaning tomorrow at 2 PM, under the name Jane Doe. {READBACK_QUESTION}"
    assert not reply.tool_calls, "nothing is booked before the caller says yes"
    reply = call.say("Yes", tool_results=["Booked a cleaning tomorrow at 2 PM."])
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Cleaning", "start": "2026-12-08T14:00", "caller_name": "Jane Doe"},
    )
    assert (
        call.last_said
        == "One moment. All set. Booked a cleaning tomorrow at 2 PM. Is there anything else I can help with?"
    )


def test_everything_in_one_sentence_needs_only_the_name_and_a_yes() -> None:
    call = Call()
    assert call.say("I want to book a checkup on Wednesday at 10:30").text == "May I have your name for the booking?"
    reply = call.say("My name is Tom")
    assert (
        reply.text
        == f"Just to confirm: a checkup Wednesday, December 9 at 10:30 AM, under the name Tom. {READBACK_QUESTION}"
    )
    reply = call.say("Yes please")
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Checkup", "start": "2026-12-09T10:30", "caller_name": "Tom"},
    )


def test_no_at_the_readback_asks_what_to_change_and_the_change_is_booked() -> None:
    call = Call()
    call.say("Can I book a whitening tomorrow at 9 am?")
    call.say("It's Ann Lee")
    reply = call.say("No")
    assert reply.text == "No problem. What would you like to change?" and not reply.tool_calls
    reply = call.say("Make it 11:00")
    assert reply.text == f"Just to confirm: a whitening tomorrow at 11 AM, under the name Ann Lee. {READBACK_QUESTION}"
    reply = call.say("Sounds good")
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Whitening", "start": "2026-12-08T11:00", "caller_name": "Ann Lee"},
    )


def test_a_side_question_during_booking_is_answered_and_the_booking_goes_on() -> None:
    call = Call()
    call.say("I'd like to book a cleaning")
    reply = call.say("What are your hours?")
    assert "Monday to Friday 8 AM to 5 PM" in reply.text and not reply.tool_calls
    reply = call.say("Where are you located?")
    assert reply.text == "We're at 12 Main Street, Springfield."
    assert call.say("OK, Friday at noon").text == "May I have your name for the booking?"
    reply = call.say("Sam")
    assert (
        reply.text
        == f"Just to confirm: a cleaning Friday, December 11 at 12 PM, under the name Sam. {READBACK_QUESTION}"
    )
    reply = call.say("yes")
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Cleaning", "start": "2026-12-11T12:00", "caller_name": "Sam"},
    )


def test_a_refused_time_offers_the_alternatives_and_the_caller_takes_one() -> None:
    call = Call()
    call.say("Book me a whitening tomorrow at 4:30 pm")
    call.say("Kim")
    refusal = (
        "A whitening takes 60 minutes, which would run past closing at 5 PM. The nearest free times: "
        "tomorrow at 3:30 PM (2026-12-08T15:30); tomorrow at 3:45 PM (2026-12-08T15:45); tomorrow at 4 PM (2026-12-08T16:00)."
    )
    reply = call.say("Yes", tool_results=[refusal])
    assert only_call(reply)[1]["start"] == "2026-12-08T16:30"
    spoken = call.last_said
    assert "would run past closing at 5 PM" in spoken
    assert "tomorrow at 3:30 PM; tomorrow at 3:45 PM; tomorrow at 4 PM." in spoken
    assert "2026-12-08T" not in spoken, "the caller never hears an ISO timestamp"
    assert spoken.endswith("Which would suit you?")
    reply = call.say("4 pm then")
    assert reply.text == f"Just to confirm: a whitening tomorrow at 4 PM, under the name Kim. {READBACK_QUESTION}"
    reply = call.say("Yes", tool_results=["Booked a whitening tomorrow at 4 PM."])
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Whitening", "start": "2026-12-08T16:00", "caller_name": "Kim"},
    )
    assert call.last_said.startswith("One moment. All set. Booked a whitening tomorrow at 4 PM.")


def test_a_second_booking_in_the_same_call_starts_afresh() -> None:
    call = Call()
    call.say("Book a cleaning tomorrow at 2 pm")
    call.say("Jane")
    call.say("yes", tool_results=["Booked a cleaning tomorrow at 2 PM."])
    reply = call.say("I'd also like to book a checkup")
    assert reply.text == "What day would suit you?", "the first booking's day and time are not reused"


def test_a_goodbye_in_the_middle_of_a_booking_ends_the_call() -> None:
    call = Call()
    call.say("I'd like to book a cleaning")
    reply = call.say("Actually never mind, goodbye")
    assert only_call(reply) == ("end_call", {})


def test_a_move_asks_the_name_and_day_on_the_booking_then_is_read_back_then_moved() -> None:
    call = Call()
    reply = call.say("I need to reschedule my appointment to tomorrow at 11 am")
    assert reply.text == NAME_ON_BOOKING_QUESTION and not reply.tool_calls
    assert call.say("Kim Lee").text == BOOKING_DAY_QUESTION
    reply = call.say("Wednesday")
    assert reply.text == f"Just to confirm: moving your appointment to tomorrow at 11 AM. {READBACK_QUESTION}", (
        "the booking's day is not the day wished for"
    )
    reply = call.say("Yes please", tool_results=["Moved to a checkup tomorrow at 11 AM."])
    assert only_call(reply) == (
        "move_appointment",
        {"new_start": "2026-12-08T11:00", "caller_name": "Kim Lee", "day": "2026-12-09"},
    )
    assert (
        call.last_said
        == "One moment. All set. Moved to a checkup tomorrow at 11 AM. Is there anything else I can help with?"
    )


def test_a_name_that_does_not_match_gets_a_texted_code_and_the_code_moves_it() -> None:
    call = Call(dental(sms_from_number="+15555550100"))
    call.say("Can I move my appointment to Friday at 2 pm?")
    call.say("It's Alex")
    call.say("Tomorrow")
    reply = call.say("Yes", tool_results=[f"{NO_MATCH} {OFFER_CODE}"])
    assert call.last_said.endswith(f"{NO_MATCH} {OFFER_CODE}"), "no times are offered for a refused proof"
    reply = call.say("Yes please", tool_results=[CODE_SENT])
    assert only_call(reply) == ("text_booking_code", {})
    assert call.last_said.endswith(CODE_QUESTION)
    reply = call.say("It's 4 8 1, 5 1 6", tool_results=["Moved to a cleaning Friday, December 11 at 2 PM."])
    assert only_call(reply) == ("move_appointment", {"new_start": "2026-12-11T14:00", "code": "481516"})
    assert "All set. Moved to a cleaning Friday" in call.last_said


def test_hearing_an_appointment_asks_the_book_which_asks_for_the_name_and_day() -> None:
    call = Call()
    reply = call.say("When is my appointment?", tool_results=[ASK_NAME_AND_DAY])
    assert only_call(reply) == ("look_up_appointment", {})
    assert call.last_said.strip() == ASK_NAME_AND_DAY and ASK_NAME_AND_DAY.endswith(NAME_ON_BOOKING_QUESTION)
    assert call.say("Sorry, what?").text == f"Sorry, I didn't catch that. {NAME_ON_BOOKING_QUESTION}"
    assert call.say("My name is Kim").text == BOOKING_DAY_QUESTION
    reply = call.say("December 15th", tool_results=["The appointment is a checkup Tuesday, December 15 at 9 AM."])
    assert only_call(reply) == ("look_up_appointment", {"caller_name": "Kim", "day": "2026-12-15"})
    assert call.last_said.endswith("a checkup Tuesday, December 15 at 9 AM. Is there anything else I can help with?")
    assert call.say("What are your hours?").text.startswith("We're open now"), "the errand is over"


def test_a_cancellation_asks_the_book_which_asks_for_a_texted_code() -> None:
    call = Call(dental(sms_from_number="+15555550100"))
    reply = call.say("Please cancel my appointment", tool_results=[ASK_CODE_TO_CANCEL])
    assert only_call(reply) == ("cancel_appointment", {})
    assert call.last_said.strip() == ASK_CODE_TO_CANCEL
    reply = call.say("Yes", tool_results=[CODE_SENT])
    assert only_call(reply) == ("text_booking_code", {})
    reply = call.say("one two three four five six", tool_results=[CODE_REFUSALS[CodeCheck.WRONG]])
    assert only_call(reply) == ("cancel_appointment", {"code": "123456"})
    reply = call.say("Sorry, 123457", tool_results=["Cancelled a checkup tomorrow at 11 AM."])
    assert only_call(reply) == ("cancel_appointment", {"code": "123457"})
    assert call.last_said.strip() == (
        "All set. Cancelled a checkup tomorrow at 11 AM. Is there anything else I can help with?"
    )


def test_a_caller_who_wants_no_code_is_not_texted() -> None:
    call = Call(dental(sms_from_number="+15555550100"))
    call.say("Please cancel my appointment", tool_results=[ASK_CODE_TO_CANCEL])
    reply = call.say("No thanks")
    assert reply.text == "No problem. Is there anything else I can help with?" and not reply.tool_calls


# --- a returning caller: what the business remembers of them --------------------------------------

# Dana's next appointment, as the memory read at the call's start has it (database/caller_memories.py).
DANA = ReturningCaller(name="Dana Reyes", upcoming="checkup Wednesday at 9 AM", upcoming_start="2026-12-09T09:00")


def test_a_returning_callers_remembered_name_is_booked_under_without_asking_it() -> None:
    call = Call(returning=DANA)
    reply = call.say("I'd like to book a cleaning tomorrow at 2 pm")
    assert reply.text == f"Just to confirm: a cleaning tomorrow at 2 PM, under the name Dana Reyes. {READBACK_QUESTION}"
    reply = call.say("Yes", tool_results=["Booked a cleaning tomorrow at 2 PM."])
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Cleaning", "start": "2026-12-08T14:00", "caller_name": "Dana Reyes"},
    )
    # A second booking in the call: the slots start afresh, the name is still remembered.
    assert call.say("I'd also like to book a whitening on Friday at 10").text.endswith(
        f"under the name Dana Reyes. {READBACK_QUESTION}"
    )


def test_a_name_said_in_the_call_wins_over_the_remembered_one_in_spanish_too() -> None:
    call = Call(returning=DANA)
    reply = call.say("My name is Sam Ortiz, can I book a checkup Friday at 10?")
    assert reply.text.endswith(f"under the name Sam Ortiz. {READBACK_QUESTION}")
    spanish = Call(language="es-US", returning=DANA)
    assert "a nombre de Dana Reyes" in spanish.say("Quisiera una limpieza el viernes a las diez").text
    assert "name" in Call().say("I'd like to book a cleaning tomorrow at 2 pm").text, "a stranger is asked"


def test_cancel_it_means_the_remembered_appointment_and_still_needs_the_proof() -> None:
    call = Call(dental(sms_from_number="+15555550100"), returning=DANA)
    reply = call.say("Yes, I need to cancel it", tool_results=[ASK_CODE_TO_CANCEL])
    assert only_call(reply) == ("cancel_appointment", {"start": "2026-12-09T09:00"})
    reply = call.say("Yes", tool_results=[CODE_SENT])
    assert only_call(reply) == ("text_booking_code", {})
    reply = call.say("1 2 3 4 5 6", tool_results=["Cancelled a checkup Wednesday, December 9 at 9 AM."])
    assert only_call(reply) == ("cancel_appointment", {"code": "123456", "start": "2026-12-09T09:00"})
    # Cancelled in this call, the memory of its start is out of date: "cancel it" is the book's to find.
    reply = call.say("Oh, and cancel my other appointment too", tool_results=[ASK_CODE_TO_CANCEL])
    assert only_call(reply) == ("cancel_appointment", {})
    # Named by its day, it is the one the caller named.
    named = Call(dental(sms_from_number="+15555550100"), returning=DANA)
    assert only_call(named.say("Cancel my appointment on Thursday", tool_results=[ASK_CODE_TO_CANCEL])) == (
        "cancel_appointment",
        {},
    )
    assert only_call(Call(language="es-US", returning=DANA).say("Sí, quiero cancelarla")) == (
        "cancel_appointment",
        {"start": "2026-12-09T09:00"},
    )


WELCOMED = "Hi Dana, welcome back to Bright Smile Dental. Is this about your upcoming appointment?"


@pytest.mark.parametrize(
    ("answers", "last_reply", "tool"),
    [
        (["Yes", "Cancel it"], ASK_CODE_TO_CANCEL, ("cancel_appointment", {"start": "2026-12-09T09:00"})),
        (["Yes please", "Move it to Friday at 10"], NAME_ON_BOOKING_QUESTION, None),
        (["Yeah", "No thanks"], "No problem. Is there anything else I can help with?", None),
        (["No", "What are your hours?"], "We're open now", None),
    ],
)
def test_the_welcome_back_question_takes_the_obvious_answers(
    answers: list[str], last_reply: str, tool: tuple[str, dict] | None
) -> None:
    call = Call(dental(sms_from_number="+15555550100"), returning=DANA)
    call.history.append(Utterance(speaker="agent", text=WELCOMED))
    first = call.say(answers[0])
    expected = (
        "Of course. Would you like to move it, or cancel it?"
        if answers[0] != "No"
        else "No problem. How can I help you today?"
    )
    assert first.text == expected
    reply = call.say(answers[1], tool_results=[last_reply] if tool else None)
    if tool:
        assert only_call(reply) == tool
    else:
        assert reply.text.startswith(last_reply), reply.text


def test_the_welcome_back_question_in_spanish() -> None:
    call = Call(language="es-US", returning=DANA)
    call.history.append(
        Utterance(
            speaker="agent", text="Hola, Dana, bienvenido de nuevo a Bright Smile Dental. ¿Llama por su próxima cita?"
        )
    )
    assert call.say("Sí").text == "Claro. ¿Quiere cambiarla o cancelarla?"
    assert call.say("Cambiarla, por favor").text == "¿A nombre de quién está la cita?"


def test_move_it_means_the_remembered_appointment_moved_to_the_day_said() -> None:
    call = Call(dental(sms_from_number="+15555550100"), returning=DANA)
    call.say("Can I move it to Friday at 2 pm?")
    call.say("It's Alex")  # not the name on the booking: the book offers a code
    call.say("Wednesday")  # the remembered appointment's day
    call.say("Yes", tool_results=[f"{NO_MATCH} {OFFER_CODE}"])
    call.say("Yes please", tool_results=[CODE_SENT])
    reply = call.say("It's 4 8 1, 5 1 6", tool_results=["Moved to a checkup Friday, December 11 at 2 PM."])
    assert only_call(reply) == (
        "move_appointment",
        {"new_start": "2026-12-11T14:00", "code": "481516", "current_start": "2026-12-09T09:00"},
    )
    # Proven on another day than the remembered one's, it is another appointment: the book finds it.
    other = Call(returning=DANA)
    other.say("I need to reschedule it to tomorrow at 11 am")
    other.say("Dana Reyes")
    other.say("Thursday")
    reply = other.say("Yes please", tool_results=["Moved to a checkup tomorrow at 11 AM."])
    assert only_call(reply) == (
        "move_appointment",
        {"new_start": "2026-12-08T11:00", "caller_name": "Dana Reyes", "day": "2026-12-10"},
    )


def test_where_no_code_can_be_texted_a_cancellation_takes_the_name_and_day() -> None:
    call = Call()  # no sms_from_number
    reply = call.say("I want to cancel my appointment", tool_results=[ASK_NAME_AND_DAY])
    assert only_call(reply) == ("cancel_appointment", {})
    assert call.say("Jane Doe").text == BOOKING_DAY_QUESTION
    reply = call.say("Thursday")
    assert only_call(reply) == ("cancel_appointment", {"caller_name": "Jane Doe", "day": "2026-12-10"})


def test_the_answer_about_an_owed_urgent_call_back_is_acknowledged() -> None:
    call = Call()
    call.history.append(Utterance(speaker="agent", text=f"Thank you for calling. {OWED_CALLBACK_QUESTION}"))
    assert call.say("Yes, all sorted, thanks").text.startswith("Good to hear, then we won't call you back")
    call = Call()
    call.history.append(Utterance(speaker="agent", text=f"Thank you for calling. {OWED_CALLBACK_QUESTION}"))
    assert call.say("No").text.startswith("Then we'll call you back as promised.")


def test_a_nonexistent_local_time_is_explained_instead_of_read_back() -> None:
    # 2:30 AM on 2026-03-08 does not exist in New York.
    config = dental(hours={day: OpeningHours(opens=time(0), closes=time(23)) for day in WEEKDAYS})
    call = Call(config, now=datetime(2026, 3, 1, 15, tzinfo=UTC))
    call.say("book a cleaning on 2026-03-08 at 2:30 am")
    reply = call.say("Lee")
    assert "does not exist" in reply.text and "What time would suit you?" in reply.text and not reply.tool_calls


# --- days and times as callers say them (today is Monday, December 7, 2026) -----------------------


@pytest.mark.parametrize(
    ("said", "day"),
    [
        ("today", date(2026, 12, 7)),
        ("tomorrow", date(2026, 12, 8)),
        ("Wednesday", date(2026, 12, 9)),
        ("on Friday", date(2026, 12, 11)),
        ("Monday", date(2026, 12, 14)),  # "Monday" said on a Monday means next week
        ("December 15th", date(2026, 12, 15)),
        ("Dec. 18", date(2026, 12, 18)),
        ("the 22nd of December", date(2026, 12, 22)),
        ("December 3rd", date(2027, 12, 3)),  # already past this year
        ("January 5", date(2027, 1, 5)),
        ("2027-02-02", date(2027, 2, 2)),
    ],
)
def test_days_as_callers_say_them(said: str, day: date) -> None:
    call = Call()
    call.say(f"I'd like to book a cleaning {said} at 10:30")
    call.say("Pat")
    reply = call.say("yes")
    assert only_call(reply)[1]["start"] == f"{day.isoformat()}T10:30"


@pytest.mark.parametrize(
    ("said", "clock"),
    [
        ("10:30", "10:30"),
        ("at 2 pm", "14:00"),
        ("at 2pm", "14:00"),
        ("at 3", "15:00"),  # on a business line "at 3" is the afternoon
        ("at 9", "09:00"),
        ("at noon", "12:00"),
        ("at 12 pm", "12:00"),
        ("at 9:15 a.m.", "09:15"),
        ("at 4:45 PM", "16:45"),
    ],
)
def test_times_as_callers_say_them(said: str, clock: str) -> None:
    call = Call()
    call.say(f"Book a checkup tomorrow {said}")
    call.say("my name is Pat")
    reply = call.say("yes")
    assert only_call(reply)[1]["start"] == f"2026-12-08T{clock}"


# --- questions answered from the configuration -----------------------------------------------------


def test_hours_while_open() -> None:
    reply = Call().say("When are you open?")
    assert reply.text == (
        "We're open now, until 5 PM. Our hours are Monday to Friday 8 AM to 5 PM; closed Saturday and Sunday."
    )


def test_hours_while_closed_say_when_we_open_again() -> None:
    reply = Call(now=SATURDAY_MORNING).say("Are you open today?")
    assert reply.text.startswith("We're closed right now; we open again Monday, December 14 at 8 AM.")


def test_hours_before_opening_today() -> None:
    early = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday 7 AM
    assert (
        Call(now=early)
        .say("what time do you open?")
        .text.startswith("We're closed right now; we open again today at 8 AM.")
    )


def test_address() -> None:
    assert Call().say("What's your address?").text == "We're at 12 Main Street, Springfield."
    assert "don't have our address" in Call(dental(address=None)).say("Where are you?").text


def test_price_of_a_named_service() -> None:
    reply = Call().say("How much is a whitening?")
    assert reply.text == "A whitening takes 60 minutes and costs $250. Would you like to book?"


def test_all_services_and_prices() -> None:
    reply = Call().say("What services do you offer?")
    assert reply.text == (
        "A cleaning takes 30 minutes and costs $90; a checkup takes 45 minutes and costs $120; "
        "a whitening takes 60 minutes and costs $250. Would you like to book?"
    )


# --- people, emergencies, messages, goodbyes -------------------------------------------------------


@pytest.mark.parametrize("said", ["Can I talk to a real person?", "I want to speak with someone", "Operator please"])
def test_a_wish_for_a_person_escalates(said: str) -> None:
    name, arguments = only_call(Call().say(said))
    assert name == "escalate_to_human"
    assert not arguments.get("emergency")


@pytest.mark.parametrize("said", ["I'm in severe pain", "My gum won't stop bleeding", "This is an emergency"])
def test_an_emergency_escalates_as_an_emergency(said: str) -> None:
    reply = Call().say(said)
    name, arguments = only_call(reply)
    assert name == "escalate_to_human" and arguments["emergency"] is True
    assert "urgent" in reply.text.lower()


def test_an_emergency_in_the_middle_of_a_booking_still_escalates() -> None:
    call = Call()
    call.say("I'd like to book a checkup")
    name, arguments = only_call(call.say("oh no, now it's bleeding a lot"))
    assert name == "escalate_to_human" and arguments["emergency"] is True


def test_an_emergency_after_hours_still_escalates() -> None:
    name, arguments = only_call(Call(now=SATURDAY_MORNING).say("I have severe pain"))
    assert name == "escalate_to_human" and arguments["emergency"] is True


@pytest.mark.parametrize(
    "said",
    [
        "Can you take a message? Please call me back about a filling.",
        "Can you have someone call me back?",
        "I'd like a callback tomorrow",
    ],
)
def test_a_message_or_call_back_wish_takes_a_message(said: str) -> None:
    name, arguments = only_call(Call().say(said))
    assert name == "take_message"
    assert arguments["message"] == said and arguments["callback_wanted"] is True


@pytest.mark.parametrize("said", ["Thanks, bye", "Goodbye", "No thanks, that's all", "thank you, goodbye!"])
def test_goodbye_ends_the_call(said: str) -> None:
    reply = Call().say(said)
    assert only_call(reply) == ("end_call", {})
    assert "Goodbye" in reply.text


@pytest.mark.parametrize("said", ["purple monkey dishwasher", "hmm", "asdf qwerty"])
def test_gibberish_gets_a_helpful_fallback(said: str) -> None:
    reply = Call().say(said)
    assert not reply.tool_calls
    assert "didn't quite catch that" in reply.text
    for offer in ("hours", "book", "message"):
        assert offer in reply.text


def test_tool_results_without_a_booking_are_spoken_as_they_are() -> None:
    call = Call()
    reply = call.say("Please call me back about my bill", tool_results=["Message taken. We'll call you back."])
    assert only_call(reply)[0] == "take_message"
    assert call.last_said == "I'll pass that on. Message taken. We'll call you back."


def test_without_a_kept_state_the_conversation_is_read_from_the_transcript() -> None:
    # A call recorded before the state existed, or a turn after a restart: the same booking goes through.
    call = Call(keep_state=False)
    call.say("I want to book a checkup on Wednesday at 10:30")
    call.say("My name is Tom")
    assert only_call(call.say("Yes please"))[1] == {
        "service": "Checkup",
        "start": "2026-12-09T10:30",
        "caller_name": "Tom",
    }


# --- what callers said that the keyword responder missed (issue 12) ------------------------------------


def plumber(**changes: object) -> BusinessConfig:
    return dental(
        name="Rapid Rooter Plumbing",
        business_type="plumber",
        services=[
            Service(name="Drain cleaning", duration_minutes=60, price="$150"),
            Service(name="Leak repair", duration_minutes=90, price="$200"),
        ],
    ).model_copy(update=changes)


def test_the_time_named_before_a_price_question_is_booked_on_a_yes_please() -> None:
    call = Call()
    reply = call.say("How much is a cleaning? I was hoping for Friday at 10")
    assert reply.text == "A cleaning takes 30 minutes and costs $90. Would you like to book?"
    assert call.say("Yes, please").text == "May I have your name for the booking?"
    reply = call.say("Jane Doe")
    assert reply.text == (
        f"Just to confirm: a cleaning Friday, December 11 at 10 AM, under the name Jane Doe. {READBACK_QUESTION}"
    )
    assert only_call(call.say("that works")) == (
        "book_appointment",
        {"service": "Cleaning", "start": "2026-12-11T10:00", "caller_name": "Jane Doe"},
    )


@pytest.mark.parametrize("yes", ["Yes, please", "sure", "that works", "Sounds good", "yeah go ahead", "Perfect"])
def test_a_read_back_takes_every_obvious_yes(yes: str) -> None:
    call = Call()
    call.say("Book a whitening tomorrow at 9 am")
    call.say("Ann")
    assert only_call(call.say(yes))[0] == "book_appointment"


@pytest.mark.parametrize("no", ["No thanks", "no", "Nope", "not really"])
def test_no_to_an_offer_to_book_is_taken_and_no_to_anything_else_ends_the_call(no: str) -> None:
    call = Call()
    call.say("How much is a checkup?")
    reply = call.say(no)
    assert reply.text == "No problem. Is there anything else I can help with?" and not reply.tool_calls
    assert only_call(call.say(no)) == ("end_call", {})


@pytest.mark.parametrize(
    "said",
    [
        "A pipe burst in the basement and there's water everywhere",
        "The pipe under my kitchen sink just burst",
        "There's water pouring through the ceiling!",
        "we have no water at all",
        "I smell gas near the water heater",
        "Se reventó una tubería y hay agua por todas partes",
    ],
)
def test_a_plumbing_emergency_in_the_callers_own_words_escalates(said: str) -> None:
    name, arguments = only_call(Call(plumber()).say(said))
    assert name == "escalate_to_human" and arguments["emergency"] is True


@pytest.mark.parametrize(
    "said",
    [
        "Can you send someone to look at my drain?",
        "Can someone come take a look at my sink? It's draining really slow",
        "I need a plumber to come out",
    ],
)
def test_a_request_for_a_visit_is_booked_not_transferred(said: str) -> None:
    call = Call(plumber())
    reply = call.say(said)
    assert not reply.tool_calls, "no transfer to a person"
    assert reply.text.startswith("I can book a visit for you.")
    assert call.say("drain cleaning, tomorrow at 9 am please").text == "May I have your name for the booking?"
    call.say("Greg")
    assert only_call(call.say("yes")) == (
        "book_appointment",
        {"service": "Drain cleaning", "start": "2026-12-08T09:00", "caller_name": "Greg"},
    )


def test_a_visit_at_a_business_without_services_is_passed_on_for_a_call_back() -> None:
    name, arguments = only_call(Call(plumber(services=[])).say("Could you send somebody out tomorrow?"))
    assert name == "take_message" and arguments["callback_wanted"] is True


def test_slots_said_to_the_llm_are_kept_when_the_offline_responder_takes_over() -> None:
    call = Call()
    call.say("Hi")  # the offline responder answered this turn: it has a state
    call.history += [  # the LLM answered the next one, which the state has not read
        Utterance(speaker="caller", text="I'd like a cleaning on Thursday at 3"),
        Utterance(speaker="agent", text="Sure! Would you like to book that for Thursday at 3 PM?"),
    ]
    assert call.say("yes please").text == "May I have your name for the booking?"
    call.say("Lee")
    assert only_call(call.say("yes"))[1]["start"] == "2026-12-10T15:00"


def test_turns_not_understood_are_counted_until_one_is() -> None:
    call = Call()
    call.say("purple monkey dishwasher")
    assert call.state is not None and call.state.not_understood == 1
    call.say("asdf qwerty")
    assert call.state.not_understood == 2
    call.say("What are your hours?")
    assert call.state.not_understood == 0


# --- Spanish ------------------------------------------------------------------------------------------------


def test_spanish_hours_prices_and_address() -> None:
    call = Call(language="es-US")
    assert call.say("¿Cuál es su horario?").text == (
        "Ahora estamos abiertos, hasta las cinco de la tarde. Nuestro horario es de lunes a viernes, "
        "de ocho de la mañana a cinco de la tarde; cerrado sábado y domingo."
    )
    assert call.say("¿Cuánto cuesta una limpieza?").text == ("Limpieza: 30 minutos, $90. ¿Le gustaría hacer una cita?")
    assert call.say("No, gracias").text == "No hay problema. ¿Le puedo ayudar en algo más?"
    assert call.say("¿Dónde están ubicados?").text == "Estamos en 12 Main Street, Springfield."


def test_spanish_closed_hours_say_when_we_open_in_words() -> None:
    reply = Call(now=SATURDAY_MORNING, language="es").say("¿Están abiertos hoy?")
    assert reply.text.startswith(
        "Ahora estamos cerrados; abrimos de nuevo el lunes 14 de diciembre a las ocho de la mañana."
    )


def test_a_spanish_booking_is_read_back_as_a_native_speaker_says_it_then_booked() -> None:
    call = Call(language="es")
    reply = call.say("Quiero una cita para una limpieza el martes 15 de diciembre a las diez y media")
    assert reply.text == "¿A nombre de quién hago la cita?"
    reply = call.say("Me llamo Ana García")
    assert reply.text == (
        "Para confirmar: limpieza el martes 15 de diciembre a las diez y media de la mañana, "
        "a nombre de Ana García. ¿Se la reservo?"
    )
    reply = call.say("Sí, por favor", tool_results=["Booked a cleaning Tuesday, December 15 at 10:30 AM."])
    assert only_call(reply) == (
        "book_appointment",
        {"service": "Cleaning", "start": "2026-12-15T10:30", "caller_name": "Ana García"},
    )
    assert call.last_said == (
        "Un momento. Listo, su cita de limpieza quedó reservada para el martes 15 de diciembre "
        "a las diez y media de la mañana. ¿Le puedo ayudar en algo más?"
    )
    reply = call.say("No, gracias")
    assert only_call(reply) == ("end_call", {})
    assert reply.text == "Gracias por llamar a Bright Smile Dental. ¡Que tenga buen día!"


def test_a_spanish_caller_hears_the_free_times_in_words_and_takes_one() -> None:
    call = Call(language="es")
    free = "Free times for a checkup: tomorrow at 1 PM (2026-12-08T13:00); tomorrow at 3:30 PM (2026-12-08T15:30)."
    reply = call.say("Necesito una revisión mañana", tool_results=[free])
    assert only_call(reply) == ("check_availability", {"service": "Checkup", "day": "2026-12-08"})
    assert call.last_said == (
        "Permítame revisar. Tenemos libre mañana a la una de la tarde; mañana a las tres y media de la tarde. "
        "¿Cuál le conviene?"
    )
    assert call.say("A las tres y media").text == "¿A nombre de quién hago la cita?"


def test_a_spanish_cancellation_goes_through_the_texted_code() -> None:
    call = Call(dental(sms_from_number="+15555550100"), language="es")
    reply = call.say("Quiero cancelar mi cita", tool_results=[ASK_CODE_TO_CANCEL])
    assert only_call(reply) == ("cancel_appointment", {})
    assert call.last_said.strip() == (
        "Para cancelar, le envío un código por mensaje al número de la cita. ¿Se lo envío?"
    )
    assert only_call(call.say("Sí", tool_results=[CODE_SENT])) == ("text_booking_code", {})
    assert call.last_said.strip().endswith("¿Cuál es el código?")
    reply = call.say("uno dos tres cuatro cinco seis", tool_results=["Cancelled a checkup tomorrow at 11 AM."])
    assert only_call(reply) == ("cancel_appointment", {"code": "123456"})
    assert call.last_said.strip() == "Listo, su cita quedó cancelada. ¿Le puedo ayudar en algo más?"


def test_a_spanish_message_and_emergency() -> None:
    reply = Call(language="es").say("Quiero dejar un mensaje, que la doctora me llame por lo de mi corona")
    assert only_call(reply)[0] == "take_message" and reply.text == "Le paso el mensaje."
    reply = Call(language="es").say("Se me cayó un diente y no para de sangrar")
    name, arguments = only_call(reply)
    assert name == "escalate_to_human" and arguments["emergency"] is True
    assert reply.text == "Eso suena urgente. Ahora mismo le comunico con alguien de nuestro equipo."


def test_english_stays_the_default_for_a_spanish_sentence() -> None:
    # Switching languages is the call's decision (its `language`), not the responder's.
    assert Call().say("¿Cuál es su horario?").text.startswith("We're open now")


# Each question the responder asks, after what leads to it, and where a "yes" and a "no" to it lead.
QUESTIONS_AND_ANSWERS = [
    ("How much is a checkup?", "Yes, please", "May I have your name"),  # the day and time are asked next
    ("How much is a checkup?", "no thanks", "No problem. Is there anything else"),
    ("Book a whitening tomorrow at 9 am|Ann", "sure", "One moment."),
    ("Book a whitening tomorrow at 9 am|Ann", "nope", "What would you like to change?"),
    ("What are your hours?|Book a cleaning tomorrow at 9 am|Kim|yes", "yeah", "What else can I help with?"),
    ("What are your hours?|Book a cleaning tomorrow at 9 am|Kim|yes", "no thanks", "Goodbye!"),
]


@pytest.mark.parametrize(("before", "answer", "leads_to"), QUESTIONS_AND_ANSWERS)
def test_every_question_takes_the_obvious_answers(before: str, answer: str, leads_to: str) -> None:
    call = Call()
    for line in before.split("|"):
        call.say(line, tool_results=["Booked a cleaning tomorrow at 9 AM."])
    reply = call.say(answer)
    said = reply.text or " ".join(c.name for c in reply.tool_calls)
    if "May I have your name" in leads_to:
        assert reply.text in ("What day would suit you?", "May I have your name for the booking?")
    else:
        assert leads_to in said, said
    assert "didn't quite catch" not in said


def test_a_message_offered_is_taken_on_a_yes() -> None:
    call = Call(dental(services=[]))
    assert call.say("What do you offer?").text.endswith("Can I take a message?")
    assert call.say("Yes please").text == "Of course. What message shall I pass on?"
    name, arguments = only_call(call.say("Please ask the owner to call me about a quote"))
    assert name == "take_message" and arguments["callback_wanted"] is True


@pytest.mark.parametrize("soon", ["as soon as possible", "ASAP please", "lo antes posible"])
def test_as_soon_as_possible_checks_todays_free_times(soon: str) -> None:
    call = Call()
    call.say("I'd like to book a checkup")
    reply = call.say(soon)
    assert only_call(reply) == ("check_availability", {"service": "Checkup", "day": "2026-12-07"})
