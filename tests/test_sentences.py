"""A streamed reply is cut into sentences so the caller hears the first while the rest is generated."""

from __future__ import annotations

import random

import pytest

from receptionist.sentences import SentenceSplitter, split_sentences

REPLIES = [
    "Dr. Smith is in at 9 a.m. tomorrow. A cleaning is $1.50 today! Really? Yes.",
    "We're at 12 Main St. in Springfield. See you soon.",
    "Our hours are 8 AM to 5 PM. We open again at 8 A.M. on Monday.",
    "A checkup takes 45 minutes and costs $120.99. Would you like to book?",
    'He said "we\'re closed." Then he left.',
    "Wait... let me check.\nYes, Monday at 10:30 AM is free.  Shall I book it?",
    "No trailing punctuation here",
    "",
]


def streamed(text: str, pieces: list[int]) -> list[str]:
    splitter, sentences, at = SentenceSplitter(), [], 0
    for size in pieces:
        sentences += splitter.feed(text[at : at + size])
        at += size
    sentences += splitter.feed(text[at:])
    return sentences + splitter.flush()


@pytest.mark.parametrize("text", REPLIES)
def test_streaming_in_small_pieces_gives_the_same_sentences(text: str) -> None:
    whole = split_sentences(text)
    assert streamed(text, [1] * len(text)) == whole  # one character at a time
    assert streamed(text, [2, 3] * len(text)) == whole
    chunking = random.Random(text)  # seeded: the same pieces on every run
    for _ in range(20):
        assert streamed(text, [chunking.randint(1, 7) for _ in range(len(text))]) == whole


def test_sentences_end_at_full_stops_questions_and_exclamations() -> None:
    assert split_sentences("Hello! How can I help? We're open until five.") == [
        "Hello!",
        "How can I help?",
        "We're open until five.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Patel will see you. Bye.", ["Dr. Patel will see you.", "Bye."]),
        (
            "We open at 9 a.m. and close at 5 p.m. on weekdays. Anything else?",
            ["We open at 9 a.m. and close at 5 p.m. on weekdays.", "Anything else?"],
        ),
        ("Mrs. Jones booked it. Done.", ["Mrs. Jones booked it.", "Done."]),
        ("It's on Main St. near the bank. See you.", ["It's on Main St. near the bank.", "See you."]),
    ],
)
def test_abbreviations_do_not_end_a_sentence(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A cleaning is $1.50 today. Want one?", ["A cleaning is $1.50 today.", "Want one?"]),
        ("That's 2.5 hours. Okay?", ["That's 2.5 hours.", "Okay?"]),
        ("Version 3.10.2 works.", ["Version 3.10.2 works."]),
    ],
)
def test_decimals_do_not_end_a_sentence(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_a_sentence_is_released_as_soon_as_it_is_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Let me check") == []
    assert splitter.feed(" that for you.") == []  # it might still be "you.5" or "you.\""
    assert splitter.feed(" Monday") == ["Let me check that for you."]
    assert splitter.feed(" works.") == []
    assert splitter.flush() == ["Monday works."]
    assert splitter.flush() == []


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert split_sentences('She said "yes." Then (briefly.) we hung up.') == [
        'She said "yes."',
        "Then (briefly.)",
        "we hung up.",
    ]


def test_blank_text_has_no_sentences() -> None:
    assert split_sentences("   \n ") == []
    splitter = SentenceSplitter()
    assert splitter.feed("") == [] and splitter.flush() == []
