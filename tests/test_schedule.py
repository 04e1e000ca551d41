"""A daily local time: one slot per local day, at the right UTC moment in summer and in winter,
on the nights the clock changes, and around midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from remediator.errors import ConfigError
from remediator.schedule import DailySchedule, parse_time, zone

STOCKHOLM = DailySchedule.of("03:00", "Europe/Stockholm")
HOUR = 3600.0


def utc(year: int, month: int, day: int, hour: int, minute: int, *, s: int = 0) -> float:
    return datetime(year, month, day, hour, minute, s, tzinfo=UTC).timestamp()


def test_03_00_in_stockholm_is_01_00_utc_in_summer_and_02_00_utc_in_winter() -> None:
    assert STOCKHOLM.slot(date(2026, 7, 14)).at == utc(2026, 7, 14, 1, 0)
    assert STOCKHOLM.slot(date(2026, 1, 14)).at == utc(2026, 1, 14, 2, 0)


def test_the_night_summer_time_starts_the_day_is_23_hours() -> None:
    before, change = STOCKHOLM.slot(date(2026, 3, 28)), STOCKHOLM.slot(date(2026, 3, 29))
    assert change.at == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert change.at - before.at == 23 * HOUR
    assert STOCKHOLM.following(before) == change


def test_the_night_summer_time_ends_the_day_is_25_hours() -> None:
    before, change = STOCKHOLM.slot(date(2026, 10, 24)), STOCKHOLM.slot(date(2026, 10, 25))
    assert change.at == utc(2026, 10, 25, 2, 0)  # 03:00 CET
    assert change.at - before.at == 25 * HOUR


def test_a_time_the_clock_skips_runs_an_hour_later_and_one_it_passes_twice_runs_once() -> None:
    half_past_two = DailySchedule.of("02:30", "Europe/Stockholm")
    skipped = half_past_two.slot(date(2026, 3, 29))  # 02:00 CET jumps to 03:00 CEST
    assert skipped.at == utc(2026, 3, 29, 1, 30)  # 03:30 by the new clock
    twice = half_past_two.slot(date(2026, 10, 25))  # 03:00 CEST falls back to 02:00 CET
    assert twice.at == utc(2026, 10, 25, 0, 30)  # the first 02:30 (CEST)
    # one slot for each of those days, whatever the clock did
    day_after = half_past_two.latest(utc(2026, 10, 25, 1, 45))  # the second 02:45
    assert day_after.key == "2026-10-25"


@pytest.mark.parametrize(
    ("now", "key"),
    [
        (utc(2026, 7, 14, 0, 59, s=59), "2026-07-13"),  # 02:59:59 local: yesterday's
        (utc(2026, 7, 14, 1, 0), "2026-07-14"),  # 03:00 local: today's is due
        (utc(2026, 7, 14, 21, 59), "2026-07-14"),  # 23:59 local
        (utc(2026, 7, 14, 22, 1), "2026-07-14"),  # 00:01 local on the 15th: not yet the 15th's
        (utc(2026, 3, 29, 0, 59), "2026-03-28"),  # 01:59 CET, the night summer time starts
        (utc(2026, 3, 29, 1, 0), "2026-03-29"),  # 03:00 CEST
        (utc(2026, 10, 25, 1, 59), "2026-10-24"),  # the second 02:59 (CET)
        (utc(2026, 10, 25, 2, 0), "2026-10-25"),  # 03:00 CET
    ],
)
def test_the_latest_slot_is_todays_once_its_time_has_come(now: float, key: str) -> None:
    slot = STOCKHOLM.latest(now)
    assert slot.key == key
    assert slot.at <= now < STOCKHOLM.following(slot).at


def test_a_slot_is_named_by_its_local_date_not_by_utcs() -> None:
    quarter_past_midnight = DailySchedule.of("00:15", "Europe/Stockholm")
    slot = quarter_past_midnight.latest(utc(2026, 7, 14, 22, 30))  # 00:30 local on the 15th
    assert slot.key == "2026-07-15"
    assert slot.at == utc(2026, 7, 14, 22, 15)


@pytest.mark.parametrize("text", ["3", "25:00", "03:60", "03:00:00", "three", ""])
def test_a_time_of_day_is_hh_mm(text: str) -> None:
    with pytest.raises(ConfigError, match="not a time of day"):
        parse_time(text)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        zone("Europe/Atlantis")
