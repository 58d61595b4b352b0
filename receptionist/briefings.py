"""What the on-call person is told before a warm transfer puts a caller through to them.

They hear it when they pick up, and it is texted to them as their phone starts ringing, so
whoever misses the call still knows what it was. Only a key press takes the call: a voicemail
box or a pocket that answers cannot press 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.unasked_words import STILL_HOLDING

TAKE_IT_KEY = "1"
# The caller's last words are quoted; a long monologue is cut to what a briefing can hold.
MAX_QUOTED_CHARACTERS = 160
# What the caller hears while on hold: receptionist/unasked_words.py STILL_HOLDING, in their language.
HOLD_WORDS = STILL_HOLDING["en"]


@dataclass(frozen=True)
class Briefing:
    spoken: str  # to the person who picked up, ending with the key to press
    texted: str  # to their phone, as it rings


def briefing(business_name: str, reason: str, *, emergency: bool, caller: str | None, caller_said: str) -> Briefing:
    kind = "Emergency call" if emergency else "A caller is asking for a person"
    who = f" from {caller}" if caller else ""
    said = quoted(caller_said)
    about = f' They said: "{said}"' if said else f" Reason: {reason.rstrip(' .!?')}."
    spoken = f"{kind}{who} at {business_name}.{about} Press {TAKE_IT_KEY} to take the call."
    texted = (
        f"{kind}{who} at {business_name}.{about} We are calling you now: answer and press {TAKE_IT_KEY} to take it."
    )
    return Briefing(spoken=spoken, texted=texted)


def quoted(words: str) -> str:
    words = " ".join(words.split()).replace('"', "'")
    if len(words) <= MAX_QUOTED_CHARACTERS:
        return words.rstrip(" .!?") + "."
    return words[:MAX_QUOTED_CHARACTERS].rsplit(" ", 1)[0] + "..."
