"""The receptionist that needs no network, talked to turn by turn as a caller would.

Each turn goes through `offline_reply` with the conversation so far, the way the call workflow
calls it; where the responder asks for a tool, the test plays the activity's answer back.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from receptionist.offline_responder import READBACK_QUESTION, BrainReply, offline_reply
from receptionist.tools import ToolRound
from workflows.call_messages import Utterance

# Monday, December 7, 2026, 10:00 AM in New York: the office is open.
MONDAY_MORNING = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)
# Saturday, December 12, 2026, 10:00 AM in New York: closed for the weekend.
SATURDAY_MORNING = datetime(2026, 12, 12, 15, 0, tzinfo=timezone.utc)


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
    """One phone call with the offline responder: the transcript grows as the workflow grows it."""

    def __init__(self, config: BusinessConfig | None = None, now: datetime = MONDAY_MORNING) -> None:
        self.config, self.now = config or dental(), now
        self.history: list[Utterance] = []

    def say(self, caller_text: str, tool_results: list[str] | None = None) -> BrainReply:
        reply = offline_reply(self.config, self.history, caller_text, [], self.now)
        spoken = [reply.text]
        if reply.tool_calls and tool_results is not None:
            rounds = [ToolRound(said=reply.text, calls=reply.tool_calls, results=tool_results)]
            after = offline_reply(self.config, self.history, caller_text, rounds, self.now)
            assert after.tool_calls == []
            spoken.append(after.text)
        self.history += [Utterance(speaker="caller", text=caller_text), Utterance(speaker="agent", text=" ".join(spoken))]
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
    reply = call.say("Tomorrow", tool_results=["Free times for a cleaning: tomorrow at 8 AM (2026-12-08T08:00); tomorrow at 2 PM (2026-12-08T14:00)."])
    assert only_call(reply) == ("check_availability", {"service": "Cleaning", "day": "2026-12-08"})
    assert call.last_said.endswith("Free times for a cleaning: tomorrow at 8 AM; tomorrow at 2 PM. Which would you like?")
    assert call.say("at 2 pm").text == "May I have your name for the booking?"
    reply = call.say("Jane Doe")
    assert reply.text == f"Just to confirm: a cleaning tomorrow at 2 PM, under the name Jane Doe. {READBACK_QUESTION}"
    assert not reply.tool_calls, "nothing is booked before the caller says yes"
    reply = call.say("Yes", tool_results=["Booked a cleaning tomorrow at 2 PM."])
    assert only_call(reply) == ("book_appointment", {"service": "Cleaning", "start": "2026-12-08T14:00", "caller_name": "Jane Doe"})
    assert call.last_said == "One moment. All set. Booked a cleaning tomorrow at 2 PM. Is there anything else I can help with?"


def test_everything_in_one_sentence_needs_only_the_name_and_a_yes() -> None:
    call = Call()
    assert call.say("I want to book a checkup on Wednesday at 10:30").text == "May I have your name for the booking?"
    reply = call.say("My name is Tom")
    assert reply.text == f"Just to confirm: a checkup Wednesday, December 9 at 10:30 AM, under the name Tom. {READBACK_QUESTION}"
    reply = call.say("Yes please")
    assert only_call(reply) == ("book_appointment", {"service": "Checkup", "start": "2026-12-09T10:30", "caller_name": "Tom"})


def test_no_at_the_readback_asks_what_to_change_and_the_change_is_booked() -> None:
    call = Call()
    call.say("Can I book a whitening tomorrow at 9 am?")
    call.say("It's Ann Lee")
    reply = call.say("No")
    assert reply.text == "No problem. What would you like to change?" and not reply.tool_calls
    reply = call.say("Make it 11:00")
    assert reply.text == f"Just to confirm: a whitening tomorrow at 11 AM, under the name Ann Lee. {READBACK_QUESTION}"
    reply = call.say("Sounds good")
    assert only_call(reply) == ("book_appointment", {"service": "Whitening", "start": "2026-12-08T11:00", "caller_name": "Ann Lee"})


def test_a_side_question_during_booking_is_answered_and_the_booking_goes_on() -> None:
    call = Call()
    call.say("I'd like to book a cleaning")
    reply = call.say("What are your hours?")
    assert "Monday to Friday 8 AM to 5 PM" in reply.text and not reply.tool_calls
    reply = call.say("Where are you located?")
    assert reply.text == "We're at 12 Main Street, Springfield."
    assert call.say("OK, Friday at noon").text == "May I have your name for the booking?"
    reply = call.say("Sam")
    assert reply.text == f"Just to confirm: a cleaning Friday, December 11 at 12 PM, under the name Sam. {READBACK_QUESTION}"
    reply = call.say("yes")
    assert only_call(reply) == ("book_appointment", {"service": "Cleaning", "start": "2026-12-11T12:00", "caller_name": "Sam"})


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
    assert only_call(reply) == ("book_appointment", {"service": "Whitening", "start": "2026-12-08T16:00", "caller_name": "Kim"})
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


def test_a_move_is_read_back_then_moved() -> None:
    call = Call()
    reply = call.say("I need to reschedule my appointment to tomorrow at 11 am")
    assert reply.text == f"Just to confirm: moving your appointment to tomorrow at 11 AM. {READBACK_QUESTION}"
    reply = call.say("Yes please", tool_results=["Moved to a checkup tomorrow at 11 AM."])
    assert only_call(reply) == ("move_appointment", {"new_start": "2026-12-08T11:00"})
    assert call.last_said == "One moment. All set. Moved to a checkup tomorrow at 11 AM. Is there anything else I can help with?"


def test_a_cancellation_asks_the_tool_and_says_what_it_did() -> None:
    call = Call()
    reply = call.say("Please cancel my appointment", tool_results=["Cancelled a checkup tomorrow at 11 AM."])
    assert only_call(reply) == ("cancel_appointment", {})
    assert call.last_said == "Let me cancel that for you. Cancelled a checkup tomorrow at 11 AM."


def test_a_nonexistent_local_time_is_explained_instead_of_read_back() -> None:
    # 2:30 AM on 2026-03-08 does not exist in New York.
    config = dental(hours={day: OpeningHours(opens=time(0), closes=time(23)) for day in WEEKDAYS})
    call = Call(config, now=datetime(2026, 3, 1, 15, tzinfo=timezone.utc))
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
    early = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)  # Monday 7 AM
    assert Call(now=early).say("what time do you open?").text.startswith("We're closed right now; we open again today at 8 AM.")


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
