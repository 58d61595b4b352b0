"""A caller's answer to "This call may be recorded. Is that all right?": yes, no, or neither.

Only a clear yes counts as consent; a no, or words that answer something else ("I need a
cleaning"), leave the call unrecorded. A refusal is looked for first: "yes, I mind" is no consent.
"""

from __future__ import annotations

import re
import unicodedata

_WORDS = re.compile(r"[a-z']+")
# Said to agree, though they hold a "no" or a "not".
AGREEING_PHRASES = ("no problem", "not a problem", "no worries", "i don't mind", "i do not mind", "don't mind")
REFUSING_PHRASES = ("rather not", "i mind", "do not record", "don't record", "not okay", "not ok", "not fine")
REFUSING_WORDS = frozenset({"no", "nope", "nah", "not", "don't", "dont", "never"})
AGREEING_WORDS = frozenset(
    {"yes", "yeah", "yep", "yup", "sure", "okay", "ok", "fine", "alright", "agree", "certainly", "absolutely"}
)
AGREEING_WORD_PAIRS = ("all right", "of course", "go ahead", "that's fine")
# A Spanish caller's, read without accents ("sí" is "si").
AGREEING_PHRASES_ES = ("no hay problema", "no me importa")
REFUSING_PHRASES_ES = ("prefiero que no", "mejor no")
REFUSING_WORDS_ES = frozenset({"nunca"})
AGREEING_WORDS_ES = frozenset({"si", "claro", "vale", "perfecto", "adelante", "okey"})
AGREEING_WORD_PAIRS_ES = ("de acuerdo", "por supuesto", "esta bien")


def agrees_to_recording(transcript: str, *, spanish: bool = True) -> bool | None:
    """True for a yes, False for a no, None for words that are neither."""
    return yes_or_no(transcript, spanish=spanish)


def yes_or_no(transcript: str, *, spanish: bool = True) -> bool | None:
    """A caller's answer to a yes/no question: True, False, or None for words that answer neither.
    `spanish` False: English answers only, as calls recorded before Spanish ones were heard."""
    agreeing_phrases: tuple[str, ...] = AGREEING_PHRASES
    refusing_phrases: tuple[str, ...] = REFUSING_PHRASES
    pairs: tuple[str, ...] = AGREEING_WORD_PAIRS
    refusing, agreeing = REFUSING_WORDS, AGREEING_WORDS
    plain = transcript.lower()
    if spanish:
        plain = "".join(c for c in unicodedata.normalize("NFKD", plain) if not unicodedata.combining(c))
        agreeing_phrases += AGREEING_PHRASES_ES
        refusing_phrases += REFUSING_PHRASES_ES
        pairs += AGREEING_WORD_PAIRS_ES
        refusing, agreeing = refusing | REFUSING_WORDS_ES, agreeing | AGREEING_WORDS_ES
    text = " ".join(_WORDS.findall(plain))
    if any(phrase in text for phrase in agreeing_phrases):
        return True
    words = set(text.split())
    if any(phrase in text for phrase in refusing_phrases) or words & refusing:
        return False
    if words & agreeing or any(pair in text for pair in pairs):
        return True
    return None
