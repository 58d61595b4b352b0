"""Opening hours as a caller meets them: open or closed right now, when the business opens next,
in the business's own timezone, on daylight-saving nights too; and the instructions the LLM gets,
which carry the hours and whether the business is open now. Every instant is given in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from business.config import WEEKDAYS, BusinessConfig, OpeningHours, demo_business
from business.instructions import build_instructions
from business.opening_hours import (
    is_open,
    next_opening,
    spoken_clock,
    spoken_day,
    spoken_hours,
    spoken_moment,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def in_utc(moment: datetime | None) -> datetime | None:
    # A local time in a repeated hour never compares equal to a UTC one (PEP 495); compare instants in UTC.
    return moment.astimezone(UTC) if moment else None


def business(
    timezone_name: str = "America/New_York", days=WEEKDAYS[:5], opens=time(9), closes=time(17), closures=()
) -> BusinessConfig:
    return BusinessConfig(
        name="Test Shop",
        timezone=timezone_name,
        hours={day: OpeningHours(opens=opens, closes=closes) for day in days},
        closures=list(closures),
    )


# --- open or closed at the edges (New York in winter is UTC-5) ------------------------------------


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2026-12-07T13:59:59", False),  # Monday 8:59:59 AM: not yet
        ("2026-12-07T14:00:00", True),  # exactly 9:00 AM: open
        ("2026-12-07T21:59:59", True),  # one second before 5 PM: still open
        ("2026-12-07T22:00:00", False),  # 5:00 PM: closed
        ("2026-12-12T15:00:00", False),  # Saturday 10 AM: closed all day
    ],
)
def test_open_exactly_from_opening_until_closing(instant: str, expected: bool) -> None:
    assert is_open(business(), utc(instant)) is expected


def test_a_closure_date_closes_an_ordinary_weekday() -> None:
    config = business(closures=["2026-12-24"])
    assert not is_open(config, utc("2026-12-24T16:00:00"))  # Thursday 11 AM, closed for the holiday
    assert is_open(config, utc("2026-12-23T16:00:00"))  # the day before is ordinary
    assert is_open(config, utc("2026-12-28T16:00:00"))


def test_the_closure_is_the_local_date_not_the_utc_date() -> None:
    # Thursday 2026-12-24 at 8 PM in Los Angeles is already the 25th in UTC.
    config = business("America/Los_Angeles", days=WEEKDAYS, opens=time(9), closes=time(22), closures=["2026-12-25"])
    assert is_open(config, utc("2026-12-25T04:00:00"))
    assert not is_open(config, utc("2026-12-25T20:00:00"))  # the 25th, noon in Los Angeles


# --- when the business opens next -----------------------------------------------------------------


def test_next_opening_is_now_while_open() -> None:
    now = utc("2026-12-07T15:00:00")
    assert next_opening(business(), now) == now


def test_next_opening_after_closing_is_the_next_morning() -> None:
    assert in_utc(next_opening(business(), utc("2026-12-07T23:00:00"))) == utc("2026-12-08T14:00:00")


def test_next_opening_before_opening_is_this_morning() -> None:
    assert in_utc(next_opening(business(), utc("2026-12-07T12:00:00"))) == utc("2026-12-07T14:00:00")


def test_next_opening_skips_the_weekend() -> None:
    friday_evening = utc("2026-12-11T23:30:00")
    assert in_utc(next_opening(business(), friday_evening)) == utc("2026-12-14T14:00:00")  # Monday 9 AM


def test_next_opening_skips_closures_after_the_weekend() -> None:
    config = business(closures=["2026-12-24", "2026-12-25", "2026-12-28"])
    wednesday_evening = utc("2026-12-23T23:00:00")
    assert in_utc(next_opening(config, wednesday_evening)) == utc("2026-12-29T14:00:00")  # Tuesday 9 AM


def test_a_business_with_no_hours_never_opens() -> None:
    config = BusinessConfig(name="Hours unknown")
    assert not is_open(config, utc("2026-12-07T15:00:00"))
    assert next_opening(config, utc("2026-12-07T15:00:00")) is None


# --- timezones ------------------------------------------------------------------------------------


def test_the_same_instant_is_open_in_berlin_and_closed_in_los_angeles() -> None:
    los_angeles, berlin = business("America/Los_Angeles"), business("Europe/Berlin")
    monday_1630_utc = utc("2026-12-07T16:30:00")  # 8:30 AM in Los Angeles, 5:30 PM in Berlin
    assert not is_open(los_angeles, monday_1630_utc)
    assert not is_open(berlin, monday_1630_utc)
    monday_1000_utc = utc("2026-12-07T10:00:00")  # 2 AM in Los Angeles, 11 AM in Berlin
    assert is_open(berlin, monday_1000_utc)
    assert not is_open(los_angeles, monday_1000_utc)
    monday_2000_utc = utc("2026-12-07T20:00:00")  # noon in Los Angeles, 9 PM in Berlin
    assert is_open(los_angeles, monday_2000_utc)
    assert not is_open(berlin, monday_2000_utc)


def test_next_opening_in_each_timezone() -> None:
    sunday_noon_utc = utc("2026-12-06T12:00:00")
    assert in_utc(next_opening(business("Europe/Berlin"), sunday_noon_utc)) == utc("2026-12-07T08:00:00")  # 9 AM CET
    assert in_utc(next_opening(business("America/Los_Angeles"), sunday_noon_utc)) == utc(
        "2026-12-07T17:00:00"
    )  # 9 AM PST


def test_berlin_summer_time() -> None:
    config = business("Europe/Berlin")
    assert is_open(config, utc("2026-06-01T07:00:00"))  # 9 AM CEST (UTC+2)
    assert not is_open(config, utc("2026-06-01T06:59:59"))
    assert not is_open(config, utc("2026-06-01T15:00:00"))  # 5 PM CEST


# --- daylight saving in New York: 2026-03-08 spring forward, 2026-11-01 fall back -----------------


def test_nine_oclock_is_nine_oclock_on_both_sides_of_spring_forward() -> None:
    config = business(days=WEEKDAYS)  # open every day, 9 to 5
    # Saturday 2026-03-07 is still EST (UTC-5): 9 AM is 14:00 UTC.
    assert not is_open(config, utc("2026-03-07T13:59:59"))
    assert is_open(config, utc("2026-03-07T14:00:00"))
    # Sunday 2026-03-08 is EDT (UTC-4): 9 AM is 13:00 UTC.
    assert not is_open(config, utc("2026-03-08T12:59:59"))
    assert is_open(config, utc("2026-03-08T13:00:00"))
    assert is_open(config, utc("2026-03-08T20:59:59"))
    assert not is_open(config, utc("2026-03-08T21:00:00"))  # 5 PM EDT
    assert in_utc(next_opening(config, utc("2026-03-07T23:00:00"))) == utc("2026-03-08T13:00:00")


def test_nine_oclock_is_nine_oclock_on_both_sides_of_fall_back() -> None:
    config = business(days=WEEKDAYS)
    # Saturday 2026-10-31 is EDT (UTC-4): 9 AM is 13:00 UTC.
    assert is_open(config, utc("2026-10-31T13:00:00"))
    assert not is_open(config, utc("2026-10-31T12:59:59"))
    # Sunday 2026-11-01 is EST (UTC-5): 9 AM is 14:00 UTC; 13:30 UTC is 8:30 AM.
    assert not is_open(config, utc("2026-11-01T13:30:00"))
    assert is_open(config, utc("2026-11-01T14:00:00"))
    assert in_utc(next_opening(config, utc("2026-10-31T22:00:00"))) == utc("2026-11-01T14:00:00")


def test_a_night_business_on_the_spring_forward_night() -> None:
    # Open 1 AM to 4 AM; at 2 AM the clocks jump to 3 AM, so it is open two real hours.
    config = business(days=WEEKDAYS, opens=time(1), closes=time(4))
    assert not is_open(config, utc("2026-03-08T05:59:59"))  # 12:59:59 AM EST
    assert is_open(config, utc("2026-03-08T06:00:00"))  # 1:00 AM EST
    assert is_open(config, utc("2026-03-08T06:59:59"))  # 1:59:59 AM EST
    assert is_open(config, utc("2026-03-08T07:00:00"))  # 3:00 AM EDT, right after the jump
    assert is_open(config, utc("2026-03-08T07:59:59"))  # 3:59:59 AM EDT
    assert not is_open(config, utc("2026-03-08T08:00:00"))  # 4:00 AM EDT: closed
    assert in_utc(next_opening(config, utc("2026-03-07T12:00:00"))) == utc("2026-03-08T06:00:00")
    assert in_utc(next_opening(config, utc("2026-03-08T08:00:00"))) == utc("2026-03-09T05:00:00")  # Monday 1 AM EDT


def test_a_night_business_on_the_fall_back_night() -> None:
    # Open 1 AM to 4 AM; at 2 AM EDT the clocks go back to 1 AM, so it is open four real hours.
    config = business(days=WEEKDAYS, opens=time(1), closes=time(4))
    assert not is_open(config, utc("2026-11-01T04:59:59"))  # 12:59:59 AM EDT
    assert is_open(config, utc("2026-11-01T05:00:00"))  # the first 1:00 AM (EDT)
    assert is_open(config, utc("2026-11-01T06:30:00"))  # the second 1:30 AM (EST)
    assert is_open(config, utc("2026-11-01T08:59:59"))  # 3:59:59 AM EST
    assert not is_open(config, utc("2026-11-01T09:00:00"))  # 4:00 AM EST
    assert in_utc(next_opening(config, utc("2026-10-31T12:00:00"))) == utc("2026-11-01T05:00:00")  # the first 1 AM
    assert in_utc(next_opening(config, utc("2026-11-01T09:00:00"))) == utc("2026-11-02T06:00:00")  # Monday 1 AM EST


# --- how a receptionist says days and times -------------------------------------------------------


def test_spoken_day_today_tomorrow_and_a_date() -> None:
    config = business()
    now = utc("2026-12-05T15:00:00")  # Saturday, December 5, 10 AM
    assert spoken_day(config, utc("2026-12-05T22:00:00"), now) == "today"
    assert spoken_day(config, utc("2026-12-06T15:00:00"), now) == "tomorrow"
    assert spoken_day(config, utc("2026-12-07T15:30:00"), now) == "Monday, December 7"
    assert spoken_moment(config, utc("2026-12-07T15:30:00"), now) == "Monday, December 7 at 10:30 AM"
    assert spoken_moment(config, utc("2026-12-06T14:00:00"), now) == "tomorrow at 9 AM"


def test_spoken_day_uses_the_local_date_not_the_utc_date() -> None:
    config = business()
    now = utc("2026-12-07T03:00:00")  # Sunday, December 6, 10 PM in New York
    assert spoken_day(config, utc("2026-12-07T04:30:00"), now) == "today"  # 11:30 PM Sunday
    assert spoken_moment(config, utc("2026-12-07T15:00:00"), now) == "tomorrow at 10 AM"


def test_spoken_time_on_the_other_side_of_a_daylight_saving_change() -> None:
    config = business()
    now = utc("2026-03-07T15:00:00")
    assert spoken_moment(config, utc("2026-03-08T13:00:00"), now) == "tomorrow at 9 AM"  # EDT


@pytest.mark.parametrize(
    ("clock", "said"),
    [(time(9), "9 AM"), (time(10, 30), "10:30 AM"), (time(12), "12 PM"), (time(0), "12 AM"), (time(17, 45), "5:45 PM")],
)
def test_spoken_clock(clock: time, said: str) -> None:
    assert spoken_clock(clock) == said


def test_spoken_hours_groups_days_with_equal_hours() -> None:
    assert spoken_hours(demo_business()) == "Monday to Friday 8 AM to 5 PM; closed Saturday and Sunday"


def test_spoken_hours_keeps_different_days_apart() -> None:
    nine_to_five = OpeningHours(opens=time(9), closes=time(17))
    config = BusinessConfig(
        name="Mixed",
        hours={
            "monday": nine_to_five,
            "tuesday": nine_to_five,
            "wednesday": nine_to_five,
            "thursday": OpeningHours(opens=time(9), closes=time(20)),
            "friday": nine_to_five,
            "saturday": OpeningHours(opens=time(10), closes=time(14, 30)),
        },
    )
    assert spoken_hours(config) == (
        "Monday to Wednesday 9 AM to 5 PM; Thursday 9 AM to 8 PM; Friday 9 AM to 5 PM; "
        "Saturday 10 AM to 2:30 PM; closed Sunday"
    )


def test_spoken_hours_of_a_business_open_every_day() -> None:
    assert spoken_hours(business(days=WEEKDAYS)) == "Monday to Sunday 9 AM to 5 PM"


# --- what the LLM is told: the instructions built from the configuration --------------------------


def instructions_config() -> BusinessConfig:
    return demo_business().model_copy(
        update={"closures": ["2026-12-24", "2026-12-25"], "custom_instructions": "  Always mention free parking.  "}
    )


def test_instructions_describe_the_business() -> None:
    text = build_instructions(instructions_config())
    assert "You are the receptionist of Bright Smile Dental, a dental office." in text
    assert "Address: 12 Main Street, Springfield." in text
    for line in ("- Cleaning: 30 minutes, $90", "- Checkup: 45 minutes, $120", "- Whitening: 60 minutes, $250"):
        assert line in text
    assert "Opening hours (America/New_York):" in text
    assert "- Monday: 08:00 to 17:00" in text and "- Friday: 08:00 to 17:00" in text
    assert "- Saturday: closed" in text and "- Sunday: closed" in text
    assert "Closed on: 2026-12-24, 2026-12-25." in text
    assert "Instructions from the business owner:\nAlways mention free parking." in text
    assert "It is now" not in text, "without `now` the instructions claim no time"


def test_instructions_say_the_local_time_and_that_the_business_is_open() -> None:
    text = build_instructions(instructions_config(), utc("2026-12-07T15:00:00"))
    assert "It is now Monday, December 7, 2026, 10:00 in America/New_York. The business is open." in text
    assert "closed now" not in text and "take a message" not in text


def test_instructions_after_hours_say_when_it_opens_and_what_to_do() -> None:
    text = build_instructions(instructions_config(), utc("2026-12-12T15:00:00"))  # Saturday 10 AM
    assert "It is now Saturday, December 12, 2026, 10:00 in America/New_York. The business is closed now." in text
    assert "It opens again Monday, December 14 at 8 AM." in text
    assert "offer to take a message and a call-back at the next opening" in text
    assert "a real emergency is still put through to a person" in text


def test_instructions_on_a_closure_day_say_closed() -> None:
    text = build_instructions(instructions_config(), utc("2026-12-24T16:00:00"))  # Thursday 11 AM, holiday
    assert "The business is closed now. It opens again Monday, December 28 at 8 AM." in text


def test_instructions_use_the_local_date_near_midnight() -> None:
    text = build_instructions(instructions_config(), utc("2026-12-08T03:30:00"))  # Monday 10:30 PM in New York
    assert "It is now Monday, December 7, 2026, 22:30 in America/New_York." in text
    assert "It opens again tomorrow at 8 AM." in text


def test_instructions_without_hours_or_services() -> None:
    text = build_instructions(BusinessConfig(name="Bare", business_type="plumber"), utc("2026-12-07T15:00:00"))
    assert "Opening hours are not set; offer to take a message." in text
    assert "No services are listed." in text
    assert "Closed on" not in text and "Instructions from the business owner" not in text
    assert "The business is closed now." in text and "It opens again" not in text
