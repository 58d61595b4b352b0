"""The one configuration type of a business, read by the phone brain and the browser path alike."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, Field, field_validator, model_validator

from business.languages import (
    BCP47,
    DEFAULT_LANGUAGE,
    MAX_LANGUAGES,
    canonical_tag,
    default_greeting,
    is_elevenlabs,
    voice_problem,
)
from business.listening import ReplyTiming, TranscriptionSettings

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# Every field has a limit, since a draft configuration comes from anonymous pages too
# (/test-agent-simple): each is far above what a real small business writes, and keeps the
# instructions the model reads, and the page's signed tools token, of a bounded size.
PhoneNumber = Annotated[str, Field(max_length=16)]  # "+" and at most 15 digits (E.164)
IsoDate = Annotated[str, Field(max_length=10)]
EmergencyPhrase = Annotated[str, Field(min_length=1, max_length=60)]
LanguageTag = Annotated[str, Field(min_length=2, max_length=35)]
MAX_SERVICES = 50
MAX_CLOSURES = 366
MAX_ON_CALL_NUMBERS = 10
MAX_EMERGENCY_PHRASES = 30


class Service(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    duration_minutes: int = Field(gt=0, le=8 * 60, strict=True)  # strict: `true` is no number of minutes
    price: str | None = Field(default=None, max_length=40, description="As the caller should hear it, e.g. '$120'")


class VoiceChoice(BaseModel):
    """A Telnyx voice for one of the business's languages (business/languages.py says which are offered)."""

    voice: str = Field(
        min_length=1, max_length=80, description="e.g. female, AWS.Polly.Lupe-Neural, Azure.es-MX-DaliaNeural"
    )
    api_key_ref: str | None = Field(
        default=None,
        max_length=120,
        description="ElevenLabs voices: the Telnyx integration secret that holds the business's ElevenLabs key",
    )

    @model_validator(mode="after")
    def _a_telnyx_voice(self) -> VoiceChoice:
        if problem := voice_problem(self.voice, self.api_key_ref):
            raise ValueError(problem)
        return self

    def voice_settings(self) -> dict[str, str] | None:
        """The speak command's voice_settings (the SDK's ElevenLabsVoiceSettingsParam), if the voice needs any."""
        if is_elevenlabs(self.voice) and self.api_key_ref:
            return {"type": "elevenlabs", "api_key_ref": self.api_key_ref}
        return None


class OpeningHours(BaseModel):
    """One weekday's opening; a weekday missing from the mapping is a closed day."""

    # Local times without an offset ("08:00:00"): RFC 3339's partial-time, not the "time" format
    # that pydantic would declare, which needs an offset.
    opens: time = Field(json_schema_extra={"format": "partial-time"})
    closes: time = Field(json_schema_extra={"format": "partial-time"})

    @field_validator("opens", "closes")
    @classmethod
    def _local_time(cls, value: time) -> time:
        # "08:00Z" or a number of seconds would parse with an offset, and then not compare with the other.
        if value.tzinfo is not None:
            raise ValueError("must be a local time such as 08:00, without an offset")
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> OpeningHours:
        if self.opens >= self.closes:
            raise ValueError(f"opens ({self.opens}) must be before closes ({self.closes})")
        return self


