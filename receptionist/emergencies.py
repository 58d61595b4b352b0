"""The deterministic safety net: phrases that escalate a call even when the LLM is down."""

from __future__ import annotations

import re

from business.config import BusinessConfig

COMMON = ("emergency", "fire", "can't breathe", "cannot breathe", "unconscious", "ambulance", "smell gas", "gas leak")
BY_BUSINESS_TYPE: dict[str, tuple[str, ...]] = {
    "hvac": (
        "gas smell",
        "smell gas",
        "smells like gas",
        "carbon monoxide",
        "no heat",
        "no heating",
        "furnace is out",
        "flooding",
    ),
    "plumber": (
        "flooding",
        "flooded",
        "burst pipe",
        "pipe burst",
        "sewage",
        "water everywhere",
        "gas smell",
        "smell gas",
    ),
    "dental": ("severe pain", "bleeding", "knocked out", "swelling", "broken tooth", "abscess"),
    "medical": ("chest pain", "bleeding", "severe pain", "can't breathe"),
    "salon": ("allergic reaction", "chemical burn"),
}

# How owners write their business type: "dentist" and "plumbing" must find the dental and plumber phrases too.
TYPE_WORDS: dict[str, tuple[str, ...]] = {
    "hvac": ("hvac", "heating", "air condition", "furnace"),
    "plumber": ("plumb",),
    "dental": ("dental", "dentist", "orthodont"),
    "medical": ("medical", "doctor", "clinic", "physician"),
    "salon": ("salon", "barber", "beauty", "hair"),
}


def emergency_phrases(config: BusinessConfig) -> tuple[str, ...]:
    if config.emergency_phrases is not None:
        return tuple(p.lower() for p in config.emergency_phrases)
    kind = config.business_type.lower()
    kinds = [
        key for key, words in TYPE_WORDS.items() if any(word in kind for word in words)
    ]  # "heating and plumbing": both
    return tuple(dict.fromkeys(COMMON + tuple(phrase for key in kinds for phrase in BY_BUSINESS_TYPE[key])))


def emergency_in(config: BusinessConfig, caller_text: str) -> str | None:
    """The emergency phrase the caller used, if any."""
    text = caller_text.lower().replace("’", "'")
    for phrase in emergency_phrases(config):
        if re.search(rf"\b{re.escape(phrase)}\b", text):
            return phrase
    return None
