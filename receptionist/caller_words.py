"""Days, times and names as callers say them, in English and Spanish, read into slot values.

Transcripts come with or without accents ("sábado", "sabado") and with numbers as digits or
words ("at 3", "at three", "a las tres"): everything is matched on `plain` text, lowercased and
stripped of accents, so one pattern covers each way of saying it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from business.config import WEEKDAYS

WEEKDAYS_ES = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
HOUR_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12,
    "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}  # fmt: skip
MINUTE_WORDS = {
    "fifteen": 15, "thirty": 30, "forty five": 45, "forty-five": 45, "forty": 40, "oh five": 5, "ten": 10, "twenty": 20,
    "quince": 15, "treinta": 30, "cuarenta y cinco": 45, "veinte": 20, "diez": 10, "cuarto": 15, "media": 30,
}  # fmt: skip
_HOUR = r"(\d{1,2}|" + "|".join(sorted(HOUR_WORDS, key=len, reverse=True)) + r")"
_MINUTE = r"(\d{2}|" + "|".join(sorted(MINUTE_WORDS, key=len, reverse=True)) + r")"


def plain(text: str) -> str:
    """Lowercase, without accents, curly apostrophes made straight: what every lexicon matches against."""
    text = text.replace("’", "'").replace("‘", "'").lower()
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def mentions(text: str, patterns: tuple[str, ...]) -> str | None:
    """The first pattern (a regex, matched at word starts) found in plain `text`."""
    for pattern in patterns:
        if re.search(rf"\b(?:{pattern})", text):
            return pattern
    return None


def day_in(text: str, today: date) -> date | None:
    """The day a caller names: 'tomorrow', 'on Friday', 'December 15th', 'el martes', 'el 3 de diciembre'."""
    text = plain(text)
    if match := re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    if re.search(r"\b(today|hoy)\b", text):
        return today
    if re.search(
        r"\b(as soon as (possible|you can)|asap|right away|lo (antes|mas pronto) posible|cuanto antes)\b", text
    ):
        return today  # the soonest: today's free times are checked, and the caller hears if there are none
    if re.search(r"\b(day after tomorrow|pasado manana)\b", text):
        return today + timedelta(days=2)
    # "mañana" is tomorrow, but "por la mañana" / "de la mañana" is the morning.
    if re.search(r"\btomorrow\b", text) or re.search(r"(?<!la )\bmanana\b", text):
        return today + timedelta(days=1)
    for number, (month, month_es) in enumerate(zip(MONTHS, MONTHS_ES, strict=True), start=1):
        match = (
            re.search(rf"\b(?:{month}|{month[:3]})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", text)
            or re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{month}|{month[:3]})\b", text)
            or re.search(rf"\b(\d{{1,2}}) de {month_es}\b", text)
        )
        if match:
            try:
                candidate = date(today.year, number, int(match[1]))
            except ValueError:
                return None
            return candidate if candidate >= today else candidate.replace(year=today.year + 1)
    for number, (weekday, weekday_es) in enumerate(zip(WEEKDAYS, WEEKDAYS_ES, strict=True)):
        if re.search(rf"\b({weekday}|{weekday_es})s?\b", text):
            ahead = (number - today.weekday()) % 7 or 7
            return today + timedelta(days=ahead)
    if match := re.search(r"\b(?:the|el)\s+(\d{1,2})(?:st|nd|rd|th)\b", text):
        try:
            candidate = today.replace(day=int(match[1]))
        except ValueError:
            return None
        if candidate < today:
            candidate = (candidate.replace(day=1) + timedelta(days=32)).replace(day=int(match[1]))
        return candidate
    return None


def clock_in(text: str) -> tuple[int, int] | None:
    """The time of day a caller names: '2 pm', 'at 10:30', 'half past ten', 'a las diez y media'."""
    text = plain(text).replace("a.m.", "am").replace("p.m.", "pm").replace("a. m.", "am").replace("p. m.", "pm")
    if re.search(r"\b(noon|midday|mediodia)\b", text):
        return (12, 0)
    hour = minute = None
    half = ""
    if match := re.search(rf"\bhalf past {_HOUR}\b", text):
        hour, minute = _hour(match[1]), 30
    elif match := re.search(rf"\bquarter (past|after|to|til) {_HOUR}\b", text):
        hour = _hour(match[2])
        hour, minute = (hour, 15) if match[1] in ("past", "after") else (hour - 1, 45)
    elif match := re.search(
        rf"\b(?:a las|a la) {_HOUR}(?: (?:y|con) {_MINUTE}| menos (cuarto|diez|veinte|cinco))?\b", text
    ):
        hour = _hour(match[1])
        if match[3]:
            hour, minute = hour - 1, 60 - {"cuarto": 15, "diez": 10, "veinte": 20, "cinco": 5}[match[3]]
        else:
            minute = _minute(match[2]) if match[2] else 0
    elif match := re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", text):
        hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
    elif match := re.search(r"\b(\d{1,2}):(\d{2})\b", text):
        hour, minute = int(match[1]), int(match[2])
    elif match := re.search(
        rf"\b{_HOUR}(?: o'? ?clock| {_MINUTE})?\s*(am|pm|in the morning|in the afternoon|in the evening)\b", text
    ):
        hour, minute, half = _hour(match[1]), _minute(match[2]) if match[2] else 0, match[3]
    elif match := re.search(rf"^(?:um,? |uh,? )?{_HOUR}[ -](thirty|fifteen|forty[ -]five|forty|twenty|ten)\b", text):
        hour, minute = _hour(match[1]), _minute(match[2].replace("-", " "))
    elif match := re.search(rf"\b{_HOUR} o'? ?clock\b", text):
        hour, minute = _hour(match[1]), 0
    elif (
        match := re.search(
            rf"\b(?:at|around|about|by|to) {_HOUR}(?:[ -]{_MINUTE})?\b(?! ?(?:minutes|mins|hours|days))", text
        )
    ) or (match := re.search(rf"\b(?:las) {_HOUR}(?: y {_MINUTE})?\b", text)):
        hour, minute = _hour(match[1]), _minute(match[2]) if match[2] else 0
    if hour is None or minute is None:
        return None
    evening = half in ("pm", "in the afternoon", "in the evening") or re.search(
        r"\b(de la tarde|de la noche|por la tarde|this afternoon|tonight)\b", text
    )
    morning = half in ("am", "in the morning") or re.search(r"\b(de la manana|por la manana|this morning)\b", text)
    if evening and hour < 12:
        hour += 12
    elif morning and hour == 12:
        hour = 0
    elif not morning and not evening and 0 < hour < 7:
        hour += 12  # "at 3" on a business line means the afternoon
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return (hour, minute)


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else HOUR_WORDS[word]


def _minute(word: str) -> int:
    return int(word) if word.isdigit() else MINUTE_WORDS[word]


def name_in(line: str) -> str | None:
    """A name the caller gives unasked: 'my name is Tom', 'me llamo Ana', 'mi nombre es Luis'."""
    match = re.search(
        r"\b(?i:my name is|my name's|name is|under the name|the name is|me llamo|mi nombre es)\s+"
        r"([^\W\d_][\w'-]*(?:\s+[A-ZÁÉÍÓÚÑ][\w'-]+)?)",
        line,
    )
    match = match or re.search(r"\b(?i:this is|soy)\s+([A-Z][\w'-]+)", line)
    match = match or re.fullmatch(r"\s*(?i:it'?s|it is)\s+([A-Z][\w'-]+)[.!]?\s*", line.replace("’", "'"))
    if match and plain(match[1]) in (*WEEKDAYS, *WEEKDAYS_ES, *MONTHS, *MONTHS_ES, "me", "fine", "ok", "okay"):
        return None
    if not match:
        return None
    words = [w for w in match[1].split() if w.lower() not in ("and", "y", "please", "por")]
    return " ".join(word.capitalize() for word in words) or None


SPANISH_DIGITS = {"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
                  "seis": "6", "siete": "7", "ocho": "8", "nueve": "9"}  # fmt: skip


def with_spanish_digits(text: str) -> str:
    """'uno dos tres' -> '1 2 3': a code read out in Spanish, for the digit reader that knows English words."""
    return re.sub(r"\b(" + "|".join(SPANISH_DIGITS) + r")\b", lambda m: SPANISH_DIGITS[m[1]], plain(text))
