"""Whether a call is recorded, and whether the caller must be asked first, from the caller's number.

Some states and countries need every party's consent to a recording (California, Germany, ...);
a business lists them as ISO codes (`recording_consent_regions`: "US-CA", "DE"). A caller's
country is the number's region (phonenumbers); for US and Canadian numbers the state or
province is the area code's, which phonenumbers' geocoder names ("California", "San Francisco, CA").
A caller whose region cannot be told is asked whenever the business lists any region: asking
too often is the safe mistake.
"""

from __future__ import annotations

import phonenumbers

from business.config import BusinessConfig
from domain.vocabulary import RecordingPlan

# The geocoder names a state or province in full when it knows no city; with a city it adds the code.
SUBDIVISIONS = {
    "US": {
        "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
        "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
        "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
        "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
        "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
        "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
        "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
        "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
        "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
        "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
        "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    },
    "CA": {
        "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
        "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON", "Prince Edward Island": "PE",
        "Quebec": "QC", "Saskatchewan": "SK", "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
    },
}  # fmt: skip


def caller_regions(number: str | None) -> list[str] | None:
    """The ISO codes a number is from, country first ("US", "US-CA"); None when they cannot be told."""
    try:
        parsed = phonenumbers.parse(number or "")
    except phonenumbers.NumberParseException:
        return None
    country = phonenumbers.region_code_for_number(parsed)
    if not country or country == phonenumbers.UNKNOWN_REGION:
        return None
    regions = [country]
    if country in SUBDIVISIONS:
        # Imported here: the geocoder's data costs ~0.3 s of CPU, which only a recorded call's first
        # consent question should pay, not every process that imports this module.
        from phonenumbers import geocoder

        place = geocoder.description_for_number(parsed, "en")
        _, _, code = place.rpartition(", ")
        code = code if code in SUBDIVISIONS[country].values() else SUBDIVISIONS[country].get(place, "")
        if not code:
            return None  # a US or Canadian number without a known area: its state may need consent
        regions.append(f"{country}-{code}")
    return regions


def recording_plan(business: BusinessConfig, caller_number: str | None) -> RecordingPlan:
    if not business.record_calls:
        return RecordingPlan.NOT_RECORDED
    consent_regions = set(business.recording_consent_regions)
    if not consent_regions:
        return RecordingPlan.ANNOUNCED
    regions = caller_regions(caller_number)
    if regions is None or consent_regions.intersection(regions):
        return RecordingPlan.ASK_CONSENT
    return RecordingPlan.ANNOUNCED