class BusinessConfig(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    business_type: str = Field(default="general", max_length=60)
    phone_number: str | None = Field(default=None, max_length=16, description="The number callers dial, E.164")
    address: str | None = Field(default=None, max_length=300)
    timezone: str = Field(default="America/New_York", max_length=64)
    services: list[Service] = Field(default_factory=list, max_length=MAX_SERVICES)
    hours: dict[str, OpeningHours] = Field(default_factory=dict, max_length=len(WEEKDAYS))
    closures: list[IsoDate] = Field(
        default_factory=list, max_length=MAX_CLOSURES, description="ISO dates the business is closed"
    )
    voice: str = Field(default="female", max_length=40, description="The voice of the first language")
    # The configuration's one language before `languages`: still read (old rows, old calls' histories),
    # no longer written; after validation it is the first of `languages`.
    language: str = Field(default=DEFAULT_LANGUAGE, max_length=35, exclude=True)
    languages: list[LanguageTag] = Field(
        default_factory=list,
        max_length=MAX_LANGUAGES,
        description="BCP-47 tags such as en-US, es-US; the first is the default, callers may speak any",
    )
    voices: dict[LanguageTag, VoiceChoice] = Field(
        default_factory=dict,
        max_length=MAX_LANGUAGES,
        description='A voice per language, e.g. {"es-US": {"voice": "AWS.Polly.Lupe-Neural"}}; '
        "the first language's default is `voice`, the others' the basic female voice",
    )
    greeting: str | None = Field(default=None, max_length=500)
    protect_greeting: bool = Field(
        default=False, description="The caller cannot talk over the greeting: what they say is answered after it"
    )
    after_hours_message: str | None = Field(
        default=None, max_length=500, description="Said instead of the greeting when closed"
    )
    custom_instructions: str = Field(default="", max_length=4000)
    on_call_numbers: list[PhoneNumber] = Field(
        default_factory=list, max_length=MAX_ON_CALL_NUMBERS, description="Tried in order when a call is escalated"
    )
    emergency_phrases: list[EmergencyPhrase] | None = Field(
        default=None,
        max_length=MAX_EMERGENCY_PHRASES,
        description="Words that always escalate; None uses the defaults of the business type",
    )
    booking_slot_minutes: int = Field(
        default=15, ge=5, le=120, strict=True, description="Appointments start on this grid"
    )
    sms_from_number: str | None = Field(default=None, max_length=16, description="Sends booking confirmations when set")
    owner_number: str | None = Field(
        default=None, max_length=16, description="Texted when an urgent call-back is scheduled"
    )
    # Call-backs dial from the business's line: where to, and how often (business/callback_numbers.py).
    callback_countries: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Countries call-backs may dial, as ISO codes such as US, CA; empty: the business's own country",
    )
    # Each may only lower the service's own cap (CALLBACKS_PER_...); 0: no call-backs at all.
    callbacks_per_call: int | None = Field(
        default=None, ge=0, le=1000, strict=True, description="Call-backs one call may be promised"
    )
    callbacks_per_caller_per_day: int | None = Field(
        default=None, ge=0, le=1000, strict=True, description="Call-backs one number may be promised in 24 hours"
    )
    callbacks_per_hour: int | None = Field(
        default=None, ge=0, le=100_000, strict=True, description="Call-backs promised in an hour"
    )

    # Recordings (README "Recordings"): announced in the greeting; asked for first where a caller's
    # region needs everyone's consent (business/recording_consent.py).
    record_calls: bool = Field(default=False, description="Telnyx records both sides of every call")
    recording_retention_days: int = Field(
        default=30, ge=1, le=3650, strict=True, description="Recordings are deleted this many days after the call"
    )
    recording_consent_regions: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="Where every party must agree to a recording, as ISO codes such as US-CA or DE: the caller is asked",
    )

    # Memory of returning callers (README "Returning callers"): a summary of each call, kept this long.
    remember_callers: bool = Field(
        default=False, description="Greet returning callers by name and give both brains their last calls' summaries"
    )
    caller_memory_days: int = Field(
        default=365, ge=1, le=3650, strict=True, description="A call's summary is forgotten this many days after it"
    )

    # Satisfaction (README "Satisfaction surveys"): a text after a finished call asks for a 1-5 rating.
    satisfaction_survey: bool = Field(
        default=False, description="Text callers after a finished call, asking them to rate it from 1 to 5"
    )
    satisfaction_survey_delay_minutes: int = Field(
        default=10, ge=0, le=24 * 60, strict=True, description="How long after the call the text goes out"
    )

    @field_validator("languages")
    @classmethod
    def _language_tags(cls, values: list[str]) -> list[str]:
        # Only their case is made usual: a configuration of one free-text `language` (saved before languages
        # were checked) must read again once written as `languages`, in an old call's history too. What
        # Telnyx cannot speak is refused where a configuration is saved (business/telnyx_catalog.py).
        tags = [canonical_tag(v) if BCP47.match(v.strip()) else v for v in values if v.strip()]
        if len({t.lower() for t in tags}) != len(tags):
            raise ValueError(f"a language is listed twice: {tags}")
        return tags

    @model_validator(mode="after")
    def _first_language_is_the_default(self) -> BusinessConfig:
        if not self.languages:
            self.languages = [self.language]  # a configuration written with one `language`
        self.language = self.languages[0]
        self.voices = {canonical_tag(tag): choice for tag, choice in self.voices.items()}
        for tag, choice in self.voices.items():
            if tag not in self.languages:
                raise ValueError(f"voices: {tag!r} is not one of the languages {self.languages}")
            if problem := voice_problem(choice.voice, choice.api_key_ref, tag):
                raise ValueError(f"voices: {tag}: {problem}")
        return self

    # How the receptionist listens and when it starts its reply (business/listening.py).
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    reply_timing: ReplyTiming = Field(default_factory=ReplyTiming)

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

    @field_validator("callback_countries")
    @classmethod
    def _country_codes(cls, values: list[str]) -> list[str]:
        codes = [v.strip().upper() for v in values if v.strip()]
        unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"not country codes with phone numbers: {unknown}; use ISO codes such as US, CA, GB")
        return codes

    @field_validator("recording_consent_regions")
    @classmethod
    def _region_codes(cls, values: list[str]) -> list[str]:
        codes = [v.strip().upper() for v in values if v.strip()]
        unknown = [c for c in codes if c.split("-", 1)[0] not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"not regions: {unknown}; use ISO codes such as US-CA, CA-BC or DE")
        return codes

    def voice_for(self, language: str | None) -> VoiceChoice:
        """The voice that speaks `language` (None: the default language)."""
        tag = language or self.language
        if chosen := self.voices.get(tag):
            return chosen
        if tag == self.language:
            return VoiceChoice.model_construct(voice=self.voice, api_key_ref=None)  # as configured, unchecked
        return VoiceChoice(voice="male" if self.voice == "male" else "female")

    def greeting_text(self) -> str:
        return self.greeting or default_greeting(self.language, self.name)

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
