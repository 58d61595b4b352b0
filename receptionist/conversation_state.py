"""What the offline responder has learnt in a call so far: the caller's slots and the question last asked.

The call workflow keeps this typed state (`CallProgress.conversation`, carried through
continue-as-new) and hands it to each offline reply. The state also says how far into the
transcript it has read (`heard`): turns another brain answered (the LLM) are read in from the
transcript when the offline responder next speaks, so "a cleaning on Friday at 10" said to the
LLM is still known when the offline responder takes over. Without a state (a test, a call
recorded before it existed) it is read from the whole transcript.

Slots are kept until a booking, move or cancellation is done, then forgotten: a second booking
in the same call starts afresh. Answers to the questions that prove a booking is the caller's
(its name, its day, a texted code) are not booking wishes and are not read as slots.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from business.config import BusinessConfig
from domain.vocabulary import Speaker, Utterance
from receptionist import offline_phrases as phrases
from receptionist.caller_words import mentions, name_in, plain
from receptionist.intents import ADDRESS, HOURS, NO, PRICES, YES, Intent, Understanding, understand


class Asked(StrEnum):
    """The question the agent's last words asked, which the caller's next words answer."""

    BOOK_OFFER = "book_offer"  # "Would you like to book?"
    VISIT_OFFER = "visit_offer"  # "Shall I book a visit?"
    SERVICE = "service"
    DAY = "day"
    TIME = "time"
    NAME = "name"
    READBACK = "readback"  # "Shall I book it?"
    CHANGE = "change"  # "What would you like to change?"
    PROOF_NAME = "proof_name"  # the name on a booking the caller has
    PROOF_DAY = "proof_day"
    SEND_CODE = "send_code"
    CODE = "code"
    ANYTHING_ELSE = "anything_else"
    OWED_CALLBACK = "owed_callback"
    UPCOMING = "upcoming"  # "Is this about your upcoming appointment?" (a returning caller's welcome back)
    UPCOMING_ERRAND = "upcoming_errand"  # "Would you like to move it, or cancel it?"
    MESSAGE = "message"  # "What message shall I pass on?"
    MESSAGE_OFFER = "message_offer"  # "Can I take a message?"


# Answers to these prove a booking is the caller's: they are not what the caller wishes to book.
PROOF_QUESTIONS = frozenset({Asked.PROOF_NAME, Asked.PROOF_DAY, Asked.CODE})
BOOKING_QUESTIONS = frozenset(
    {
        Asked.BOOK_OFFER,
        Asked.VISIT_OFFER,
        Asked.SERVICE,
        Asked.DAY,
        Asked.TIME,
        Asked.NAME,
        Asked.READBACK,
        Asked.CHANGE,
    }
)
# The booking's tasks: what a caller's slots are collected for.
BOOKING_TASKS = frozenset({Intent.BOOK, Intent.VISIT, Intent.MOVE})


def asked_in(agent_text: str) -> Asked | None:
    """The question at the end of what the agent said, in either language (the LLM's phrasing too)."""
    said = plain(agent_text)
    for asked, questions in phrases.QUESTIONS.items():
        if any(plain(question) in said for question in questions):
            return Asked(asked)
    return None


class ConversationState(BaseModel):
    language: str = "en"
    task: Intent | None = None  # book, visit or move while a booking is being collected
    service: str | None = None
    day: date | None = None
    time: str | None = None  # "14:30"
    name: str | None = None
    asked: Asked | None = None
    heard: int = 0  # utterances of the transcript read into this state
    not_understood: int = 0  # caller turns in a row the offline responder could not understand

    @property
    def clock(self) -> tuple[int, int] | None:
        if self.time is None:
            return None
        hours, minutes = self.time.split(":")
        return int(hours), int(minutes)

    @property
    def booking(self) -> bool:
        return self.task in BOOKING_TASKS or self.asked in BOOKING_QUESTIONS

    def forget_booking(self) -> ConversationState:
        return self.model_copy(update={"task": None, "service": None, "day": None, "time": None, "name": None})

    def heard_agent(self, text: str) -> ConversationState:
        state = self.model_copy(update={"asked": asked_in(text)})
        if any(done in text for done in phrases.DONE_MARKERS):
            state = state.forget_booking()
        return state

    def heard_caller(self, understanding: Understanding, line: str) -> ConversationState:
        """The slots a caller's line names, merged in; an answer to a proof question names none."""
        if self.asked in PROOF_QUESTIONS:
            return self
        update: dict[str, object] = {}
        if understanding.intent in BOOKING_TASKS:
            update["task"] = understanding.intent
        elif understanding.intent == Intent.YES and self.asked in (Asked.BOOK_OFFER, Asked.VISIT_OFFER):
            update["task"] = Intent.VISIT if self.asked == Asked.VISIT_OFFER else Intent.BOOK
        for slot in ("service", "day", "time"):
            if (value := getattr(understanding, slot)) is not None:
                update[slot] = value
        name = name_in(line) or (bare_name(line) if self.asked == Asked.NAME else None)
        if name:
            update["name"] = name
        return self.model_copy(update=update)


def bare_name(line: str) -> str | None:
    """'Jane Doe' (or "it's Jane") said in answer to the name question; not a question, a yes or a number."""
    text = re.sub(
        r"^(?:it's|it is|this is|i'm|i am|soy|me llamo)\s+",
        "",
        line.strip().rstrip(".!").replace("’", "'"),
        flags=re.IGNORECASE,
    )
    if not 0 < len(text.split()) <= 3 or "?" in text or any(ch.isdigit() for ch in text):
        return None
    if _not_a_name(text):
        return None
    return " ".join(word.capitalize() for word in text.split())


def _not_a_name(text: str) -> bool:
    said = plain(text)
    return bool(mentions(said, YES + NO) or mentions(said, HOURS + ADDRESS + PRICES))


def caught_up(
    state: ConversationState | None, config: BusinessConfig, history: list[Utterance], today: date, language: str
) -> ConversationState:
    """The state with every utterance of the transcript it has not read yet read in."""
    if state is None or state.heard > len(history):
        state = ConversationState(language=language)
    for utterance in history[state.heard :]:
        if utterance.speaker == Speaker.AGENT:
            state = state.heard_agent(utterance.text)
        else:
            state = state.heard_caller(understand(config, utterance.text, today), utterance.text)
    return state.model_copy(update={"heard": len(history), "language": language})
