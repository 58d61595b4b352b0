"""The rules every proposed appointment is checked against, whatever the LLM or the caller said.

A refusal must say why in words the receptionist can pass on; an accepted slot comes back as an
aware local start and end. `now` is always given explicitly.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from business.booking_rules import check_slot, describe_starts, free_starts, parse_local_start, slot_units
from business.config import WEEKDAYS, BusinessConfig, OpeningHours, Service

NEW_YORK = ZoneInfo("America/New_York")
# Monday, December 7, 2026, 10:00 AM in New York (EST, UTC-5).
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def in_utc(moments: list[datetime]) -> list[datetime]:
    return [m.astimezone(UTC) for m in moments]


def dental() -> BusinessConfig:
    weekday = OpeningHours(opens=time(9), closes=time(17))
    return BusinessConfig(
        name="Bright Smile Dental",
        business_type="dental office",
        timezone="America/New_York",
        services=[
            Service(name="Cleaning", duration_minutes=30, price="$90"),
            Service(name="Checkup", duration_minutes=45, price="$120"),
            Service(name="Whitening", duration_minutes=60, price="$250"),
        ],
        hours={**{day: weekday for day in WEEKDAYS[:5]}, "saturday": OpeningHours(opens=time(10), closes=time(14))},
        closures=["2026-12-24"],
    )


def night_shop() -> BusinessConfig:
    """Open 1 AM to 4 AM every night: the hours the daylight-saving changes happen in."""
    return BusinessConfig(
        name="Night Owl Repairs",
        timezone="America/New_York",
        services=[Service(name="Cleaning", duration_minutes=30), Service(name="Overhaul", duration_minutes=120)],
        hours={day: OpeningHours(opens=time(1), closes=time(4)) for day in WEEKDAYS},
    )


# --- refusals, each with a reason the caller can hear ---------------------------------------------


def test_unknown_service_lists_the_real_ones() -> None:
    check = check_slot(dental(), "massage", "2026-12-08T10:00", NOW)
    assert not check.ok
    assert "massage" in check.reason
    for offered in ("Cleaning", "Checkup", "Whitening"):
        assert offered in check.reason


def test_no_service_at_all_is_refused() -> None:
    check = check_slot(dental(), "", "2026-12-08T10:00", NOW)
    assert not check.ok and "Cleaning" in check.reason


def test_a_business_without_services_books_nothing() -> None:
    config = dental().model_copy(update={"services": []})
    check = check_slot(config, "Cleaning", "2026-12-08T10:00", NOW)
    assert not check.ok and "nothing bookable" in check.reason


@pytest.mark.parametrize("nonsense", ["next blursday", "2026-02-30T10:00", "", "   ", "10:30", "2026-12-08T25:00"])
def test_nonsense_dates_are_refused_with_the_expected_format(nonsense: str) -> None:
    check = check_slot(dental(), "Cleaning", nonsense, NOW)
    assert not check.ok
    assert "such as 2026-12-01T09:30" in check.reason
    assert check.starts_at is None


def test_a_past_time_is_refused() -> None:
    for past in ("2026-12-07T09:30", "2026-12-07T10:00", "2026-12-01T10:00"):  # 10:00 is now
        check = check_slot(dental(), "Cleaning", past, NOW)
        assert not check.ok and check.reason == "That time has already passed.", past
    assert check_slot(dental(), "Cleaning", "2026-12-07T10:15", NOW).ok


def test_beyond_the_booking_horizon_is_refused() -> None:
    check = check_slot(dental(), "Cleaning", "2027-07-06T10:00", NOW)
    assert not check.ok and "six months" in check.reason
    assert check_slot(dental(), "Cleaning", "2027-05-05T10:00", NOW).ok


def test_a_closed_weekday_is_refused() -> None:
    check = check_slot(dental(), "Cleaning", "2026-12-13T11:00", NOW)
    assert not check.ok
    assert check.reason == "We're closed on Sunday, December 13."


def test_a_closure_date_is_refused() -> None:
    check = check_slot(dental(), "Cleaning", "2026-12-24T11:00", NOW)
    assert not check.ok
    assert check.reason == "We're closed on Thursday, December 24."


@pytest.mark.parametrize("start", ["2026-12-08T08:45", "2026-12-08T17:00", "2026-12-08T19:30", "2026-12-12T09:30"])
def test_outside_the_opening_hours_of_that_day_is_refused(start: str) -> None:
    check = check_slot(dental(), "Cleaning", start, NOW)
    assert not check.ok
    assert "outside our opening hours" in check.reason
    expected = "(10 AM to 2 PM)" if start.startswith("2026-12-12") else "(9 AM to 5 PM)"
    assert expected in check.reason


def test_a_service_that_would_run_past_closing_says_how_long_it_takes() -> None:
    check = check_slot(dental(), "Whitening", "2026-12-08T16:30", NOW)
    assert not check.ok
    assert check.reason == "A whitening takes 60 minutes, which would run past closing at 5 PM."
    fits = check_slot(dental(), "Whitening", "2026-12-08T16:00", NOW)  # ends exactly at closing
    assert fits.ok


@pytest.mark.parametrize("start", ["2026-12-08T10:07", "2026-12-08T10:20", "2026-12-08T10:15:30"])
def test_a_start_off_the_booking_grid_is_refused(start: str) -> None:
    check = check_slot(dental(), "Cleaning", start, NOW)
    assert not check.ok and check.reason == "Appointments start every 15 minutes."


def test_a_local_time_skipped_by_spring_forward_is_refused() -> None:
    before = datetime(2026, 3, 1, 12, tzinfo=UTC)
    check = check_slot(night_shop(), "Cleaning", "2026-03-08T02:30", before)
    assert not check.ok
    assert "does not exist" in check.reason and "America/New_York" in check.reason
    with pytest.raises(ValueError):
        parse_local_start(night_shop(), "2026-03-08T02:00")


# --- accepted slots ---------------------------------------------------------------------------------


def test_a_valid_slot_comes_back_as_aware_local_start_and_end() -> None:
    check = check_slot(dental(), "checkup", "2026-12-08T10:30", NOW)  # service names are not case-sensitive
    assert check.ok and check.reason is None
    assert check.service.name == "Checkup"
    assert check.starts_at.tzinfo is not None
    assert check.starts_at.utcoffset() == timedelta(hours=-5)
    assert (check.starts_at.hour, check.starts_at.minute) == (10, 30)
    assert check.starts_at.astimezone(UTC) == utc("2026-12-08T15:30:00")
    assert check.ends_at.astimezone(UTC) == utc("2026-12-08T16:15:00")


def test_a_space_instead_of_the_t_is_accepted() -> None:
    check = check_slot(dental(), "Cleaning", "2026-12-08 10:30", NOW)
    assert check.ok and check.starts_at.astimezone(UTC) == utc("2026-12-08T15:30:00")


@pytest.mark.parametrize("start", ["2026-12-08T15:30:00+00:00", "2026-12-08T15:30Z", "2026-12-08T16:30+01:00"])
def test_an_explicit_offset_is_converted_to_local_time(start: str) -> None:
    check = check_slot(dental(), "Cleaning", start, NOW)
    assert check.ok, check.reason
    assert check.starts_at.utcoffset() == timedelta(hours=-5)
    assert (check.starts_at.hour, check.starts_at.minute) == (10, 30)


def test_an_explicit_offset_can_land_outside_the_hours() -> None:
    check = check_slot(dental(), "Cleaning", "2026-12-08T10:30+00:00", NOW)  # 5:30 AM in New York
    assert not check.ok and "outside our opening hours" in check.reason


def test_a_summer_slot_has_the_summer_offset() -> None:
    check = check_slot(dental(), "Cleaning", "2027-06-01T09:00", NOW)
    assert check.ok
    assert check.starts_at.astimezone(UTC) == utc("2027-06-01T13:00:00")  # EDT, UTC-4


# --- daylight-saving nights -------------------------------------------------------------------------


def test_a_long_service_over_the_spring_forward_jump_takes_its_real_duration() -> None:
    before = datetime(2026, 3, 1, 12, tzinfo=UTC)
    # 1:30 AM EST plus two real hours is 4:30 AM EDT: past the 4 AM closing.
    late = check_slot(night_shop(), "Overhaul", "2026-03-08T01:30", before)
    assert not late.ok
    assert "run past closing at 4 AM" in late.reason
    # 1:00 AM EST plus two real hours is exactly 4:00 AM EDT.
    check = check_slot(night_shop(), "Overhaul", "2026-03-08T01:00", before)
    assert check.ok, check.reason
    assert check.ends_at.astimezone(UTC) - check.starts_at.astimezone(UTC) == timedelta(hours=2)
    assert check.ends_at.astimezone(UTC) == utc("2026-03-08T08:00:00")
    assert len(slot_units(night_shop(), check.starts_at, check.ends_at)) == 8


def test_a_long_service_over_the_fall_back_night_takes_its_real_duration() -> None:
    before = datetime(2026, 10, 25, 12, tzinfo=UTC)
    check = check_slot(night_shop(), "Overhaul", "2026-11-01T01:30", before)  # the first 1:30 AM, EDT
    assert check.ok, check.reason
    assert check.starts_at.astimezone(UTC) == utc("2026-11-01T05:30:00")
    assert check.ends_at.astimezone(UTC) == utc("2026-11-01T07:30:00")  # 2:30 AM EST
    units = slot_units(night_shop(), check.starts_at, check.ends_at)
    assert len(units) == 8 and units[-1] == utc("2026-11-01T07:15:00")


def test_free_times_on_the_spring_forward_night_are_real_and_distinct() -> None:
    config = night_shop()
    before = datetime(2026, 3, 1, 12, tzinfo=UTC)
    starts = free_starts(config, config.services[0], before, set(), on_day=local("2026-03-08T12:00"), count=50)
    # 1:00 to 1:45 AM EST, then 3:00 to 3:30 AM EDT: a 30-minute cleaning must end by 4 AM EDT.
    assert in_utc(starts) == [
        utc(f"2026-03-08T{clock}:00") for clock in ("06:00", "06:15", "06:30", "06:45", "07:00", "07:15", "07:30")
    ]
    for start in starts:
        said = f"{start.astimezone(NEW_YORK):%Y-%m-%dT%H:%M}"
        assert check_slot(config, "Cleaning", said, before).ok, said


def test_free_times_on_the_fall_back_night_can_all_be_booked() -> None:
    config = night_shop()
    before = datetime(2026, 10, 25, 12, tzinfo=UTC)
    starts = free_starts(config, config.services[0], before, set(), on_day=local("2026-11-01T12:00"), count=50)
    instants = in_utc(starts)
    assert len(set(instants)) == len(instants) and instants == sorted(instants)
    assert instants[0] == utc("2026-11-01T05:00:00")  # the first 1:00 AM
    assert instants[-1] == utc("2026-11-01T08:30:00")  # 3:30 AM EST, ending at 4 AM
    for start in starts:
        said = f"{start.astimezone(NEW_YORK):%Y-%m-%dT%H:%M}"
        check = check_slot(config, "Cleaning", said, before)
        assert check.ok, said
        assert check.starts_at.astimezone(UTC) == start.astimezone(UTC), said


# --- slot units -------------------------------------------------------------------------------------


def test_slot_units_are_the_grid_slots_an_appointment_holds_in_utc() -> None:
    check = check_slot(dental(), "Checkup", "2026-12-08T10:30", NOW)
    units = slot_units(dental(), check.starts_at, check.ends_at)
    assert units == [utc("2026-12-08T15:30:00"), utc("2026-12-08T15:45:00"), utc("2026-12-08T16:00:00")]
    assert all(unit.tzinfo == UTC for unit in units)


def test_slot_units_follow_the_business_grid() -> None:
    config = dental().model_copy(update={"booking_slot_minutes": 30})
    check = check_slot(config, "Whitening", "2026-12-08T10:30", NOW)
    assert check.ok
    assert slot_units(config, check.starts_at, check.ends_at) == [
        utc("2026-12-08T15:30:00"),
        utc("2026-12-08T16:00:00"),
    ]
    assert not check_slot(config, "Whitening", "2026-12-08T10:15", NOW).ok


# --- free start times -------------------------------------------------------------------------------


def test_the_earliest_free_starts_are_after_now() -> None:
    config = dental()
    starts = free_starts(config, config.services[0], NOW, set())
    assert in_utc(starts) == [utc("2026-12-07T15:15:00"), utc("2026-12-07T15:30:00"), utc("2026-12-07T15:45:00")]


def test_free_starts_skip_taken_slots() -> None:
    config = dental()
    taken = {utc("2026-12-07T15:30:00")}  # 10:30 AM is held by someone else
    starts = free_starts(config, config.services[0], NOW, taken)
    # A 30-minute cleaning at 10:15 would overlap 10:30, so the first free one is 10:45.
    assert in_utc(starts) == [utc("2026-12-07T15:45:00"), utc("2026-12-07T16:00:00"), utc("2026-12-07T16:15:00")]


def test_free_starts_after_closing_roll_over_to_the_next_open_day() -> None:
    config = dental()
    friday_evening = utc("2026-12-11T23:00:00")  # 6 PM Friday
    starts = free_starts(config, config.services[0], friday_evening, set())
    assert in_utc(starts)[0] == utc("2026-12-12T15:00:00")  # Saturday 10 AM


def test_free_starts_nearest_to_a_refused_time() -> None:
    config = dental()
    taken = {utc("2026-12-08T19:00:00"), utc("2026-12-08T19:15:00")}  # Tuesday 2:00 and 2:15 PM are taken
    near = local("2026-12-08T14:00")
    starts = free_starts(config, config.services[0], NOW, taken, near=near)
    assert [f"{s.astimezone(NEW_YORK):%H:%M}" for s in starts] == ["13:15", "13:30", "14:30"]
    assert all(s.astimezone(NEW_YORK).date() == near.date() for s in starts)


def test_free_starts_only_on_a_given_day() -> None:
    config = dental()
    saturday = local("2026-12-12T12:00")
    starts = free_starts(config, config.services[0], NOW, set(), on_day=saturday, count=100)
    hours = [f"{s.astimezone(NEW_YORK):%a %H:%M}" for s in starts]
    assert hours[0] == "Sat 10:00" and hours[-1] == "Sat 13:30"  # a cleaning must end by 2 PM
    assert len(hours) == 15 and all(h.startswith("Sat") for h in hours)
    assert free_starts(config, config.services[0], NOW, set(), on_day=local("2026-12-13T12:00")) == []  # Sunday
    assert free_starts(config, config.services[0], NOW, set(), on_day=local("2026-12-24T12:00")) == []  # closure


def test_free_starts_stay_on_the_grid_when_the_opening_is_not() -> None:
    config = dental().model_copy(update={"hours": {"monday": OpeningHours(opens=time(9, 10), closes=time(12))}})
    starts = free_starts(config, config.services[0], utc("2026-12-07T05:00:00"), set())
    assert [f"{s.astimezone(NEW_YORK):%H:%M}" for s in starts] == ["09:15", "09:30", "09:45"]
    assert not check_slot(config, "Cleaning", "2026-12-07T09:10", utc("2026-12-07T05:00:00")).ok


def test_a_fully_booked_day_has_no_free_starts() -> None:
    config = dental()
    saturday = local("2026-12-12T12:00")
    everything = set(in_utc(free_starts(config, config.services[0], NOW, set(), on_day=saturday, count=100)))
    everything.add(utc("2026-12-12T18:45:00"))  # 1:45 PM
    assert free_starts(config, config.services[0], NOW, everything, on_day=saturday) == []


def test_every_free_start_passes_the_rules() -> None:
    config = dental()
    for service in config.services:
        for start in free_starts(config, service, NOW, set(), count=200):
            said = f"{start.astimezone(NEW_YORK):%Y-%m-%dT%H:%M}"
            assert check_slot(config, service.name, said, NOW).ok, (service.name, said)


def test_described_starts_are_spoken_and_machine_readable() -> None:
    config = dental()
    starts = [local("2026-12-07T10:30"), local("2026-12-08T09:00"), local("2026-12-10T14:45")]
    assert describe_starts(config, starts, NOW) == (
        "today at 10:30 AM (2026-12-07T10:30); tomorrow at 9 AM (2026-12-08T09:00); "
        "Thursday, December 10 at 2:45 PM (2026-12-10T14:45)"
    )
