"""A receptionist that needs no network: it answers from the business configuration alone.

It is the brain when no OpenAI key is set, and the fallback when the LLM fails a turn. It
speaks the same protocol as the LLM (words, plus tool calls the workflow executes), so a
booking made offline goes through the same validated activity. It keeps no state of its
own: what the caller wants is read again from the conversation each turn.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta

from pydantic import BaseModel

from business.booking_rules import parse_local_start
from business.config import WEEKDAYS, BusinessConfig, Service
from business.opening_hours import is_open, local_time, next_opening, opening_on, spoken_clock, spoken_hours, spoken_moment
from receptionist.emergencies import emergency_in
from receptionist.tools import ToolCall, ToolRound
from workflows.call_messages import Utterance

HUMAN_WORDS = ("a person", "a human", "real person", "someone", "representative", "operator", "talk to", "speak to", "speak with")
HOURS_WORDS = ("hour", "open", "close", "closing", "when are you")
ADDRESS_WORDS = ("where", "address", "located", "location", "directions")
PRICE_WORDS = ("price", "cost", "how much", "charge", "fee")
SERVICE_WORDS = ("service", "offer", "do you do", "provide")
BOOKING_WORDS = ("book", "appointment", "schedule", "reserve", "come in")
MOVE_WORDS = ("move", "reschedule", "change my appointment", "different time")
CANCEL_WORDS = ("cancel",)
MESSAGE_WORDS = ("message", "call me back", "call back", "callback", "ring me back")
GOODBYE_WORDS = ("bye", "goodbye", "good bye", "that's all", "that is all", "nothing else", "no thanks", "no, thanks", "that's it")
GREETING_WORDS = ("hello", "hi", "hey", "good morning", "good afternoon")
YES_WORDS = ("yes", "yeah", "yep", "sure", "correct", "please do", "that's right", "sounds good", "ok", "okay", "perfect")
NO_WORDS = ("no", "nope", "not quite", "wrong", "change")

READBACK_QUESTION = "Shall I book it?"
NAME_QUESTION = "May I have your name for the booking?"
BOOKED = "All set."


class BrainReply(BaseModel):
    text: str
    tool_calls: list[ToolCall] = []


def _mentions(text: str, words: tuple[str, ...], *, whole_words: bool = False) -> bool:
    """Words are matched at a word start ("hour" finds "hours"); yes/no answers as whole words."""
    end = r"\b" if whole_words else ""
    return any(re.search(rf"\b{re.escape(word)}{end}", text) for word in words)


def _call(name: str, **arguments: object) -> ToolCall:
    return ToolCall(id=f"offline-{name}", name=name, arguments=json.dumps(arguments))


def offline_reply(
    config: BusinessConfig, history: list[Utterance], caller_text: str, rounds: list[ToolRound], now: datetime
) -> BrainReply:
    if rounds:
        return BrainReply(text=_after_tools(rounds[-1]))
    text = caller_text.lower().replace("’", "'")
    if emergency := emergency_in(config, caller_text):
        return BrainReply(
            text="That sounds urgent. I'm getting someone from our team on the line for you right now.",
            tool_calls=[_call("escalate_to_human", reason=f"emergency: {emergency}", emergency=True)],
        )
    if _mentions(text, HUMAN_WORDS) and not _mentions(text, MESSAGE_WORDS):  # "have someone call me back" is a message
        return BrainReply(text="Of course, let me get someone for you.", tool_calls=[_call("escalate_to_human", reason="the caller asked for a person")])
    last_agent = next((u.text for u in reversed(history) if u.speaker == "agent"), "")
    booking = _booking_turn(config, history, caller_text, now)
    side_question = _mentions(text, HOURS_WORDS + ADDRESS_WORDS + PRICE_WORDS) and not (
        _day_in(text, local_time(config, now).date()) or _clock_in(text)
    )
    if _mentions(text, CANCEL_WORDS):  # "cancel my appointment" is not a wish to book one
        return BrainReply(text="Let me cancel that for you.", tool_calls=[_call("cancel_appointment")])
    leaving = _mentions(text, GOODBYE_WORDS) and not _mentions(text, YES_WORDS, whole_words=True)  # "never mind, bye"
    if booking is not None and not side_question and not leaving and (_asked_about_booking(last_agent) or _mentions(text, BOOKING_WORDS + MOVE_WORDS)):
        return booking
    if _mentions(text, MESSAGE_WORDS):
        return BrainReply(
            text="I'll pass that on.",
            tool_calls=[_call("take_message", message=caller_text, reason=_topic(caller_text), callback_wanted=True)],
        )
    if booking is not None and not _mentions(text, HOURS_WORDS + ADDRESS_WORDS + PRICE_WORDS + GOODBYE_WORDS):
        return booking
    named = [s for s in config.services if s.name.lower() in text]
    if _mentions(text, PRICE_WORDS) or named:
        return BrainReply(text=_prices(config, named))
    if _mentions(text, HOURS_WORDS):
        return BrainReply(text=_hours(config, now))
    if _mentions(text, ADDRESS_WORDS):
        return BrainReply(text=f"We're at {config.address}." if config.address else "I'm sorry, I don't have our address to hand.")
    if _mentions(text, SERVICE_WORDS):
        return BrainReply(text=_prices(config, []))
    if _mentions(text, GOODBYE_WORDS):
        return BrainReply(text=f"Thank you for calling {config.name}. Goodbye!", tool_calls=[_call("end_call")])
    if _mentions(text, GREETING_WORDS) and len(text.split()) <= 4:
        return BrainReply(text="Hello! How can I help you today?")
    return BrainReply(
        text="I'm sorry, I didn't quite catch that. I can tell you about our hours and services, book an appointment, or take a message."
    )


# --- booking over several turns ----------------------------------------------------------------


class _BookingWish(BaseModel):
    service: Service | None = None
    day: date | None = None
    clock: tuple[int, int] | None = None
    name: str | None = None
    moving: bool = False


def _booking_turn(config: BusinessConfig, history: list[Utterance], caller_text: str, now: datetime) -> BrainReply | None:
    window = _since_last_booking(history)
    last_agent = next((u.text for u in reversed(history) if u.speaker == "agent"), "")
    caller_lines: list[str] = []
    name_answers: set[int] = set()  # the caller lines that answered the name question, remembered until the yes
    asked_name = False
    for utterance in window:
        if utterance.speaker == "agent":
            asked_name = NAME_QUESTION in utterance.text
            continue
        if asked_name:
            name_answers.add(len(caller_lines))
        caller_lines.append(utterance.text)
        asked_name = False
    if NAME_QUESTION in last_agent:
        name_answers.add(len(caller_lines))
    caller_lines.append(caller_text)
    joined = " ".join(caller_lines).lower()
    in_booking = _mentions(joined, BOOKING_WORDS) or _mentions(joined, MOVE_WORDS) or _asked_about_booking(last_agent)
    if not in_booking:
        return None
    wish = _read_wish(config, caller_lines, now, name_answers=name_answers)
    answer = caller_text.lower()
    if READBACK_QUESTION in last_agent:
        said_yes = _mentions(answer, YES_WORDS, whole_words=True) and not _mentions(answer, NO_WORDS, whole_words=True)
        if said_yes and (wish.service or wish.moving) and wish.day and wish.clock:
            start = _start_text(wish)
            if wish.moving:
                return BrainReply(text="One moment.", tool_calls=[_call("move_appointment", new_start=start)])
            return BrainReply(
                text="One moment.",
                    tool_calls=[_call("book_appointment", service=wish.service.name, start=start, caller_name=wish.name or "")],
            )
        if _mentions(answer, NO_WORDS, whole_words=True):
            return BrainReply(text="No problem. What would you like to change?")
    if wish.service is None and not wish.moving:
        names = ", ".join(s.name.lower() for s in config.services)
        return BrainReply(text=f"I can help you book. Which service would you like: {names}?")
    if wish.day is None:
        return BrainReply(text="What day would suit you?")
    if wish.clock is None:
        if wish.service is None:
            return BrainReply(text="What time would suit you?")
        return BrainReply(
            text="Let me check.",
            tool_calls=[_call("check_availability", service=wish.service.name, day=wish.day.isoformat())],
        )
    if wish.name is None and not wish.moving:
        return BrainReply(text=NAME_QUESTION)
    try:
        when = spoken_moment(config, parse_local_start(config, _start_text(wish)), now)
    except ValueError as error:
        return BrainReply(text=f"{error}. What time would suit you?")
    what = f"moving your appointment to {when}" if wish.moving else f"a {wish.service.name.lower()} {when}, under the name {wish.name}"
    return BrainReply(text=f"Just to confirm: {what}. {READBACK_QUESTION}")


BOOKING_QUESTIONS = (
    READBACK_QUESTION,
    NAME_QUESTION,
    "What day would suit you?",
    "What time would suit you?",
    "Which service would you like",
    "Which would suit you?",
    "Which would you like?",
    "What would you like to change?",
)


def _asked_about_booking(agent_text: str) -> bool:
    return any(question in agent_text for question in BOOKING_QUESTIONS)


def _topic(caller_text: str) -> str:
    """'... call me back about my loose crown.' -> 'your loose crown', for 'returning your call about ...'."""
    match = re.search(r"\babout\s+(.+?)(?:[.!?]|$)", caller_text, re.IGNORECASE)
    if not match:
        return ""
    topic = match[1].strip()
    return re.sub(r"^(my|our)\b", "your", topic, flags=re.IGNORECASE)


def _since_last_booking(history: list[Utterance]) -> list[Utterance]:
    for index in range(len(history) - 1, -1, -1):
        if history[index].speaker == "agent" and BOOKED in history[index].text:
            return history[index + 1 :]
    return history


def _read_wish(config: BusinessConfig, lines: list[str], now: datetime, *, name_answers: set[int]) -> _BookingWish:
    wish = _BookingWish()
    today = local_time(config, now).date()
    for index, line in enumerate(lines):
        text = line.lower().replace("’", "'")
        wish.moving = wish.moving or _mentions(text, MOVE_WORDS)
        for service in config.services:
            if service.name.lower() in text:
                wish.service = service
        wish.day = _day_in(text, today) or wish.day
        wish.clock = _clock_in(text) or wish.clock
        wish.name = _name_in(line) or (_bare_name(line) if index in name_answers else None) or wish.name
    return wish


def _bare_name(line: str) -> str | None:
    """'Jane Doe' (or "it's Jane") said in answer to the name question; not a question, a yes or a number."""
    text = re.sub(r"^(?:it's|it is|this is|i'm|i am)\s+", "", line.strip().rstrip(".!").replace("’", "'"), flags=re.IGNORECASE)
    lowered = text.lower()
    if not 0 < len(text.split()) <= 3 or "?" in text or any(ch.isdigit() for ch in text):
        return None
    if _mentions(lowered, YES_WORDS + NO_WORDS, whole_words=True) or _mentions(lowered, HOURS_WORDS + ADDRESS_WORDS + PRICE_WORDS):
        return None
    return " ".join(word.capitalize() for word in text.split())


def _day_in(text: str, today: date) -> date | None:
    if match := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    if re.search(r"\btoday\b", text):
        return today
    if re.search(r"\btomorrow\b", text):
        return today + timedelta(days=1)
    for number, weekday in enumerate(WEEKDAYS):
        if re.search(rf"\b{weekday}\b", text):
            ahead = (number - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    months = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
    for number, month in enumerate(months, start=1):
        if match := re.search(rf"\b{month[:3]}[a-z]*\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", text) or re.search(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{month[:3]}[a-z]*\b", text
        ):
            try:
                candidate = date(today.year, number, int(match[1]))
            except ValueError:
                return None
            return candidate if candidate >= today else candidate.replace(year=today.year + 1)
    return None


def _clock_in(text: str) -> tuple[int, int] | None:
    text = text.replace("a.m.", "am").replace("p.m.", "pm")
    if re.search(r"\bnoon\b", text):
        return (12, 0)
    match = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", text) or re.search(r"\b(\d{1,2}):(\d{2})()\b", text) or re.search(
        r"\bat (\d{1,2})()()\b", text
    )
    if not match:
        return None
    hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    elif not half and hour < 7:
        hour += 12  # "at 3" on a business line means the afternoon
    if hour > 23 or minute > 59:
        return None
    return (hour, minute)


def _name_in(line: str) -> str | None:
    match = re.search(r"\b(?:my name is|my name's|name is|under the name)\s+([a-z][a-z'-]+)", line, re.IGNORECASE)
    return match[1].capitalize() if match else None


def _start_text(wish: _BookingWish) -> str:
    assert wish.day and wish.clock
    return f"{wish.day.isoformat()}T{wish.clock[0]:02d}:{wish.clock[1]:02d}"


# --- answers after tools, and plain answers ----------------------------------------------------


def _after_tools(last: ToolRound) -> str:
    spoken = [re.sub(r"\s*\(\d{4}-\d\d-\d\dT\d\d:\d\d\)", "", result) for result in last.results]
    names = [call.name for call in last.calls]
    if "book_appointment" in names or "move_appointment" in names:
        if spoken and (spoken[-1].startswith("Booked") or spoken[-1].startswith("Moved")):
            return f"{BOOKED} {spoken[-1]} Is there anything else I can help with?"
        return f"{' '.join(spoken)} Which would suit you?"
    if "check_availability" in names:
        return f"{' '.join(spoken)} Which would you like?"
    return " ".join(spoken) or "Done. Anything else?"


def _prices(config: BusinessConfig, named: list[Service]) -> str:
    services = named or config.services
    if not services:
        return "I'm sorry, I don't have our services to hand. Can I take a message?"
    described = [f"a {s.name.lower()} takes {s.duration_minutes} minutes" + (f" and costs {s.price}" if s.price else "") for s in services]
    sentence = "; ".join(described)
    return f"{sentence[0].upper()}{sentence[1:]}. Would you like to book?"


def _hours(config: BusinessConfig, now: datetime) -> str:
    if not config.hours:
        return "I'm sorry, I don't have our opening hours to hand."
    local = local_time(config, now)
    opening = opening_on(config, local)
    if is_open(config, now) and opening:
        today = f"We're open now, until {spoken_clock(opening.closes)}."
    else:
        reopening = next_opening(config, now)
        today = f"We're closed right now; we open again {spoken_moment(config, reopening, now)}." if reopening else "We're closed right now."
    return f"{today} Our hours are {spoken_hours(config)}."
