"""Who is asked before a recording, and what counts as a yes."""

from __future__ import annotations

import pytest

from business.recording_consent import caller_regions, recording_plan
from domain.vocabulary import RecordingPlan
from receptionist.consent_answers import agrees_to_recording
from tests.businesses import open_every_day


@pytest.mark.parametrize(
    ("number", "regions"),
    [
        ("+14155550142", ["US", "US-CA"]),  # San Francisco, CA
        ("+13105550123", ["US", "US-CA"]),  # the geocoder says only "California"
        ("+12125550142", ["US", "US-NY"]),
        ("+16045550100", ["CA", "CA-BC"]),
        ("+4930123456", ["DE"]),
        ("+15555550142", None),  # 555: no area, so no state
        (None, None),
        ("anonymous", None),
    ],
)
def test_a_callers_regions_come_from_the_number(number, regions) -> None:
    assert caller_regions(number) == regions


def test_only_callers_from_a_consent_region_or_from_nowhere_known_are_asked() -> None:
    asking = open_every_day(record_calls=True, recording_consent_regions=["us-ca", "DE"])
    assert asking.recording_consent_regions == ["US-CA", "DE"]
    assert recording_plan(asking, "+14155550142") == RecordingPlan.ASK_CONSENT
    assert recording_plan(asking, "+4930123456") == RecordingPlan.ASK_CONSENT
    assert recording_plan(asking, "+15555550142") == RecordingPlan.ASK_CONSENT
    assert recording_plan(asking, "+12125550142") == RecordingPlan.ANNOUNCED
    assert recording_plan(open_every_day(record_calls=True), "+14155550142") == RecordingPlan.ANNOUNCED
    assert recording_plan(open_every_day(), "+14155550142") == RecordingPlan.NOT_RECORDED


def test_a_consent_region_must_be_a_country_or_a_subdivision_of_one() -> None:
    with pytest.raises(ValueError, match="not regions"):
        open_every_day(recording_consent_regions=["California"])


@pytest.mark.parametrize(
    ("answer", "agrees"),
    [
        ("Yes, that's fine.", True),
        ("Sure, go ahead", True),
        ("No problem.", True),
        ("Yes (pressed 1 on the keypad)", True),
        ("No, I'd rather not.", False),
        ("No (pressed 2 on the keypad)", False),
        ("Please don't record this", False),
        ("Do you do whitening?", None),
    ],
)
def test_only_a_clear_yes_is_consent(answer, agrees) -> None:
    assert agrees_to_recording(answer) is agrees
