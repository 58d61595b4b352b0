"""A business's own calendar (CalDAV): what links it, and what its events mean for the appointment book.

Pure: the CalDAV I/O is in `activities.calendar_sync`, the decisions in `workflows.calendar_sync`
(with `business.calendar_sync_plan`). The password is never part of the business configuration
(which the admin pages and the browser demo show): it is sealed with SECRET_KEY where it is stored
(`database.calendar_store`) and given back to nobody.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator

from business.booking_rules import BOOKING_HORIZON
from business.config import BusinessConfig

# The calendar is read from a day back (a booking of today) to as far ahead as anyone can book.
WINDOW_BEFORE = timedelta(days=1)
WINDOW_AFTER = BOOKING_HORIZON + timedelta(days=1)


class CalendarLinkForm(BaseModel):
    """What an admin enters to link a business's calendar; the password only when it is new or changed."""

    url: str = Field(
        min_length=8,
        max_length=500,
        description="The calendar's CalDAV URL, e.g. https://caldav.fastmail.com/dav/calendars/user/me@example.com/Default/",
    )
    calendar_name: str | None = Field(
        default=None,
        max_length=200,
        description="With a server's address as the URL (https://caldav.icloud.com/): the calendar's name, "
        "as the calendar app shows it; found through the account (CalDAV discovery)",
    )
    username: str = Field(min_length=1, max_length=200)
    password: SecretStr | None = Field(
        default=None,
        max_length=500,
        description="An app password; omitted or null keeps the stored one. Never sent back by any route",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")) or " " in value:
            raise ValueError("must be the calendar's https:// address (CalDAV)")
        if "@" in urlsplit(value).netloc:
            # A password in the URL would be shown wherever the URL is: it has a field of its own, kept sealed.
            raise ValueError("must not hold a username or password: they have fields of their own")
        return value if value.endswith("/") else f"{value}/"

    @field_validator("calendar_name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class CalendarEntry(BaseModel):
    """An event of the calendar as the sync reads it: its UID and when it keeps the business busy."""

    uid: str
    starts_at: datetime
    ends_at: datetime


def event_uid(business_id: int, appointment_id: int) -> str:
    """The UID of a booking's event: derived from the booking alone, so a retried or repeated write
    overwrites the same event instead of adding a second one."""
    return f"cloudgreet-{business_id}-appointment-{appointment_id}@cloudgreet"


def calendar_window(now: datetime) -> tuple[datetime, datetime]:
    return now - WINDOW_BEFORE, now + WINDOW_AFTER


def busy_slot_units(config: BusinessConfig, busy: list[tuple[datetime, datetime]]) -> set[datetime]:
    """The grid slots (as `booking_rules.slot_units` counts them: from local midnight, every
    booking_slot_minutes) that any busy time touches, in UTC."""
    step = timedelta(minutes=config.booking_slot_minutes)
    zone = ZoneInfo(config.timezone)
    units: set[datetime] = set()
    for starts_at, ends_at in busy:
        local = starts_at.astimezone(zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        unit = midnight + ((local - midnight) // step) * step
        end = ends_at.astimezone(UTC)
        while unit.astimezone(UTC) < end:
            units.add(unit.astimezone(UTC))
            unit += step
    return units
