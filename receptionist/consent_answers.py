"""A caller's answer to "This call may be recorded. Is that all right?": yes, no, or neither.

Only a clear yes counts as consent; a no, or words that answer something else ("I need a
cleaning"), leave the call unrecorded. A refusal is looked for first: "yes, I mind" is no consent.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"[a-z']+")
# Said to agree, though they hold a "no" or a "not".
AGREEING_PHRASES = ("no problem", "not a problem", "no worries", "i don't mind", "i do not mind", "don't mind")
REFUSING_PHRASES = ("rather not", "i mind", "do not record", "don't record", "not okay", "not ok", "not fine")
REFUSING_WORDS = frozenset({"no", "nope", "nah", "not", "don't", "dont", "never"})
AGREEING_WORDS = frozenset(
    {"yes", "yeah", "yep", "yup", "sure", "okay", "ok", "fine", "alright", "agree", "certainly", "absolutely"}
)
AGREEING_WORD_PAIRS = ("all right", "of course", "go ahead", "that's fine")


def agrees_to_recording(transcript: str) -> bool | None:
    """True for a yes, False for a no, None for words that are neither."""
    return yes_or_no(transcript)


def yes_or_no(transcript: str) -> bool | None:
    """A caller's answer to a yes/no question: True, False, or None for words that answer neither."""
    text = " ".join(_WORDS.findall(transcript.lower()))
    if any(phrase in text for phrase in AGREEING_PHRASES):
        return True
    words = set(text.split())
    if any(phrase in text for phrase in REFUSING_PHRASES) or words & REFUSING_WORDS:
        return False
    if words & AGREEING_WORDS or any(pair in text for pair in AGREEING_WORD_PAIRS):
        return True
    return None
