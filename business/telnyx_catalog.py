"""What Telnyx speaks and transcribes, read from the telnyx SDK's own types, and a configuration checked against it.

The SDK's generated types list the languages `speak` takes (`ActionSpeakParams.language`) and
those of each transcription engine (Google's, the default engine's, `GoogleTranscriptionLanguage`).
Importing them is cheap one module at a time, and costly as a package (`runtime.lazy_sdk_types`):
so they are read on first use, in the paths that save a configuration, and never by a worker
taking a call (a configuration saved before this check, or an old call's history, still runs).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, get_args, get_type_hints

from business.languages import BCP47, primary, voice_problem

if TYPE_CHECKING:
    from business.config import BusinessConfig

GOOGLE = "TranscriptionEngineGoogleConfigParam"
# Where a refusal is, as pydantic names a field ("languages", 0), and what it says.
Refusal = tuple[tuple[str | int, ...], str]


@cache
def speak_languages() -> tuple[str, ...]:
    """The `language` values Telnyx's speak command takes."""
    from telnyx.types.calls import action_speak_params

    return tuple(get_args(get_type_hints(action_speak_params.ActionSpeakParams)["language"]))


@cache
def engine_languages(config_param: str) -> tuple[str, ...]:
    """The `language` values of one transcription engine's config, by the SDK type's name
    (`TranscriptionEngineGoogleConfigParam`, `DeepgramNova3ConfigParam`, ...); each engine has its own codes."""
    import importlib

    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in config_param).lstrip("_")
    module = importlib.import_module(f"telnyx.types.calls.{snake}")
    return tuple(get_args(get_type_hints(getattr(module, config_param))["language"]))


def transcription_languages() -> tuple[str, ...]:
    """The languages of the Google engine, Telnyx's default for call transcription ("es", not "es-US")."""
    return engine_languages(GOOGLE)


def engine_language(tag: str, config_param: str = "TranscriptionEngineGoogleConfigParam") -> str | None:
    """An engine's code for a business language: the tag itself if the engine lists it, else its
    language ("es" for "es-MX"), else the language in a region the engine has ("es-US" first); None
    when the engine does not transcribe it."""
    known = engine_languages(config_param)
    if tag in known:
        return tag
    if primary(tag) in known:
        return primary(tag)
    regional = sorted((k for k in known if primary(k) == primary(tag)), key=lambda k: not k.endswith("-US"))
    return regional[0] if regional else None


def transcription_language(tag: str) -> str | None:
    """The code of the engine calls are transcribed by (Google, Telnyx's default)."""
    return engine_language(tag, GOOGLE)


def spoken_language(tag: str) -> str:
    """The speak command's language for a business language. A configuration saved before languages were
    checked may say "es", which Telnyx refuses: it gets the region Telnyx has ("es-US" first, as a
    US number's callers speak it), rather than every sentence of its calls refused."""
    spoken = speak_languages()
    if tag in spoken:
        return tag
    close = sorted((s for s in spoken if primary(s) == primary(tag)), key=lambda s: not s.endswith("-US"))
    return close[0] if close else tag


def language_refusal(tag: str) -> str | None:
    spoken = speak_languages()
    if not BCP47.match(tag):
        return f"{tag!r} is not a language tag: use BCP-47 tags such as en-US, es-US"
    if tag not in spoken:
        close = [s for s in spoken if primary(s) == primary(tag)]
        if close:
            return f"Telnyx does not speak {tag!r}: choose one of {', '.join(close)}"
        return f"Telnyx does not speak {tag!r}; it speaks {', '.join(spoken)}"
    if transcription_language(tag) is None:
        return f"Telnyx cannot transcribe {tag!r} on its default engine"
    return None


def telnyx_refusals(config: BusinessConfig) -> list[Refusal]:
    """What Telnyx would refuse of a configuration's languages and voices; empty when it takes it all."""
    refusals: list[Refusal] = []
    for index, tag in enumerate(config.languages):
        if problem := language_refusal(tag):
            refusals.append((("languages", index), problem))
    if problem := voice_problem(config.voice, None, config.languages[0]):
        refusals.append((("voice",), problem))
    return refusals
