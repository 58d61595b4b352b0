"""Emergencies as callers say them in the business's other languages, for the safety net.

`receptionist.emergencies` holds the English phrases (and the owner's own list, which they write
in every language they speak); these are the defaults of each other language, by the same kinds
of business. Matched without accents, as transcripts do not always carry them ("inundacion").
"""

from __future__ import annotations

import re
import unicodedata

from business.config import BusinessConfig
from business.languages import primary
from receptionist.emergencies import TYPE_WORDS

COMMON = {
    "es": (
        "emergencia", "incendio", "fuego", "no puedo respirar", "no puede respirar", "inconsciente", "ambulancia",
        "huele a gas", "olor a gas", "fuga de gas",
    ),
}  # fmt: skip
BY_BUSINESS_TYPE = {
    "es": {
        "hvac": ("huele a gas", "monoxido de carbono", "sin calefaccion", "no hay calefaccion", "inundacion"),
        "plumber": (
            "inundacion", "inundado", "inundada", "se revento", "tuberia reventada", "tuberia rota", "tubo roto", "agua por todas partes",
            "aguas negras", "huele a gas",
        ),
        "dental": (
            "dolor fuerte", "mucho dolor", "sangrado", "sangrando", "se me cayo un diente", "diente roto", "hinchazon",
            "absceso",
        ),
        "medical": ("dolor de pecho", "dolor en el pecho", "sangrado", "sangrando", "no puedo respirar"),
        "salon": ("reaccion alergica", "quemadura quimica"),
    },
}  # fmt: skip


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def emergency_phrases_in(config: BusinessConfig, language: str) -> tuple[str, ...]:
    """The default emergency phrases of one of the business's languages (none for one we have no list of)."""
    lang = primary(language)
    kind = config.business_type.lower()
    kinds = [key for key, words in TYPE_WORDS.items() if any(word in kind for word in words)]
    by_type = BY_BUSINESS_TYPE.get(lang, {})
    phrases = COMMON.get(lang, ()) + tuple(p for key in kinds for p in by_type.get(key, ()))
    return tuple(dict.fromkeys(phrases))


def emergency_in_languages(config: BusinessConfig, caller_text: str) -> str | None:
    """The emergency phrase of another of the business's languages that the caller used, if any."""
    if config.emergency_phrases is not None:
        return None  # the owner's own list, in whatever languages they wrote it, is the whole list
    text = _plain(caller_text)
    for tag in config.languages:
        for phrase in emergency_phrases_in(config, tag):
            if re.search(rf"\b{re.escape(phrase)}\b", text):
                return phrase
    return None
