"""How callers describe an emergency, per business type and language: the safety net's lexicons.

Callers rarely say "emergency". A plumber hears "the pipe under the sink burst and there's water
all over the kitchen"; a dentist hears "my son knocked his front tooth out". Each entry is a
regular expression matched against the caller's words made `plain` (lowercase, no accents), so
"se reventó la tubería" and "se revento la tuberia" are one phrase. English and Spanish phrases
are always both checked: a caller in an emergency is not asked which language they speak.

The owner's own `emergency_phrases` replace the lexicons altogether, as they always have
(receptionist/emergencies.py): an owner who lists them decides what reaches the on-call person.
"""

from __future__ import annotations

import re

from business.config import BusinessConfig
from receptionist.caller_words import plain
from receptionist.emergencies import TYPE_WORDS

# Anywhere, any trade: danger to life.
COMMON = (
    r"emergenc(y|ies)",
    r"(house |building |kitchen )?(is )?on fire\b",
    r"\bfire\b",
    r"ambulance",
    r"can'?t breathe|cannot breathe|not breathing|trouble breathing",
    r"unconscious|passed out|collapsed",
    r"gas leak|smell(s|ing)? (of |like )?gas|gas smell|smells? gassy",
    r"carbon monoxide|co alarm|co detector",
    # Spanish
    r"emergencia|urgencia|es urgente",
    r"incendio|hay fuego|se esta quemando",
    r"ambulancia",
    r"no puede respirar|no puedo respirar",
    r"inconsciente|se desmayo",
    r"fuga de gas|olor a gas|huele a gas|monoxido de carbono",
)

BY_BUSINESS_TYPE: dict[str, tuple[str, ...]] = {
    "plumber": (
        r"burst(ed)? (water )?pipe|pipes? (has |have |just |is |are )?(burst|bursted|broke|broken|split|exploded|blew)",
        r"pipe .{0,30}\b(burst|broke|split|exploded)",
        r"water (is )?(everywhere|all over)|water (is )?(pouring|gushing|spraying|shooting|coming) |pouring (out )?water",
        r"water .{0,20}(through|from) the ceiling|ceiling is (leaking|dripping|caving)",
        r"flood(ed|ing|s)?\b",
        r"sewage|sewer (is )?back(ing|ed)? up|toilet.{0,20}overflow",
        r"(can'?t|cannot) (turn|shut) (the |it )?(water )?off|won'?t (turn|shut) off",
        r"no (running )?water|water (has been |got |is )?(shut|cut) off|(don'?t|do not) have (any )?water",
        r"water heater .{0,20}(burst|leaking everywhere|exploded)",
        r"leak(ing|s)? all over|(inches|foot|feet) of water|(froze|frozen) and (cracked|burst|split)|(it'?s|water is) spraying",
        # Spanish
        r"se (me )?(revento|rompio|exploto) (la|una|el) (tuberia|caneria|pipa|tubo)|(tuberia|caneria) (rota|reventada)",
        r"agua por todas partes|agua por todos lados|sale agua por todos lados|se inunda|inundacion|inundad[oa]",
        r"no (hay|tengo|tenemos) agua|sin agua",
        r"aguas negras|el drenaje se (regreso|tapo)",
    ),
    "hvac": (
        r"no heat\b|no heating|heat (is |has |went )?(out|gone|stopped)|heating (is |has )?(out|broken|stopped|not working)",
        r"furnace (is |went |has )?(out|dead|died|not working|broke|quit)|furnace (isn'?t|is not|won'?t) (turn|turning|come|coming) on",
        r"freezing in (here|the house)|house is freezing|pipes? (are |might )?freez",
        r"no (ac|a/c|air conditioning)\b.{0,40}(elderly|baby|heat stroke|100 degrees)",
        r"burning smell|smell(s)? (of )?burning|smoke (coming )?from",
        r"flood(ed|ing)",
        # Spanish
        r"no (hay|tengo|tenemos) calefaccion|sin calefaccion|la calefaccion no (funciona|sirve)",
        r"la caldera (no funciona|se apago|no sirve)|huele a quemado|sale humo",
    ),
    "dental": (
        r"knock(ed)? (out|his|her|my|a).{0,25}tooth|tooth (was |got |has been )?knocked out|knocked.{0,20}\bout\b",
        r"tooth (fell|came|popped) out|half (of )?my tooth|tooth is gone|hurts like crazy",
        r"blood everywhere|(hit|smashed|busted) (his|her|my|their) (mouth|face|teeth)",
        r"swell(ing)?|swollen",
        r"bleeding (that )?(won'?t|will not|doesn'?t|does not|hasn'?t) stop|(won'?t|will not|doesn'?t|does not) stop bleeding|(can'?t|cannot) stop (the )?bleeding|bleeding (a lot|heavily|badly)",
        r"severe pain|unbearable|excruciating|worst pain|pain is (killing|unbearable)|in agony|in (a lot of|so much) pain",
        r"abscess|broken tooth|tooth (is )?(broken|cracked in half|snapped)|broke (a|my) tooth",
        r"jaw .{0,15}(broken|dislocated|locked)",
        # Spanish
        r"se (me |le )?(cayo|rompio|partio) (un|el) diente|(me |le )?(tumbo|tumbaron) (un|el) diente",
        r"hinchazon|hinchad[oa]|inflamad[oa]",
        r"(no (para|deja) de sangrar|sangrado que no para|sangra(ndo)? mucho)",
        r"dolor (insoportable|muy fuerte|terrible)|absceso|diente (roto|partido)",
    ),
    "medical": (
        r"chest pain|pain in (my|his|her) chest|heart attack",
        r"stroke|face (is )?drooping|slurr(ed|ing) (speech|words)",
        r"bleeding (heavily|badly|a lot)|(won'?t|can'?t) stop bleeding",
        r"severe pain|allergic reaction|anaphyla|throat (is )?(closing|swelling)",
        r"overdose|seizure",
        # Spanish
        r"dolor (en el|de) pecho|infarto|derrame|reaccion alergica|convulsion|sobredosis",
    ),
    "salon": (
        r"allergic reaction|chemical burn|scalp (is )?(burning|blistering)|(eyes?|skin) (is |are )?(burning|swelling)",
        # Spanish
        r"reaccion alergica|quemadura quimica|me arde (el cuero cabelludo|la piel)",
    ),
}

# "It's not an emergency": heard as the caller means it, not as the word it contains.
NOT_AN_EMERGENCY = (
    r"(not|isn'?t|no) (an |a |really an? )?(emergency|urgent)",
    r"no (es|era) (una )?(emergencia|urgencia|urgente)",
    r"nothing urgent|nada urgente",
)


def business_kinds(config: BusinessConfig) -> list[str]:
    kind = config.business_type.lower()
    return [key for key, words in TYPE_WORDS.items() if any(word in kind for word in words)]


def lexicon(config: BusinessConfig) -> tuple[str, ...]:
    if config.emergency_phrases is not None:
        return tuple(rf"{re.escape(plain(p))}\b" for p in config.emergency_phrases)
    return COMMON + tuple(pattern for key in business_kinds(config) for pattern in BY_BUSINESS_TYPE[key])


def emergency_heard(config: BusinessConfig, caller_text: str) -> str | None:
    """The words that make this an emergency for this business, if the caller said any."""
    text = plain(caller_text)
    if any(re.search(rf"\b(?:{p})", text) for p in NOT_AN_EMERGENCY):
        return None
    for pattern in lexicon(config):
        if found := re.search(rf"\b(?:{pattern})", text):
            return found[0].strip()
    return None
