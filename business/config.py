"""The one configuration type of a business, read by the phone brain and the browser path alike."""

from __future__ import annotations

import re
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class Service(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    duration_minutes: int = Field(gt=0, le=8 * 60)
    price: str | None = Field(default=None, max_length=40, description="As the caller should hear it, e.g. '$120'")


class OpeningHours(BaseModel):
    """One weekday's opening; a weekday missing from the mapping is a closed day."""

    opens: time
    closes: time

    @model_validator(mode="after")
    def _opens_before_closing(self) -> "OpeningHours":
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


class BusinessConfig(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    business_type: str = Field(default="general", max_length=60)
    phone_number: str | None = Field(default=None, description="The number callers dial, E.164")
    address: str | None = None
    timezone: str = "America/New_York"
    services: list[Service] = Field(default_factory=list)
    hours: dict[str, OpeningHours] = Field(default_factory=dict)
    closures: list[str] = Field(default_factory=list, description="ISO dates the business is closed")
    voice: str = "female"
    language: str = "en-US"
    greeting: str | None = None
    after_hours_message: str | None = Field(default=None, description="Said instead of the greeting when closed")
    custom_instructions: str = ""
    on_call_numbers: list[str] = Field(default_factory=list, description="Tried in order when a call is escalated")
    emergency_phrases: list[str] | None = Field(
        default=None, description="Words that always escalate; None uses the defaults of the business type"
    )
    booking_slot_minutes: int = Field(default=15, ge=5, le=120, description="Appointments start on this grid")
    sms_from_number: str | None = Field(default=None, description="Sends booking confirmations when set")
    owner_number: str | None = Field(default=None, description="Texted when an urgent call-back is scheduled")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("hours")
    @classmethod
    def _weekday_names(cls, hours: dict[str, OpeningHours]) -> dict[str, OpeningHours]:
        unknown = sorted(set(hours) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"unknown weekday(s) {unknown}; use {', '.join(WEEKDAYS)}")
        return hours

    @field_validator("closures")
    @classmethod
    def _iso_dates(cls, values: list[str]) -> list[str]:
        from datetime import date

        for value in values:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"closure {value!r} is not a date such as 2026-12-25") from None
        return values

    @field_validator("phone_number", "sms_from_number", "owner_number")
    @classmethod
    def _e164_number(cls, value: str | None) -> str | None:
        if value is not None and not E164.match(value):
            raise ValueError(f"{value!r} is not an E.164 number such as +15555550100")
        return value

    @field_validator("on_call_numbers")
    @classmethod
    def _e164_numbers(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not E164.match(v)]
        if bad:
            raise ValueError(f"not E.164 numbers: {bad}")
        return values

    def greeting_text(self) -> str:
        return self.greeting or f"Thank you for calling {self.name}. How can I help you today?"

    def find_service(self, name: str) -> Service | None:
        wanted = name.strip().lower()
        for service in self.services:
            if service.name.lower() == wanted:
                return service
        matches = [s for s in self.services if wanted and (wanted in s.name.lower() or s.name.lower() in wanted)]
        return matches[0] if len(matches) == 1 else None


def demo_business() -> BusinessConfig:
    """The business a fresh install answers for, so a first simulated call has someone to talk to."""
    nine_to_five = OpeningHours(opens=time(8), closes=time(17))
    return BusinessConfig(
        name="Bright Smile Dental",
        business_type="dental office",
        phone_number="+15555550100",
        address="12 Main Street, Springfield",
        timezone="America/New_York",
        services=[
            Service(name="Cleaning", duration_minutes=30, price="$90"),
            Service(name="Checkup", duration_minutes=45, price="$120"),
            Service(name="Whitening", duration_minutes=60, price="$250"),
        ],
        hours={day: nine_to_five for day in WEEKDAYS[:5]},
        on_call_numbers=["+15555550199", "+15555550198"],
        custom_instructions="Be warm and brief. Offer the earliest free slot when someone wants to book.",
    )
