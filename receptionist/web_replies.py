"""What an anonymous web visitor may read of a reply, whichever brain wrote it.

A model can be talked into reading out its instructions or a number in them; this does not rely
on it refusing. Every reply of the web channel passes here: each private number of the business
is withheld in whatever form it is written (`business.private_numbers`), and a reply that quotes
the receptionist's instructions is not given at all.

What is confidential: the system prompt's rules (the paragraphs every business gets word for
word; the ones built from the business's facts, its name, hours, services and address, are
what visitors may be told) and the owner's own instructions. A reply that shares a run of
`QUOTED_WORDS` words with them, or repeats a whole sentence of the owner's of at least
`SHORTEST_SENTENCE` words, quotes them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from business.config import BusinessConfig, OpeningHours, Service
from business.instructions import build_instructions, web_visitor_rules
from business.private_numbers import without_private_numbers
from receptionist import unasked_words
from receptionist.unasked_words import words_in

QUOTED_WORDS = 6
SHORTEST_SENTENCE = 4
NOT_SHARED = unasked_words.NOT_SHARED["en"]
# A business that shares no fact with any real one: what its instructions share with a real one's is the rules.
_NOBODY = BusinessConfig(
    name="Nobody Anywhere",
    business_type="nothing at all",
    address="Nowhere",
    timezone="UTC",
    language="xx",
    services=[Service(name="Nothing", duration_minutes=1)],
    hours={"monday": OpeningHours.model_validate({"opens": "00:01", "closes": "00:02"})},
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z0-9]+", text.lower()))


def _runs(words: tuple[str, ...], length: int) -> set[tuple[str, ...]]:
    return {words[i : i + length] for i in range(len(words) - length + 1)}


@lru_cache(maxsize=64)
def _confidential(config_json: str) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """(runs of QUOTED_WORDS words of the rules and the owner's instructions, the owner's shorter sentences)."""
    config = BusinessConfig.model_validate_json(config_json)
    anybodys = set(build_instructions(_NOBODY).split("\n\n"))
    rules = [p for p in build_instructions(config).split("\n\n") if p in anybodys]
    texts = [*rules, web_visitor_rules(config), config.custom_instructions]
    runs = set().union(*(_runs(_words(text), QUOTED_WORDS) for text in texts))
    sentences = {_words(s) for s in re.split(r"(?<=[.!?:;])\s+|\n+", config.custom_instructions)}
    return frozenset(runs), frozenset(s for s in sentences if SHORTEST_SENTENCE <= len(s) < QUOTED_WORDS)


def quotes_instructions(text: str, config: BusinessConfig) -> bool:
    runs, short_sentences = _confidential(config.model_dump_json())
    words = _words(text)
    if _runs(words, QUOTED_WORDS) & runs:
        return True
    return any(sentence in _runs(words, len(sentence)) for sentence in short_sentences)


def web_safe_reply(text: str, config: BusinessConfig, language: str | None = None) -> str:
    """The reply as the visitor gets it: no quote of the instructions, no private number."""
    if quotes_instructions(text, config):
        return words_in(unasked_words.NOT_SHARED, language)
    return without_private_numbers(text, config)
