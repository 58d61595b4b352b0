"""The caller's mood, turn by turn, and the person offered to a caller who stays upset.

A turn's mood is VADER's compound score of the caller's words, from -1 (very negative) to 1
(very positive), computed in the worker with no network call. VADER (vaderSentiment) was built
for short, informal text: it reads negation ("not happy"), intensifiers ("really upset"),
capitals and exclamation marks, ships its lexicon in the package, and scores a turn in well under
a millisecond. A transformer model would read sarcasm better but costs hundreds of megabytes and
tens of milliseconds of CPU a turn; TextBlob brings NLTK and an adjective lexicon made for reviews.

Spanish turns are scored by the same algorithm with a Spanish lexicon (data/vader_lexicon_es.txt,
in VADER's format, written by scripts/spanish-mood-lexicon): some 300 words callers say about a
service, each rated as VADER's raters rated its English translation. No Spanish library fitted:
pysentimiento is a transformer whose model is downloaded at run time, sentiment-analysis-spanish
(unmaintained since 2021) unpickles a 30 MB scikit-learn model of that year, vader-multi
translates through Google's web API, and AFINN has no Spanish list. VADER's rules are keyed on
English words ("never", "very", "but"), so the Spanish ones are read as those (`_AS_VADER_READS`).
Another language has no mood (None), rather than a wrong one.

A caller whose last two turns are both strongly negative is offered a person, once per call, in
the call's language; a yes to that offer reaches one through the escalation ladder, as asking for
a person does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from business.languages import primary
from domain.vocabulary import Speaker, Utterance
from receptionist import unasked_words
from receptionist.consent_answers import yes_or_no
from receptionist.tools import ToolCall
from receptionist.unasked_words import all_languages, words_in

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own convention calls below -0.05 negative; callers who are angry ("this is ridiculous",
# "you people are useless", "I'm really upset") score -0.4 and below.
STRONGLY_NEGATIVE = -0.4
PERSON_OFFER = unasked_words.PERSON_OFFER["en"]
ACCEPTED_OFFER = unasked_words.ACCEPTED_OFFER["en"]
LLM_MOOD_NOTE = (
    "The caller has sounded upset for their last two turns. Acknowledge it in a few words, answer what they "
    "asked, and offer to put them through to a person; if they accept, call escalate_to_human."
)
SPANISH_LEXICON = Path(__file__).with_name("data") / "vader_lexicon_es.txt"
# Spanish negators and degree words, as the English words VADER's rules know them by (VADER reads
# "no" itself, as Spanish uses it: "no estoy contento"). "pero" is VADER's "but": what follows weighs more.
_AS_VADER_READS = {
    "nunca": "never",
    "jamas": "never",
    "nada": "nothing",
    "nadie": "none",
    "tampoco": "neither",
    "ni": "nor",
    "sin": "without",
    "muy": "very",
    "tan": "so",
    "demasiado": "extremely",
    "super": "really",
    "realmente": "really",
    "verdaderamente": "truly",
    "totalmente": "totally",
    "completamente": "completely",
    "absolutamente": "absolutely",
    "increiblemente": "incredibly",
    "sumamente": "extremely",
    "extremadamente": "extremely",
    "bastante": "quite",
    "casi": "almost",
    "apenas": "barely",
    "pero": "but",
    "ningun": "no",
    "ninguno": "no",
    "ninguna": "no",
}
_NEGATORS = frozenset({"no", "nunca", "jamas", "tampoco", "ni"})
# Pronouns a Spanish negator puts before its verb ("no me viene bien"): VADER looks for the
# negation within three words, so they are left out to leave it in reach, as English has it.
_CLITICS = frozenset({"me", "te", "se", "le", "les", "lo", "la", "los", "las", "nos"})
_SPANISH_WORD = re.compile(r"[^\W\d_]+")


@cache
def _analyzer(language: str = "en") -> SentimentIntensityAnalyzer:
    # Made on first use: reading a lexicon costs ~30 ms, which only a worker that hears callers pays.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    if language == "es":
        return SentimentIntensityAnalyzer(lexicon_file=str(SPANISH_LEXICON))
    return SentimentIntensityAnalyzer()


def _as_vader_reads_spanish(text: str) -> str:
    """Accents dropped (the lexicon has none: transcripts vary), "¡" and "¿" gone, the rule words in English."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = plain.replace("¡", " ").replace("¿", " ").split()
    kept: list[str] = []
    for word in words:
        bare = _SPANISH_WORD.sub(lambda m: m[0].lower(), word)
        if bare in _CLITICS and kept and _SPANISH_WORD.sub(lambda m: m[0].lower(), kept[-1]) in _NEGATORS:
            continue  # a clitic after a negator: "no me gusta" is read "no gusta"
        kept.append(word)
    return " ".join(_SPANISH_WORD.sub(lambda m: _AS_VADER_READS.get(m[0].lower(), m[0]), w) for w in kept)


def turn_mood(text: str, language: str = "en") -> float | None:
    """The mood of one caller turn, -1 to 1; None for words it cannot score (another language, no words)."""
    lang = primary(language)
    if not text.strip() or lang not in ("en", "es"):
        return None
    if lang == "es":
        text = _as_vader_reads_spanish(text)
    return round(float(_analyzer(lang).polarity_scores(text)["compound"]), 3)


def call_mood(turn_moods: list[float | None]) -> float | None:
    """A call's mood: the mean of its scored turns."""
    scored = [mood for mood in turn_moods if mood is not None]
    return round(sum(scored) / len(scored), 3) if scored else None


def _strongly_negative(text: str, language: str) -> bool:
    mood = turn_mood(text, language)
    return mood is not None and mood <= STRONGLY_NEGATIVE


def person_offer(language: str | None) -> str:
    return words_in(unasked_words.PERSON_OFFER, language)


def accepted_offer(language: str | None) -> str:
    return words_in(unasked_words.ACCEPTED_OFFER, language)


def offer_a_person(history: list[Utterance], caller_text: str, language: str = "en") -> bool:
    """This turn and the caller's one before it were both strongly negative (each read in the call's
    language), and no person was offered yet, in any language."""
    offers = all_languages(unasked_words.PERSON_OFFER)
    if any(u.speaker == Speaker.AGENT and any(offer in u.text for offer in offers) for u in history):
        return False
    previous = next((u.text for u in reversed(history) if u.speaker == Speaker.CALLER), None)
    return previous is not None and _strongly_negative(previous, language) and _strongly_negative(caller_text, language)


def accepts_person_offer(history: list[Utterance], caller_text: str) -> bool:
    last_agent = next((u.text for u in reversed(history) if u.speaker == Speaker.AGENT), "")
    offered = any(last_agent.endswith(offer) for offer in all_languages(unasked_words.PERSON_OFFER))
    return offered and yes_or_no(caller_text) is True


def escalation_for_upset_caller() -> ToolCall:
    return ToolCall(
        id="offline-escalate_to_human",
        name="escalate_to_human",
        arguments=json.dumps({"reason": "the caller was upset and accepted a person"}),
    )
