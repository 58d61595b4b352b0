"""Days, times and opening hours as a Spanish speaker says them.

"el martes 3 de diciembre a las diez y media de la mañana", "mañana a la una de la tarde",
"de lunes a viernes, de ocho de la mañana a cinco de la tarde": numbers of the clock are words,
the part of the day says whether it is morning or evening (no "a. m."), and dates are
weekday, day, "de" month.
"""

from __future__ import annotations

from datetime import date, datetime, time

from business.config import WEEKDAYS, BusinessConfig
from business.opening_hours import local_time

WEEKDAYS_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
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
UNITS = (
    "cero", "una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once", "doce",
    "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve", "veinte", "veintiuno",
    "veintidós", "veintitrés", "veinticuatro", "veinticinco", "veintiséis", "veintisiete", "veintiocho", "veintinueve",
)  # fmt: skip
TENS = {30: "treinta", 40: "cuarenta", 50: "cincuenta"}


def number(n: int) -> str:
    if n < 30:
        return UNITS[n]
    tens, unit = divmod(n, 10)
    return TENS[tens * 10] + (f" y {UNITS[unit] if unit != 1 else 'uno'}" if unit else "")


def clock(moment: time) -> str:
    """'la una de la tarde', 'las diez y media de la mañana', 'las doce del mediodía'."""
    hour, minute = moment.hour, moment.minute
    twelve = hour % 12 or 12
    if minute == 30:
        after = " y media"
    elif minute == 15:
        after = " y cuarto"
    elif minute:
        after = f" y {number(minute)}"
    else:
        after = ""
    if hour == 12 and minute == 0:
        part = "del mediodía"
    elif hour < 6:
        part = "de la madrugada"
    elif hour < 12:
        part = "de la mañana"
    elif hour < 20:
        part = "de la tarde"
    else:
        part = "de la noche"
    article = "la" if twelve == 1 else "las"
    return f"{article} {number(twelve)}{after} {part}"


def day(on: date, today: date) -> str:
    """'hoy', 'mañana', or 'el martes 3 de diciembre'."""
    if on == today:
        return "hoy"
    if (on - today).days == 1:
        return "mañana"
    return f"el {WEEKDAYS_ES[on.weekday()]} {on.day} de {MONTHS_ES[on.month - 1]}"


def moment(config: BusinessConfig, at: datetime, now: datetime) -> str:
    """'el martes 3 de diciembre a las diez y media de la mañana'."""
    local = local_time(config, at)
    return f"{day(local.date(), local_time(config, now).date())} a {clock(local.time())}"


def hours(config: BusinessConfig) -> str:
    """'de lunes a viernes, de ocho de la mañana a cinco de la tarde; cerrado sábado y domingo'."""
    groups: list[tuple[list[str], str]] = []
    for english, spanish in zip(WEEKDAYS, WEEKDAYS_ES, strict=True):
        opening = config.hours.get(english)
        when = f"de {_bare(opening.opens)} a {_bare(opening.closes)}" if opening else "cerrado"
        if groups and groups[-1][1] == when:
            groups[-1][0].append(spanish)
        else:
            groups.append(([spanish], when))
    parts = []
    for days, when in groups:
        if len(days) == 1:
            named = f"el {days[0]}" if when != "cerrado" else days[0]
        elif len(days) == 2:
            named = f"{days[0]} y {days[1]}"
        else:
            named = f"de {days[0]} a {days[-1]}"
        parts.append(f"cerrado {named}" if when == "cerrado" else f"{named}, {when}")
    return "; ".join(parts)


def _bare(moment: time) -> str:
    """'ocho de la mañana': after "de" and "a" the article of the hour is dropped."""
    return clock(moment).split(" ", 1)[1]
