"""The one clock of the console (UTC), so tests and services agree on 'now'."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def now_ms() -> int:
    """Current time as Unix milliseconds."""
    return time.time_ns() // 1_000_000


def from_ms(ms: int) -> datetime:
    """Unix milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    """An aware (or naive-as-UTC) datetime to Unix milliseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
