"""The languages a business answers in, and the voices it speaks them with: their shapes, without the SDK.

A language is a BCP-47 tag ("en-US", "es-MX"); the business's first is its default. A voice is one
of the Telnyx voice families the receptionist offers: the basic voices (female, male),
`AWS.Polly.<Voice>` (`-Neural` for the natural ones), `Azure.<locale>-<Voice>`, and
`ElevenLabs.<Model>.<Voice>`, whose ElevenLabs key (a cloned voice the business brings) Telnyx
reads from an integration secret named by `api_key_ref`. Whether Telnyx speaks and transcribes
a language is the SDK's to say (`business.telnyx_catalog`), checked where a configuration is saved.
"""

from __future__ import annotations

import re

# A language, an optional script and region, and optional variants or a private use ("en-US-x-...").
BCP47 = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z]{4})?(?:-(?:[A-Za-z]{2}|\d{3}))?(?:-[A-Za-z0-9]{1,8})*$")
DEFAULT_LANGUAGE = "en-US"
MAX_LANGUAGES = 4

BASIC_VOICES = ("female", "male")
_POLLY = re.compile(r"^AWS\.Polly\.[A-Z][A-Za-z]+(?:-Neural)?$")
_AZURE = re.compile(r"^Azure\.(?P<locale>[a-z]{2,3}-[A-Z][A-Za-z]{1,3})-[A-Za-z0-9]+(?::[A-Za-z0-9]+)?$")
_ELEVENLABS = re.compile(r"^ElevenLabs\.(?:[A-Za-z0-9_.-]+\.)?[A-Za-z0-9]+$")
VOICE_FORMS = (
    "female or male, AWS.Polly.<Voice>-Neural (e.g. AWS.Polly.Lupe-Neural), Azure.<locale>-<Voice> "
    "(e.g. Azure.es-MX-DaliaNeural), or ElevenLabs.<Model>.<Voice> with an api_key_ref"
)

# The names callers and owners know the languages by, in English and in the language itself.
LANGUAGE_NAMES = {
    "en": ("English", "English"),
    "es": ("Spanish", "español"),
    "fr": ("French", "français"),
    "pt": ("Portuguese", "português"),
    "de": ("German", "Deutsch"),
    "it": ("Italian", "italiano"),
}


# The greeting of a business that wrote none, in its first language (English when we have none in it).
DEFAULT_GREETINGS = {
    "en": "Thank you for calling {name}. How can I help you today?",
    "es": "Gracias por llamar a {name}. ¿En qué puedo ayudarle?",
}


def default_greeting(tag: str, name: str) -> str:
    return DEFAULT_GREETINGS.get(primary(tag), DEFAULT_GREETINGS["en"]).format(name=name)


def canonical_tag(tag: str) -> str:
    """A tag in its usual case: "es-us" is "es-US", "zh-hant-tw" is "zh-Hant-TW" (the language, script and region)."""
    parts = tag.strip().split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha() and len(out) == 1:
            out.append(part.capitalize())
        else:
            out.append(part)  # variants as written: Telnyx's Welsh English is "en-GB-WLS"
    return "-".join(out)


def primary(tag: str) -> str:
    """The language of a tag without its region: "es" of "es-MX"."""
    return tag.split("-", 1)[0].lower()


def language_name(tag: str) -> str:
    """The language's English name ("Spanish"), or its tag when it has none here."""
    names = LANGUAGE_NAMES.get(primary(tag))
    return names[0] if names else tag


def own_name(tag: str) -> str:
    """The language's name in itself ("español"), or its tag."""
    names = LANGUAGE_NAMES.get(primary(tag))
    return names[1] if names else tag


def voice_problem(voice: str, api_key_ref: str | None, language: str | None = None) -> str | None:
    """What is wrong with a Telnyx voice for `language`, or None when Telnyx can speak with it."""
    if voice in BASIC_VOICES or _POLLY.match(voice):
        problem = None
    elif azure := _AZURE.match(voice):
        locale = azure["locale"]
        multilingual = "multilingual" in voice.lower()
        if language is not None and not multilingual and primary(locale) != primary(language):
            return f"the Azure voice {voice!r} speaks {locale}, not {language}: choose a {primary(language)}-... voice"
        problem = None
    elif _ELEVENLABS.match(voice):
        if not api_key_ref:
            return f"the ElevenLabs voice {voice!r} needs an api_key_ref: the Telnyx integration secret of your ElevenLabs key"
        return None
    else:
        return f"unknown voice {voice!r}: use {VOICE_FORMS}"
    if problem is None and api_key_ref:
        return f"api_key_ref is for ElevenLabs voices only, not {voice!r}"
    return problem


def is_elevenlabs(voice: str) -> bool:
    return voice.startswith("ElevenLabs.")
