"""The caller's mood, turn by turn, and the person offered to a caller who stays upset.

A turn's mood is VADER's compound score of the caller's words, from -1 (very negative) to 1
(very positive), computed in the worker with no network call. VADER (vaderSentiment) was built
for short, informal text: it reads negation ("not happy"), intensifiers ("really upset"),
capitals and exclamation marks, ships its lexicon in the package, and scores a turn in well under
a millisecond. A transformer model would read sarcasm better but costs hundreds of megabytes and
tens of milliseconds of CPU a turn; TextBlob brings NLTK and an adjective lexicon made for reviews.
VADER's lexicon is English: a turn in another language has no mood (None), rather than a wrong one.

A caller whose last two turns are both strongly negative is offered a person, once per call;
a yes to that offer reaches one through the escalation ladder, as asking for a person does.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

from domain.vocabulary import Speaker, Utterance
from receptionist.consent_answers import yes_or_no
from receptionist.tools import ToolCall

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own convention calls below -0.05 negative; callers who are angry ("this is ridiculous",
# "you people are useless", "I'm really upset") score -0.4 and below.
STRONGLY_NEGATIVE = -0.4
PERSON_OFFER = "I'm sorry this has been frustrating. Would you like me to put you through to a person?"
ACCEPTED_OFFER = "Of course, let me get someone for you."
LLM_MOOD_NOTE = (
    "The caller has sounded upset for their last two turns. Acknowledge it in a few words, answer what they "
    "asked, and offer to put them through to a person; if they accept, call escalate_to_human."
)


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    # Made on first use: reading the lexicon costs ~30 ms, which only a worker that hears callers pays.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def turn_mood(text: str, language: str = "en") -> float | None:
    """The mood of one caller turn, -1 to 1; None for words it cannot score (another language, no words)."""
    if not text.strip() or not language.lower().startswith("en"):
        return None
    return round(float(_analyzer().polarity_scores(text)["compound"]), 3)


def call_mood(turn_moods: list[float | None]) -> float | None:
    """A call's mood: the mean of its scored turns."""
    scored = [mood for mood in turn_moods if mood is not None]
    return round(sum(scored) / len(scored), 3) if scored else None


def _strongly_negative(text: str) -> bool:
    mood = turn_mood(text)
    return mood is not None and mood <= STRONGLY_NEGATIVE


def offer_a_person(history: list[Utterance], caller_text: str) -> bool:
    """This turn and the caller's one before it were both strongly negative, and no person was offered yet."""
    if any(u.speaker == Speaker.AGENT and PERSON_OFFER in u.text for u in history):
        return False
    previous = next((u.text for u in reversed(history) if u.speaker == Speaker.CALLER), None)
    return previous is not None and _strongly_negative(previous) and _strongly_negative(caller_text)


def accepts_person_offer(history: list[Utterance], caller_text: str) -> bool:
    last_agent = next((u.text for u in reversed(history) if u.speaker == Speaker.AGENT), "")
    return last_agent.endswith(PERSON_OFFER) and yes_or_no(caller_text) is True


def escalation_for_upset_caller() -> ToolCall:
    return ToolCall(
        id="offline-escalate_to_human",
        name="escalate_to_human",
        arguments=json.dumps({"reason": "the caller was upset and accepted a person"}),
    )
