"""Scores `understand` against a corpus of caller utterances, each with the intent and slots it should yield.

The corpus (tests/fixtures/caller_utterances*.jsonl) was written as callers talk to a dentist, a
plumber, a heating firm and a salon, in English and Spanish; these are the businesses it was
written for, and "today" is the Monday it assumes. An utterance counts as understood only if its
intent and all four slots (service, day, time, name) come out as written, none missing and
none extra. `cloudgreet bench intents` prints the score; tests/test_intents.py holds it to a floor.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, time
from pathlib import Path

from pydantic import BaseModel

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service
from receptionist.intents import Understanding, understand

TODAY = date(2026, 12, 7)  # a Monday
SLOTS = ("service", "day", "time", "name")


def _business(name: str, kind: str, services: list[tuple[str, str]]) -> BusinessConfig:
    return BusinessConfig(
        name=name,
        business_type=kind,
        services=[Service(name=s, duration_minutes=60, price=p) for s, p in services],
        hours={day: OpeningHours(opens=time(8), closes=time(17)) for day in WEEKDAYS[:5]},
    )


BUSINESSES = {
    "dental": _business(
        "Bright Smile Dental", "dental office", [("Cleaning", "$90"), ("Checkup", "$120"), ("Whitening", "$250")]
    ),
    "plumber": _business(
        "Rapid Rooter",
        "plumber",
        [("Drain cleaning", "$150"), ("Water heater installation", "$900"), ("Inspection", "$120")],
    ),
    "hvac": _business(
        "Cozy Air",
        "heating and air conditioning",
        [("Furnace repair", "$200"), ("AC tune-up", "$99"), ("Duct cleaning", "$300")],
    ),
    "salon": _business("Shear Joy", "hair salon", [("Haircut", "$45"), ("Color", "$120"), ("Blowout", "$40")]),
}


class CorpusLine(BaseModel):
    business: str
    language: str
    text: str
    intent: str
    slots: dict[str, str] = {}


class Miss(BaseModel):
    line: CorpusLine
    heard: dict[str, str]

    def __str__(self) -> str:
        wanted = {"intent": self.line.intent, **self.line.slots}
        return f"[{self.line.business}/{self.line.language}] {self.line.text!r}: wanted {wanted}, heard {self.heard}"


class Score(BaseModel):
    total: int
    understood: int
    misses: list[Miss]
    intent_right: int
    by_language: dict[str, tuple[int, int]]  # understood, total

    @property
    def accuracy(self) -> float:
        return self.understood / self.total if self.total else 0.0

    def report(self) -> str:
        lines = [
            f"utterances: {self.total}",
            f"understood (intent and slots): {self.understood} = {self.accuracy:.1%}",
            f"intent right: {self.intent_right} = {self.intent_right / max(self.total, 1):.1%}",
        ]
        lines += [f"  {lang}: {ok}/{n} = {ok / n:.1%}" for lang, (ok, n) in sorted(self.by_language.items())]
        return "\n".join(lines)


def read_corpus(path: Path) -> list[CorpusLine]:
    return [CorpusLine.model_validate(json.loads(row)) for row in path.read_text().splitlines() if row.strip()]


def heard(understanding: Understanding) -> dict[str, str]:
    values = {"intent": str(understanding.intent)}
    for slot in SLOTS:
        value = getattr(understanding, slot)
        if value is not None:
            values[slot] = value.isoformat() if isinstance(value, date) else str(value)
    return values


def score(lines: list[CorpusLine]) -> Score:
    misses: list[Miss] = []
    intent_right = 0
    seen: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for line in lines:
        got = heard(understand(BUSINESSES[line.business], line.text, TODAY))
        seen[line.language] += 1
        intent_right += got["intent"] == line.intent
        if got == {"intent": line.intent, **line.slots}:
            right[line.language] += 1
        else:
            misses.append(Miss(line=line, heard=got))
    return Score(
        total=len(lines),
        understood=len(lines) - len(misses),
        misses=misses,
        intent_right=intent_right,
        by_language={lang: (right[lang], n) for lang, n in seen.items()},
    )
