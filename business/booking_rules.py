"""The rules an appointment must satisfy, checked on whatever the LLM (or the caller) proposed.

Pure functions of the configuration, the proposal and "now": the database only decides
which of two valid bookings of one slot wins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from business.config import BusinessConfig, Service
from business.opening_hours import at_local, local_time, opening_on_day, spoken_clock, spoken_moment

BOOKING_HORIZON = timedelta(days=180)
SEARCH_DAYS = 21


class SlotCheck(BaseModel):
    ok: bool
    reason: str | None = None
    service: Service | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def parse_local_start(config: BusinessConfig, text: str) -> datetime:
    """'2026-12-01T09:30' (business local time; an explicit offset is honoured) as an aware datetime."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except (ValueError, AttributeError):
        raise ValueError(f"{text!r} is not a date and time such as 2026-12-01T09:30") from None
    zone = ZoneInfo(config.timezone)
    if parsed.tzinfo is None:
        local = parsed.replace(tzinfo=zone)
        # A wall-clock time skipped by a daylight-saving jump does not survive a round trip.
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
            raise ValueError(f"{text} does not exist in {config.timezone} (the clocks jump that night)")
        return local
    return parsed.astimezone(zone)


def check_slot(config: BusinessConfig, service_name: str, start_text: str, now: datetime) -> SlotCheck:
    service = config.find_service(service_name or "")
    if service is None:
        offered = ", ".join(s.name for s in config.services) or "nothing bookable"
        return SlotCheck(ok=False, reason=f"We don't offer {service_name!r}. We offer: {offered}.")
    try:
        starts_at = parse_local_start(config, start_text)
    except ValueError as error:
        return SlotCheck(ok=False, reason=str(error), service=service)
    ends_at = _end_of(config, service, starts_at)
    refusal = _refusal(config, service, starts_at, ends_at, now)
    if refusal:
        return SlotCheck(ok=False, reason=refusal, service=service, starts_at=starts_at)
    return SlotCheck(ok=True, service=service, starts_at=starts_at, ends_at=ends_at)


def _end_of(config: BusinessConfig, service: Service, starts_at: datetime) -> datetime:
    """The end after the service's real duration: a daylight-saving jump in between does not stretch or shrink it."""
    end = starts_at.astimezone(UTC) + timedelta(minutes=service.duration_minutes)
    return end.astimezone(ZoneInfo(config.timezone))


def _refusal(
    config: BusinessConfig, service: Service, starts_at: datetime, ends_at: datetime, now: datetime
) -> str | None:
    if starts_at <= now:
        return "That time has already passed."
    if starts_at - now > BOOKING_HORIZON:
        return "We only book up to six months ahead."
    opening = opening_on_day(config, starts_at.date())
    if opening is None:
        return f"We're closed on {starts_at:%A, %B} {starts_at.day}."
    closes = at_local(config, starts_at.date(), opening.closes)
    # Instants are compared in UTC: two local times in one zone compare by wall clock, fold and jumps ignored.
    closes_utc = closes.astimezone(UTC)
    if starts_at.time() < opening.opens or starts_at.astimezone(UTC) >= closes_utc:
        return f"That's outside our opening hours that day ({spoken_clock(opening.opens)} to {spoken_clock(opening.closes)})."
    if ends_at.astimezone(UTC) > closes_utc:
        return (
            f"A {service.name.lower()} takes {service.duration_minutes} minutes, "
            f"which would run past closing at {spoken_clock(opening.closes)}."
        )
    minutes = starts_at.hour * 60 + starts_at.minute
    if minutes % config.booking_slot_minutes or starts_at.second:
        return f"Appointments start every {config.booking_slot_minutes} minutes."
    return None


def slot_units(config: BusinessConfig, starts_at: datetime, ends_at: datetime) -> list[datetime]:
    """The grid slots an appointment occupies, in UTC: the rows the database keeps unique."""
    step = timedelta(minutes=config.booking_slot_minutes)
    units, moment = [], starts_at.astimezone(UTC)
    end = ends_at.astimezone(UTC)
    while moment < end:
        units.append(moment)
        moment += step
    return units


def free_starts(
    config: BusinessConfig,
    service: Service,
    now: datetime,
    taken: set[datetime],
    *,
    near: datetime | None = None,
    on_day: datetime | None = None,
    count: int = 3,
) -> list[datetime]:
    """The free start times nearest `near` (or the earliest ones), chronologically ordered."""
    first_day = local_time(config, on_day or now).date()
    days = 1 if on_day else SEARCH_DAYS
    found: list[datetime] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        opening = opening_on_day(config, day)
        if opening is None:
            continue
        # Wall-clock steps: a time skipped by a daylight-saving jump is left out, a repeated one offered once
        # (its first occurrence, as parse_local_start reads it), and each start passes the rules check_slot applies.
        step = timedelta(minutes=config.booking_slot_minutes)
        since_midnight = timedelta(hours=opening.opens.hour, minutes=opening.opens.minute, seconds=opening.opens.second)
        clock = datetime.combine(day, datetime.min.time()) + -(-since_midnight // step) * step  # first grid time open
        while clock.time() < opening.closes and clock.date() == day:
            start = clock.replace(tzinfo=ZoneInfo(config.timezone))
            clock += step
            if start.astimezone(UTC).astimezone(start.tzinfo).replace(tzinfo=None) != start.replace(tzinfo=None):
                continue
            end = _end_of(config, service, start)
            if _refusal(config, service, start, end, now) is None and not taken.intersection(
                slot_units(config, start, end)
            ):
                found.append(start)
        if not near and len(found) >= count:
            break
    if near:
        found.sort(key=lambda moment: abs(moment.astimezone(UTC) - near.astimezone(UTC)))
    return sorted(found[:count])


def describe_starts(config: BusinessConfig, starts: list[datetime], now: datetime) -> str:
    return "; ".join(f"{spoken_moment(config, s, now)} ({local_time(config, s):%Y-%m-%dT%H:%M})" for s in starts)
