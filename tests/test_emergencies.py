"""The deterministic safety net: a caller's words that escalate the call even when the LLM is down."""

from __future__ import annotations

import pytest

from business.config import BusinessConfig
from receptionist.emergencies import emergency_in, emergency_phrases


def business(kind: str, phrases: list[str] | None = None) -> BusinessConfig:
    return BusinessConfig(name="Test", business_type=kind, emergency_phrases=phrases)


@pytest.mark.parametrize(
    ("kind", "said", "phrase"),
    [
        ("hvac", "I think I smell gas in the basement", "smell gas"),
        ("HVAC contractor", "There's a gas smell near the furnace", "gas smell"),
        ("hvac", "We have no heat and it's freezing", "no heat"),
        ("heating and cooling", "We have no heating since last night", "no heating"),
        ("hvac", "The carbon monoxide alarm keeps going off", "carbon monoxide"),
        ("plumber", "My kitchen is flooding!", "flooding"),
        ("plumbing company", "A pipe burst under the sink", "pipe burst"),
        ("plumber", "there is water everywhere in the bathroom", "water everywhere"),
        ("dental office", "I'm in severe pain since this morning", "severe pain"),
        ("dentist", "My gum won't stop bleeding", "bleeding"),
        ("Dental Clinic", "My son's tooth got knocked out at football", "knocked out"),
        ("medical practice", "My father has chest pain", "chest pain"),
        ("general", "This is an emergency", "emergency"),
    ],
)
def test_emergency_phrases_per_business_type(kind: str, said: str, phrase: str) -> None:
    assert emergency_in(business(kind), said) == phrase


def test_a_type_phrase_does_not_alarm_another_type() -> None:
    # Bleeding is a dental emergency, not a plumbing one; flooding the other way round.
    assert emergency_in(business("plumber"), "my finger is bleeding a little") is None
    assert emergency_in(business("dental office"), "the street was flooding on my way") is None


def test_a_business_of_two_kinds_gets_both_sets() -> None:
    config = business("heating and plumbing")
    assert emergency_in(config, "the furnace is out") == "furnace is out"
    assert emergency_in(config, "a burst pipe in the attic") == "burst pipe"


def test_common_emergencies_count_for_every_business() -> None:
    for kind in ("general", "salon", "dental office", "hvac"):
        config = business(kind)
        assert emergency_in(config, "someone is unconscious here") == "unconscious"
        assert emergency_in(config, "I can’t breathe") == "can't breathe"  # a curly apostrophe from speech to text


def test_case_does_not_matter() -> None:
    assert emergency_in(business("dental office"), "SEVERE PAIN, please help") == "severe pain"


@pytest.mark.parametrize(
    "said",
    [
        "I'd like a cleaning",
        "Can I book a checkup for Tuesday?",
        "How much is whitening?",
        "What are your hours?",
        "Do you have a fireplace in the waiting room?",  # not "fire"
        "Is the firewall blocking your website?",
        "I need to reschedule, nothing urgent",
        "My last visit was painless, thanks",
    ],
)
def test_no_false_alarm_on_ordinary_sentences(said: str) -> None:
    assert emergency_in(business("dental office"), said) is None


def test_phrases_match_whole_words_only() -> None:
    config = business("hvac")
    assert emergency_in(config, "there is no heater in the garage, can you install one") is None
    assert emergency_in(config, "the campfire smell is from outside") is None
    assert emergency_in(config, "the fire alarm went off") == "fire"


def test_custom_phrases_override_the_defaults() -> None:
    config = business("dental office", ["jaw locked", "Swallowed a crown"])
    assert emergency_phrases(config) == ("jaw locked", "swallowed a crown")
    assert emergency_in(config, "My jaw locked and I can't open my mouth") == "jaw locked"
    assert emergency_in(config, "my daughter swallowed a crown") == "swallowed a crown"
    assert emergency_in(config, "I'm in severe pain") is None  # the dental default is replaced
    assert emergency_in(config, "this is an emergency") is None  # so are the common ones


def test_an_empty_custom_list_turns_the_safety_net_off() -> None:
    assert emergency_in(business("dental office", []), "severe pain and bleeding, emergency") is None
