"""The satisfaction survey's words: the text that asks for a rating, and what a caller's reply means.

A reply is a rating only when it is one: a digit from 1 to 5, alone or as "4/5", "4 out of 5",
"5 stars". Anything else ("4 or 5", "call me", "12") is no rating, and nothing is recorded for it.
The opt-out and opt-in words are the carriers' (CTIA) and Telnyx's: the whole text, any case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.vocabulary import TextReplyOutcome
from receptionist.unasked_words import SURVEY_QUESTION, words_in

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
# "4/5", "4 out of 5", "5 stars"; a Spanish caller's "4 de 5", "5 estrellas".
_RATING = re.compile(r"^\s*([1-5])\s*(?:/\s*5|out\s+of\s+5|de\s+5|stars?|estrellas?)?\s*[.!]*\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ReplyMeaning:
    outcome: TextReplyOutcome  # RATED, OPTED_OUT, OPTED_IN or NOT_A_RATING
    rating: int | None = None


def survey_question(business_name: str, language: str | None = None) -> str:
    # Short enough for one SMS segment with most names; STOP is said, as carriers ask of business texts.
    return words_in(SURVEY_QUESTION, language, business=business_name)


def meaning_of(text: str) -> ReplyMeaning:
    word = re.sub(r"[^A-Za-z]", "", text).upper() if len(text.strip().split()) == 1 else ""
    if word in OPT_OUT_WORDS:
        return ReplyMeaning(TextReplyOutcome.OPTED_OUT)
    if word in OPT_IN_WORDS:
        return ReplyMeaning(TextReplyOutcome.OPTED_IN)
    if match := _RATING.match(text):
        return ReplyMeaning(TextReplyOutcome.RATED, int(match[1]))
    return ReplyMeaning(TextReplyOutcome.NOT_A_RATING)
