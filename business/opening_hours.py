"""Whether a business is open at a moment, and when it next opens, in its own timezone.

All arithmetic is done on local wall-clock times and converted with zoneinfo, so a daylight
saving change moves the UTC instant of "9:00" but never the 9:00 itself.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from business.config import WEEKDAYS, BusinessConfig, OpeningHours


def local_time(config: BusinessConfig, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(config.timezone))


def opening_on_day(config: BusinessConfig, day: date) -> OpeningHours | None:
    if day.isoformat() in config.closures:
        return None
    return config.hours.get(WEEKDAYS[day.weekday()])


def opening_on(config: BusinessConfig, local: datetime) -> OpeningHours | None:
    return opening_on_day(config, local.date())


def at_local(config: BusinessConfig, day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=ZoneInfo(config.timezone))


def is_open(config: BusinessConfig, at: datetime) -> bool:
    local = local_time(config, at)
    opening = opening_on(config, local)
    return opening is not None and opening.opens <= local.time() < opening.closes


def next_opening(config: BusinessConfig, after: datetime, within_days: int = 60) -> datetime | None:
    """The next moment the business opens after `after` (now, if it is open now)."""
    if is_open(config, after):
        return after
    local = local_time(config, after)
    for offset in range(within_days + 1):
        day = local.date() + timedelta(days=offset)
        opening = opening_on_day(config, day)
        if opening is None:
            continue
        opens = at_local(config, day, opening.opens)
        if opens > after:
            return opens
    return None


def spoken_day(config: BusinessConfig, moment: datetime, now: datetime) -> str:
    """'today', 'tomorrow' or 'Monday, December 7', as a receptionist would say it."""
    local, today = local_time(config, moment).date(), local_time(config, now).date()
    if local == today:
        return "today"
    if local == today + timedelta(days=1):
        return "tomorrow"
    return f"{local:%A}, {local:%B} {local.day}"


def spoken_time(config: BusinessConfig, moment: datetime) -> str:
    return spoken_clock(local_time(config, moment).time())


def spoken_moment(config: BusinessConfig, moment: datetime, now: datetime) -> str:
    return f"{spoken_day(config, moment, now)} at {spoken_time(config, moment)}"


def spoken_hours(config: BusinessConfig) -> str:
    """'Monday to Friday 8 AM to 5 PM; closed Saturday and Sunday': days with equal hours grouped."""
    groups: list[tuple[list[str], str]] = []
    for day in WEEKDAYS:
        opening = config.hours.get(day)
        when = f"{spoken_clock(opening.opens)} to {spoken_clock(opening.closes)}" if opening else "closed"
        if groups and groups[-1][1] == when:
            groups[-1][0].append(day.capitalize())
        else:
            groups.append(([day.capitalize()], when))
    parts = []
    for days, when in groups:
        named = (
            days[0]
            if len(days) == 1
            else (f"{days[0]} and {days[1]}" if len(days) == 2 else f"{days[0]} to {days[-1]}")
        )
        parts.append(f"closed {named}" if when == "closed" else f"{named} {when}")
    return "; ".join(parts)


def spoken_clock(moment: time) -> str:
    return f"{moment:%-I:%M %p}".replace(":00 ", " ")
