"""A receptionist that needs no network: it answers from the business configuration alone.

It is the brain when no OpenAI key is set, and the fallback when the LLM fails a turn, so
its replies must be right, short and useful, never a guess.
"""

from __future__ import annotations

import re
from datetime import datetime

from business.config import BusinessConfig
from business.instructions import describe_hours
from business.opening_hours import is_open, local_time, opening_on

EMERGENCY_WORDS = ("emergency", "urgent", "bleeding", "severe pain", "gas smell", "smell gas", "flood", "fire", "can't breathe")
HUMAN_WORDS = ("a person", "a human", "real person", "someone", "representative", "operator", "talk to", "speak to")
HOURS_WORDS = ("hour", "open", "close", "closing", "when are you")
ADDRESS_WORDS = ("where", "address", "located", "location", "directions")
PRICE_WORDS = ("price", "cost", "how much", "charge", "fee")
SERVICE_WORDS = ("service", "offer", "do you do", "provide")
BOOKING_WORDS = ("book", "appointment", "schedule", "reserve", "come in")
GOODBYE_WORDS = ("bye", "that's all", "that is all", "nothing else", "no thanks")
GREETING_WORDS = ("hello", "hi", "hey", "good morning", "good afternoon")


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(word)}", text) for word in words)


def offline_reply(config: BusinessConfig, caller_text: str, now: datetime) -> str:
    text = caller_text.lower()
    if _mentions(text, EMERGENCY_WORDS):
        return "That sounds urgent. I'm getting someone from our team to help you right away."
    if _mentions(text, HUMAN_WORDS):
        return "Of course. I'll have someone from our team call you back as soon as possible. May I have your name?"
    named = [s for s in config.services if s.name.lower() in text]
    if _mentions(text, PRICE_WORDS) or (named and not _mentions(text, BOOKING_WORDS)):
        return _prices(config, named)
    if _mentions(text, BOOKING_WORDS):
        return _booking(config, named)
    if _mentions(text, HOURS_WORDS):
        return _hours(config, now)
    if _mentions(text, ADDRESS_WORDS):
        return f"We're at {config.address}." if config.address else "I'm sorry, I don't have our address to hand."
    if _mentions(text, SERVICE_WORDS):
        return _prices(config, [])
    if _mentions(text, GOODBYE_WORDS):
        return f"Thank you for calling {config.name}. Goodbye!"
    if _mentions(text, GREETING_WORDS) and len(text.split()) <= 4:
        return "Hello! How can I help you today?"
    return (
        "I'm sorry, I didn't quite catch that. "
        "I can tell you about our hours and services, or help you book an appointment."
    )


def _prices(config: BusinessConfig, named: list) -> str:  # noqa: ANN001
    services = named or config.services
    if not services:
        return "I'm sorry, I don't have our services to hand. Can I take a message?"
    described = [f"{s.name} takes {s.duration_minutes} minutes" + (f" and costs {s.price}" if s.price else "") for s in services]
    return "; ".join(described) + ". Would you like to book?"


def _booking(config: BusinessConfig, named: list) -> str:  # noqa: ANN001
    if named:
        return f"I can help you book a {named[0].name.lower()}. What day and time suit you?"
    names = ", ".join(s.name.lower() for s in config.services)
    return f"I can help you book an appointment. Which service would you like{': ' + names if names else ''}?"


def _hours(config: BusinessConfig, now: datetime) -> str:
    if not config.hours:
        return "I'm sorry, I don't have our opening hours to hand."
    local = local_time(config, now)
    opening = opening_on(config, local)
    if is_open(config, now) and opening:
        today = f"We're open now, until {opening.closes:%-I:%M %p}."
    else:
        today = "We're closed right now."
    return today + " " + describe_hours(config).replace("\n- ", "; ").lstrip("- ") + "."
