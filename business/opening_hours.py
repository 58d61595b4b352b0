"""Whether a business is open at a moment, in its own timezone (daylight saving included)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from business.config import WEEKDAYS, BusinessConfig, OpeningHours


def local_time(config: BusinessConfig, at: datetime) -> datetime:
    return at.astimezone(ZoneInfo(config.timezone))


def opening_on(config: BusinessConfig, local: datetime) -> OpeningHours | None:
    if local.date().isoformat() in config.closures:
        return None
    return config.hours.get(WEEKDAYS[local.weekday()])


def is_open(config: BusinessConfig, at: datetime) -> bool:
    local = local_time(config, at)
    opening = opening_on(config, local)
    return opening is not None and opening.opens <= local.time() < opening.closes
