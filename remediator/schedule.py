"""A daily local time: which day's slot is due, on a wall clock that keeps summer time.

The service's jobs run once a day at ``schedule_time`` in ``schedule_timezone`` (03:00
Europe/Stockholm by default). A slot is one local calendar day: its key is the date
(``2026-07-14``), so a day has exactly one slot whatever the clock does that night.

Summer time is the time zone's (``zoneinfo``): 03:00 is 01:00 UTC in summer and 02:00 UTC in
winter. A time the clock skips in spring (02:30 on the last Sunday of March in Stockholm) is
read with the offset before the change, so it falls an hour later by the new clock (03:30); a
time the clock passes twice in autumn is its first passage. Either way that day has one slot.

No scheduling library: a daily time in a zone needs no cron parser, and what a library would
add (a job store) would not decide which of several instances runs a slot; the database does
that (remediator.storage.jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from remediator.errors import ConfigError


@dataclass(frozen=True)
class Slot:
    """One day's run of a job: the local date and the moment it is due (epoch seconds)."""

    day: date
    at: float

    @property
    def key(self) -> str:
        return self.day.isoformat()


def parse_time(text: str) -> time:
    """``HH:MM`` (24-hour) as a time of day; ``ConfigError`` otherwise."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ConfigError(f"not a time of day HH:MM: {text!r}") from None


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Stockholm``); ``ConfigError`` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone: {name!r}") from None


@dataclass(frozen=True)
class DailySchedule:
    """Once a day at ``at`` local time in ``tz``."""

    at: time
    tz: ZoneInfo

    @classmethod
    def of(cls, at: str, tz: str) -> DailySchedule:
        return cls(parse_time(at), zone(tz))

    def slot(self, day: date) -> Slot:
        """``day``'s slot (see the module's docstring for the nights the clock changes)."""
        local = datetime.combine(day, self.at, tzinfo=self.tz)
        return Slot(day, local.astimezone(UTC).timestamp())

    def latest(self, now: float) -> Slot:
        """The most recent slot due at ``now`` (today's once its time has come, else
        yesterday's)."""
        today = datetime.fromtimestamp(now, tz=self.tz).date()
        slot = self.slot(today)
        return slot if slot.at <= now else self.slot(today - timedelta(days=1))

    def following(self, slot: Slot) -> Slot:
        """The slot of the day after ``slot``'s (23, 24 or 25 hours later)."""
        return self.slot(slot.day + timedelta(days=1))
