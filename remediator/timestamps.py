"""One format for every time the remediator shows: ISO 8601 with its UTC offset.

``2026-03-03T09:15:02.123+00:00`` in JSON everywhere (CLI ``--json``, the API, reports,
callbacks); tables for people show the machine's local time instead (``local``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer


def iso(value: datetime) -> str:
    """``value`` in UTC, to the millisecond, with an explicit ``+00:00`` offset."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def iso_epoch(value: float | None) -> str | None:
    """Seconds since the epoch (as stored) in the one format; ``None`` stays ``None``."""
    moment = from_epoch(value)
    return None if moment is None else iso(moment)


def local(value: float | datetime | None) -> str:
    """For people: the machine's local date and time to the minute (``-`` when unknown)."""
    if value is None:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]
"""A ``datetime`` field that serialises to JSON in the one format."""
