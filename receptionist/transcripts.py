"""When two transcripts say the same words: what lets a speculative reply answer the final one.

Engines revise an utterance as it goes: the final transcript may add punctuation and capitals,
or drop a hesitation the interim had ("um, I'd like a cleaning" becomes "I'd like a cleaning.").
None of that changes what the caller asked, so the reply generated on the interim still fits.
Any other word changed, added or dropped is a different question.
"""

from __future__ import annotations

import re

# Hesitations that carry no meaning; a word like "like" or "so" may, and is kept.
FILLER_WORDS = frozenset({"um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "uh-huh"})
_WORDS = re.compile(r"[\w']+(?:-[\w']+)*")


def spoken_words(transcript: str) -> list[str]:
    """The transcript's words, lower-case, without punctuation or hesitations."""
    return [w for w in _WORDS.findall(transcript.lower().replace("’", "'")) if w not in FILLER_WORDS]


def same_words(first: str, second: str) -> bool:
    return spoken_words(first) == spoken_words(second)
