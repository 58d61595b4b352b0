"""A business's private phone numbers, and how to keep them out of what an anonymous visitor reads.

Private: the on-call numbers, the owner's mobile, and any number the owner wrote into the custom
instructions ("Dave takes boiler emergencies on 555 010 0177"). Public: the number callers dial.

A number is recognised in whatever form a brain writes it: +1 (555) 555-0199, 555.555.0199,
15555550199, "five five five, five five five, oh one nine nine". A run of digits (or digit
words) with what people put between digits is one candidate; it is withheld when its digits hold
the last seven digits of a private number, so the local form and one with a country code or a
trunk prefix are caught as well as the E.164 one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from business.config import BusinessConfig

WITHHELD = "[number withheld]"
# Seven digits: a North American number without its area code, and short enough for most others.
MATCHED_DIGITS = 7

DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_DIGIT = r"(?:\d|\b(?:" + "|".join(DIGIT_WORDS) + r")\b)"
# Between two digits: spaces, dots, dashes, slashes, brackets, commas (a spelled-out number is read in groups).
_BETWEEN = r"[\s.,/()+\-\u2010-\u2015]*"
_NUMBER_RUN = re.compile(rf"[+(]*{_DIGIT}(?:{_BETWEEN}{_DIGIT})*", re.IGNORECASE)


def _digits(run: str) -> str:
    words = re.findall(r"\d|[a-z]+", run.lower())
    return "".join(word if word.isdigit() else DIGIT_WORDS.get(word, "") for word in words)


def numbers_in(text: str) -> list[str]:
    """The digits of every number of seven digits or more written in `text`."""
    found = (_digits(match.group()) for match in _NUMBER_RUN.finditer(text))
    return [digits for digits in found if len(digits) >= MATCHED_DIGITS]


def private_numbers(config: BusinessConfig) -> list[str]:
    """The digits of each number of the business that a visitor must not be given."""
    public = _digits(config.phone_number or "")
    candidates = [*config.on_call_numbers, config.owner_number or ""]
    numbers = [_digits(n) for n in candidates] + numbers_in(config.custom_instructions)
    return sorted({n for n in numbers if len(n) >= MATCHED_DIGITS and n != public})


def withhold_numbers(text: str, numbers: Iterable[str]) -> str:
    """`text` with every writing of one of `numbers` (digits, as `private_numbers` gives) replaced."""
    endings = [n[-MATCHED_DIGITS:] for n in numbers]
    if not endings:
        return text

    def withheld(match: re.Match[str]) -> str:
        digits = _digits(match.group())
        return WITHHELD if any(ending in digits for ending in endings) else match.group()

    return _NUMBER_RUN.sub(withheld, text)


def without_private_numbers(text: str, config: BusinessConfig) -> str:
    return withhold_numbers(text, private_numbers(config))
