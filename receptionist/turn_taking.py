"""Who has the floor: a listener's "mm-hmm", a yes-or-no question, and what the keypad's keys mean.

Callers murmur while the agent talks ("mm-hmm", "okay", "yeah"). That is listening, not a new
turn: it must neither stop the agent nor get an answer of its own. Yet the same "yeah" said as the
agent asks "Shall I book it?" is the answer, so it is kept until the agent has finished, and
answered only if what the agent said last was a question that takes a yes or a no.
"""

from __future__ import annotations

import re

# Said by a listener to say "go on"; none of them asks or tells anything.
BACKCHANNELS = frozenset(
    {
        "mm-hmm", "mhm", "mm", "mmm", "hmm", "uh-huh", "uh huh", "ah", "oh", "okay", "ok", "yeah", "yep",
        "yes", "right", "sure", "i see", "got it", "alright", "all right", "cool", "great", "uh", "um",
    }
)  # fmt: skip
MAX_BACKCHANNEL_WORDS = 3
# A question that opens with one of these takes a yes or a no ("Shall I book it?"); one that opens
# with a question word ("How can I help?") does not.
YES_NO_OPENERS = frozenset(
    {
        "would", "shall", "should", "can", "could", "do", "does", "did", "is", "are", "was", "will", "may",
        "have", "has", "want", "is there", "any",
    }
)  # fmt: skip
PERSON_KEY = "0"
# What the keys say, for a caller who cannot talk freely: the brain reads the words.
KEY_WORDS = {"1": "Yes", "2": "No"}

_WORDS = re.compile(r"[a-z]+(?:-[a-z]+)*")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")


def is_backchannel(transcript: str) -> bool:
    """True for a listener's murmur: a few words, every one of them a backchannel ("Mm-hmm, okay.")."""
    words = _WORDS.findall(transcript.lower())
    if not words or len(words) > MAX_BACKCHANNEL_WORDS:
        return False
    text = " ".join(words)
    return text in BACKCHANNELS or all(word in BACKCHANNELS for word in words)


def asks_yes_or_no(agent_text: str) -> bool:
    """True when the agent's last sentence is a question a yes or a no answers."""
    sentences = [s.strip() for s in _SENTENCE.findall(agent_text) if s.strip()]
    if not sentences or not sentences[-1].endswith("?"):
        return False
    words = _WORDS.findall(sentences[-1].lower())
    return bool(words) and (words[0] in YES_NO_OPENERS or " ".join(words[:2]) in YES_NO_OPENERS)


def keypad_words(digit: str) -> str:
    """What a key press says in the conversation: 1 is yes, 2 is no, any other key is named."""
    meaning = KEY_WORDS.get(digit)
    if meaning:
        return f"{meaning} (pressed {digit} on the keypad)"
    return f"(the caller pressed {digit} on the keypad)"
