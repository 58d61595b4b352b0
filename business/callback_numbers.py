"""Which numbers a call-back may dial from the business's line: valid ones, in the countries it calls.

A call-back costs the business a call from its own number, so a number nobody can dial, a
premium-rate line, or a country the business never serves is refused before anything is
promised, and again by the activity that dials (a promise made on older rules is checked too).
Google's libphonenumber (the `phonenumbers` package) knows which numbers exist: our own regex
would take any "+1 555 ..." for a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from business.config import BusinessConfig
from domain.vocabulary import CallbackRefusal

# Dialling these costs the business (or earns someone) per minute.
COSTLY_TYPES = frozenset({PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST})


@dataclass(frozen=True)
class DialableNumber:
    e164: str
    country: str  # ISO 3166 code, e.g. "US"


def country_of(number: str | None) -> str | None:
    """The country of an E.164 number; for a number of no country (such as the fictional +1 555 ones),
    the main country of its calling code, so a test line on +1 555 is a US business."""
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if region in phonenumbers.SUPPORTED_REGIONS:
        return str(region)
    main = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return str(main) if main in phonenumbers.SUPPORTED_REGIONS else None


def callback_countries(business: BusinessConfig, line: str | None = None) -> list[str]:
    """The countries call-backs may dial: the business's list, or else the country of its own number."""
    if business.callback_countries:
        return list(business.callback_countries)
    own = country_of(business.phone_number or line)
    return [own] if own else []


def check_number(number: str | None, countries: list[str]) -> DialableNumber | CallbackRefusal:
    """The number in E.164 if a call-back may dial it; otherwise why not.

    A number without its country code is read as a number of the first allowed country, as a
    caller of that country would say it.
    """
    if not number or not number.strip():
        return CallbackRefusal.NO_NUMBER
    try:
        parsed = phonenumbers.parse(number, countries[0] if countries else None)
    except phonenumbers.NumberParseException:
        return CallbackRefusal.INVALID_NUMBER
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) in COSTLY_TYPES:
        return CallbackRefusal.INVALID_NUMBER
    country = phonenumbers.region_code_for_number(parsed)
    if country not in countries:
        return CallbackRefusal.COUNTRY_NOT_ALLOWED
    return DialableNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), str(country))


def refusal_in_words(number: str, countries: list[str]) -> str:
    """Why `check_number` refused `number`, for the person who typed it (the browser demo's "call me")."""
    if not number.strip():
        return "Enter the phone number to call, with its country code (such as +1 212 555 0123)."
    codes = sorted({f"+{phonenumbers.country_code_for_region(c)}" for c in countries})
    allowed = f"country code {' or '.join(codes)}" if codes else "no country code at all"
    try:
        parsed = phonenumbers.parse(number, countries[0] if countries else None)
    except phonenumbers.NumberParseException:
        return f"{number} is not a phone number: write it with its country code, such as +1 212 555 0123."
    if phonenumbers.is_valid_number(parsed):
        kind = phonenumbers.number_type(parsed)
        if kind == PhoneNumberType.PREMIUM_RATE:
            return f"{number} is a premium-rate number: we never call those."
        if kind == PhoneNumberType.SHARED_COST:
            return f"{number} is a shared-cost number: we never call those."
        return f"We only call numbers with {allowed} from here; {number} is not one."
    if phonenumbers.is_possible_short_number(parsed) or len(str(parsed.national_number)) < 7:
        return f"{number} is a short number (like 411 or 911): we only call ordinary phone numbers."
    return f"{number} is not a phone number in use: check the digits and the country code."
