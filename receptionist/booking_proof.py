"""Whether a caller has shown that an appointment found by their caller ID is theirs.

Caller ID is easy to spoof, so the number alone lets nobody hear, move or cancel an appointment.
What a caller must say besides (README, "What a caller must say"):

* to hear or move one: the name on the booking and the day it is on, or the code texted to the
  booking's number in this call;
* to cancel one: the texted code; a business that cannot text takes the name and the day;
* nothing more for an appointment booked in this very call, or in a web conversation (which
  has no number: only what it booked itself is its own).

Here are the pure parts: how forgivingly a name is compared, how a spoken code is read, and the
words of every refusal. A refusal says what to say next, never what a booking holds, and reads
the same whether or not the number has a booking, so a spoofer learns nothing from it.
"""

from __future__ import annotations

import re
from enum import StrEnum

from business.private_numbers import DIGIT_WORDS
from receptionist.unasked_words import CODE_TEXTED, words_in

# How long a texted code works, and how many wrong tries lock it for the rest of the call.
CODE_DIGITS = 6
CODE_LIFETIME_MINUTES = 10
CODE_TRIES = 3
# A spoofer could make us text someone else's phone: a few texts per call at most.
CODE_TEXTS_PER_CALL = 2


class BookingAction(StrEnum):
    HEAR = "hear"
    MOVE = "move"
    CANCEL = "cancel"


class CodeCheck(StrEnum):
    """What became of a code the caller read out."""

    MATCHED = "matched"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong tries in this call
    EXPIRED = "expired"
    NONE_SENT = "none_sent"  # no code was texted in this call


# The words the caller hears. The offline responder recognises its next step by the questions.
APPOINTMENT_IS = "The appointment is"
SEND_CODE_QUESTION = "Shall I send it?"
CODE_QUESTION = "What is the code?"
NAME_ON_BOOKING_QUESTION = "What name is the appointment under?"
BOOKING_DAY_QUESTION = "What day is it on?"
ASK_NAME_AND_DAY = f"For your privacy, I need the name on the booking and the day it is on. {NAME_ON_BOOKING_QUESTION}"
ASK_CODE_TO_CANCEL = f"To cancel, I'll text a code to the number on the booking. {SEND_CODE_QUESTION}"
NO_MATCH = "That name and day don't match an appointment for this number."
OFFER_CODE = f"I can text a code to the number on the booking instead. {SEND_CODE_QUESTION}"
CHECK_NAME_AND_DAY = f"Let's check them once more, or I can take a message for the team. {NAME_ON_BOOKING_QUESTION}"
CODE_SENT = f"If we have an appointment for this number, a code is on its way to it by text. {CODE_QUESTION}"
CANNOT_TEXT = f"This line can't send texts, so I need the name on the booking and its day. {NAME_ON_BOOKING_QUESTION}"
NO_NUMBER = "There's no phone number on this conversation to text a code to."
TEXTED_ENOUGH = f"I've already texted the code to the number on the booking. {CODE_QUESTION}"
CODE_REFUSALS = {
    CodeCheck.WRONG: f"That code isn't right. {CODE_QUESTION}",
    CodeCheck.LOCKED: "That code was tried too many times and no longer works. I can take a message for the team.",
    CodeCheck.EXPIRED: f"That code has expired. I can text a new one. {SEND_CODE_QUESTION}",
    CodeCheck.NONE_SENT: f"I haven't texted a code in this call. {OFFER_CODE}",
}


def _words(name: str | None) -> list[str]:
    """'  jane   DOE ' -> ['jane', 'doe']: case, spacing and punctuation do not count."""
    return re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", (name or "").casefold())


def name_matches(said: str, booked: str | None, names_that_day: list[str | None]) -> bool:
    """Whether the name the caller says is the name on the booking.

    Forgiving where a caller would expect it: case and spacing; the first name alone, when no
    other booking of that day on the number shares it; a full name said for a booking made under
    the first name alone. Never a surname alone, nor a near miss.
    """
    said_words, booked_words = _words(said), _words(booked)
    if not said_words or not booked_words:
        return False
    if said_words == booked_words:
        return True
    if len(said_words) == 1 and said_words[0] == booked_words[0]:
        full_names = {tuple(_words(name)) for name in names_that_day if _words(name)[:1] == said_words}
        return len(full_names) == 1
    return len(booked_words) == 1 and said_words[0] == booked_words[0]


def digits_of(spoken: str) -> str:
    """A code as read out: '4 8 1 5 1 6', '481-516' or 'four eight one...' are all '481516'."""
    words = re.findall(r"\d|[a-z]+", spoken.casefold())
    return "".join(DIGIT_WORDS.get(word, word) for word in words if word.isdigit() or word in DIGIT_WORDS)


def code_text(business_name: str, code: str, language: str | None = None) -> str:
    """The text message with the code: it also warns the booking's owner if someone else asked."""
    return words_in(CODE_TEXTED, language, business=business_name, code=code, minutes=CODE_LIFETIME_MINUTES)
