"""The one clock of the console (UTC), so tests and services agree on 'now'."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

DAY_MS = 86_400_000



def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_ms() -> int:
    """Current time as Unix milliseconds."""
    return time.time_ns() // 1_000_000


def from_ms(ms: int) -> datetime:
    """Unix milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def day_start_ms(day: date) -> int:
    """Unix milliseconds of the first instant of the UTC day ``day``."""
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


def day_end_ms(day: date) -> int:
    """Unix milliseconds of the last millisecond of the UTC day ``day`` (inclusive bound)."""
    return day_start_ms(day + timedelta(days=1)) - 1


def to_ms(moment: datetime) -> int:
    """An aware (or naive-as-UTC) datetime to Unix milliseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
