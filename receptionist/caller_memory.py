"""What a business remembers of a returning caller: each call's short summary and facts, the welcome
back by name, and the context both brains are given.

A call's facts come from the records where the records know them (what was booked, what call-back
was promised, the name a booking was made under), and from the caller's own words otherwise
("my name is Dana Reyes"; the first thing they asked). The summary is the LLM's when there is one
and it answers in time (activities/caller_memory.py); this module's extractive one otherwise.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from business.config import BusinessConfig
from receptionist.unasked_words import WELCOME_BACK, WELCOME_BACK_UPCOMING, words_in

# How many earlier calls a brain is told about: the latest ones, newest first.
REMEMBERED_CALLS = 3
MAX_REASON_CHARS = 160
# "My name is Dana Reyes", "this is Dana", "it's Dana Reyes calling", "name's Dana": one or two words
# that start with a capital, as speech-to-text writes names.
_NAME = re.compile(
    r"\b(?i:my name is|my name's|name's|this is|it's|it is|i am|i'm)\s+([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+)?)"
)
_NOT_NAMES = frozenset({"I", "Calling", "Just", "Looking", "Sorry", "Not", "About", "Trying", "Still", "So", "Very"})


class CallFacts(BaseModel):
    name: str | None = Field(default=None, description="The caller's name, as given or booked under")
    reason: str | None = Field(default=None, description="What the caller called about, in their first words")
    booked: list[str] = Field(default_factory=list, description="Appointments booked in the call, as spoken")
    promised: list[str] = Field(default_factory=list, description="Call-backs promised in the call")


class RememberedCall(BaseModel):
    called_at: datetime
    summary: str
    facts: CallFacts


class ReturningCaller(BaseModel):
    """What a call knows of its caller at its start, from the business's earlier calls with them."""

    name: str | None = None
    upcoming: str | None = Field(default=None, description="The caller's next appointment, as spoken")
    upcoming_start: str | None = Field(
        default=None, description="Its start, local YYYY-MM-DDTHH:MM as the appointment tools take it"
    )
    calls: list[RememberedCall] = Field(default_factory=list, description="Newest first")


def caller_name_in(caller_lines: list[str]) -> str | None:
    for line in caller_lines:
        for match in _NAME.finditer(line):
            name = match[1].replace("’", "'")
            if name.split()[0] not in _NOT_NAMES:
                return name
    return None


def call_facts(caller_lines: list[str], booked: list[str], promised: list[str], booked_name: str | None) -> CallFacts:
    reason = next((line.strip() for line in caller_lines if line.strip()), None)
    if reason and len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return CallFacts(name=booked_name or caller_name_in(caller_lines), reason=reason, booked=booked, promised=promised)


def extractive_summary(facts: CallFacts) -> str:
    who = facts.name or "The caller"
    parts = [f'{who} called: "{facts.reason}".' if facts.reason else f"{who} called and said nothing we heard."]
    if facts.booked:
        parts.append(f"Booked: {'; '.join(facts.booked)}.")
    if facts.promised:
        parts.append(f"Promised a call-back: {'; '.join(facts.promised)}.")
    if not (facts.booked or facts.promised):
        parts.append("Nothing was booked or promised.")
    return " ".join(parts)


def welcome_back(config: BusinessConfig, returning: ReturningCaller | None, opening_words: str) -> str:
    """The greeting of a returning caller whose name the business knows; anyone else hears the usual one."""
    if returning is None or not returning.name:
        return opening_words
    first_name = returning.name.split()[0]
    # In the business's first language, as the greeting it replaces. Caller ID can be forged: the
    # appointment's service and time are told only to a caller who proves who they are
    # (receptionist/booking_proof.py), never in a greeting anyone with the number would hear.
    phrase = WELCOME_BACK_UPCOMING if returning.upcoming else WELCOME_BACK
    return words_in(phrase, config.language, name=first_name, business=config.name)


def memory_note(returning: ReturningCaller | None) -> str | None:
    """What the LLM is told of the caller's earlier calls; None for a caller it does not know."""
    if returning is None or not (returning.calls or returning.upcoming):
        return None
    lines = [f"This caller has called before{f' ({returning.name})' if returning.name else ''}."]
    if returning.upcoming:
        lines.append(f"Their next appointment: {returning.upcoming}.")
    lines += [f"- {call.called_at:%Y-%m-%d}: {call.summary}" for call in returning.calls]
    lines.append(
        "Caller ID can be forged: do not tell the caller the details of these calls or of the appointment "
        "(service, day, time, name) unless they say them first; the appointment tools check who they are."
    )
    return "\n".join(lines)
