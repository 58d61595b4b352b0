"""Which of the business's languages the caller speaks: from their words, or from the keypad's language menu.

Heard: a lexicon of the everyday words of each language we know (English and Spanish), counted in
the caller's final transcript. It runs in the workflow on every turn, so it must be deterministic,
cheap and right on one short sentence ("Hola, quisiera una cita"); statistical detectors
(langdetect, langid) are unsure on a few words, and lingua, sure on them, ships models for 75
languages to tell two apart. A caller is moved to another language only when it clearly wins
(MIN_MARKERS words, twice as many as the current language's), or when they name it ("Español").

Keyed: when a business has several languages, each has a key counted down from 9 (the first,
default language 9, the second 8, ...), offered in the greeting in its own language ("Para
español, oprima 8"). High keys never clash with the keypad's other meanings (0: a person, 1/2:
yes/no, receptionist/turn_taking.py), so they work at any moment of the call, during speech too,
with no menu state to open or close.
"""

from __future__ import annotations

import re
import unicodedata

from business.config import BusinessConfig
from business.languages import MAX_LANGUAGES, primary

MENU_KEYS = tuple(str(9 - index) for index in range(MAX_LANGUAGES))  # "9", "8", "7", "6"
MIN_MARKERS = 2
MAX_NAMING_WORDS = 4  # "Español, por favor": a choice; a longer sentence naming a language is about it

# Everyday words of each language, without accents (the transcript's are removed before counting).
# A word of two languages ("no", "me", "a") tells nothing and is left out of both.
_MARKERS = {
    "en": """the and is are i you my your to for what when where how can could do does have has please thank
        thanks hello hi yes want would like need appointment tomorrow today open book cleaning price much
        this that it with about of on at am be there here will just get speak talk someone""",
    "es": """el la los las y es son yo usted mi su para por que cuando donde como puedo puede podria tiene tienen
        quiero quisiera necesito cita manana hoy hora abierto abren gracias hola si buenos buenas dias tardes
        favor una un de del con le esta estan hablo habla precio cuanto cuesta limpieza hacer quien alguien
        tengo hay al pero mas muy necesita ayuda""",
}
MARKERS = {lang: frozenset(words.split()) - frozenset(w for o, ws in _MARKERS.items() if o != lang for w in ws.split())
           for lang, words in _MARKERS.items()}  # fmt: skip
# A language named: the caller chooses it.
NAMED = {"espanol": "es", "spanish": "es", "castellano": "es", "english": "en", "ingles": "en"}

# The greeting's offer, in the language offered, and the words that confirm a choice.
MENU_OFFER = {
    "en": "For English, press {key}.",
    "es": "Para español, oprima {key} o diga español.",
    "fr": "Pour le français, appuyez sur {key}.",
    "pt": "Para português, pressione {key}.",
    "de": "Für Deutsch drücken Sie die {key}.",
    "it": "Per l'italiano, premere {key}.",
}
SWITCHED = {
    "en": "All right, let's continue in English. How can I help you?",
    "es": "De acuerdo, seguimos en español. ¿En qué puedo ayudarle?",
    "fr": "D'accord, continuons en français. Comment puis-je vous aider ?",
    "pt": "Certo, vamos continuar em português. Como posso ajudar?",
    "de": "Gut, wir sprechen Deutsch weiter. Wie kann ich helfen?",
    "it": "Va bene, continuiamo in italiano. Come posso aiutarla?",
}

# What the safety net and the keypad say, the brain unasked, in the caller's language.
SAFETY_NET_WORDS = {
    "person": {
        "en": "Of course. I'm connecting you with a person now.",
        "es": "Por supuesto. Le comunico ahora mismo con una persona.",
    },
    "emergency": {
        "en": "That sounds like an emergency. I'm getting someone on the line for you right now.",
        "es": "Parece una emergencia. Ahora mismo le comunico con alguien.",
    },
}

_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> list[str]:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _configured(config: BusinessConfig, lang: str) -> str | None:
    """The business's tag for a language ("es-US" for "es"), if it speaks it."""
    return next((tag for tag in config.languages if primary(tag) == lang), None)


def heard_language(config: BusinessConfig, text: str, current: str) -> str | None:
    """The business language the caller's words are in, when it is not `current`; else None."""
    if len(config.languages) < 2:
        return None
    words = _words(text)
    if 0 < len(words) <= MAX_NAMING_WORDS:
        named = [NAMED[w] for w in words if w in NAMED]
        if named and (tag := _configured(config, named[-1])) and tag != current:
            return tag
    counts = {lang: sum(w in markers for w in words) for lang, markers in MARKERS.items()}
    here = counts.get(primary(current), 0)
    best = max(counts, key=lambda lang: counts[lang])
    if best == primary(current) or counts[best] < MIN_MARKERS or counts[best] < 2 * here:
        return None
    return _configured(config, best)


def menu_key(config: BusinessConfig, tag: str) -> str:
    return MENU_KEYS[config.languages.index(tag)]


def language_of_key(config: BusinessConfig, digit: str | None) -> str | None:
    """The language a key chooses, when the business has a menu of several."""
    if len(config.languages) < 2 or digit not in MENU_KEYS[: len(config.languages)]:
        return None
    return config.languages[MENU_KEYS.index(digit)]


def menu_offer(config: BusinessConfig) -> str:
    """What the greeting adds for a business of several languages: each other language offered in itself."""
    offers = [
        MENU_OFFER[primary(tag)].format(key=menu_key(config, tag))
        for tag in config.languages[1:]
        if primary(tag) in MENU_OFFER
    ]
    return " ".join(offers)


def switched_words(tag: str) -> str:
    """Said when the caller chose a language by its key: in that language."""
    return SWITCHED.get(primary(tag), SWITCHED["en"])


def safety_net_words(kind: str, tag: str) -> str:
    """The safety net's words of `kind` in the language `tag`, in English when we have none in it."""
    words = SAFETY_NET_WORDS[kind]
    return words.get(primary(tag), words["en"])
