"""An urgent call-back still owed to the number that is calling: asked about, not assumed kept.

Caller ID is easy to spoof, so a call from the number alone no longer counts as the call-back
made: the greeting asks, and only a caller who says it is sorted releases the promise. Anything
else (no answer, a no, a hang-up, another question) leaves it to be made.
"""

from __future__ import annotations

import re

from receptionist.unasked_words import OWED_CALLBACK_QUESTION as ASKED
from receptionist.unasked_words import words_in

OWED_CALLBACK_QUESTION = ASKED["en"]

SORTED_WORDS = (
    "yes",
    "yeah",
    "yep",
    "sorted",
    "all good",
    "all set",
    "resolved",
    "fine now",
    "no longer",
    "don't need",
    "do not need",
    "no need",
    # A Spanish caller's "sí, ya está resuelto", "ya no hace falta".
    "si",
    "sí",
    "resuelto",
    "solucionado",
    "ya está",
    "todo bien",
    "ya no hace falta",
    "ya no lo necesito",
)
NOT_SORTED_WORDS = ("no", "nope", "not", "still", "isn't", "hasn't", "todavía", "aún", "sigue")
# Said as sorted, though they hold a "no".
SORTED_WITH_NO = r"\b(no longer|no need|don't need|do not need|ya no hace falta|ya no lo necesito)\b"


def _says(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(word)}\b", text) for word in words)


def says_sorted(answer: str) -> bool:
    """Whether the caller's answer to `OWED_CALLBACK_QUESTION` says the matter is sorted.

    In doubt, it is not: a call-back made for nothing costs a call, one not made may cost much more.
    """
    text = answer.casefold().replace("’", "'")
    # "No longer needed" is sorted, though it says "no"; "yes, but still need it" is not.
    without_sorted_phrases = re.sub(SORTED_WITH_NO, " ", text)
    return _says(text, SORTED_WORDS) and not _says(without_sorted_phrases, NOT_SORTED_WORDS)


def says_not_sorted(answer: str) -> bool:
    """A plain no to `OWED_CALLBACK_QUESTION` ("No", "not yet"), nothing else in it."""
    text = answer.casefold().replace("’", "'")
    return len(text.split()) <= 4 and _says(text, NOT_SORTED_WORDS) and not says_sorted(answer)


def opening_with_question(opening_words: str, language: str | None = None) -> str:
    return f"{opening_words} {words_in(ASKED, language)}"
