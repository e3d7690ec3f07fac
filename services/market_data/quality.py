"""Data quality of a dataset: missing candles on the interval grid, zero-volume runs, import findings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.market_data import ohlcv
from services.market_data.datasets import Manifest

MIN_ZERO_VOLUME_RUN = 3
_WEEK_MS = 7 * 86_400_000


@dataclass(frozen=True)
class Run:
    """A stretch of candles: first and last timestamp (ms) and how many candles it covers."""

    start_ms: int
    end_ms: int
    candles: int


@dataclass
class QualityReport:
    """What the data-quality panel shows."""

    candles: int
    expected: int
    missing: int
    gaps: list[Run] = field(default_factory=list)
    closed_slots_note: str = ""
    zero_volume_runs: list[Run] = field(default_factory=list)
    volume_available: bool = True
    duplicates_dropped: int = 0
    rows_reordered: int = 0
    imports: int = 0

    @property
    def completeness(self) -> float:
        """Share of expected candles present (1.0 when nothing is missing)."""
        return 1.0 if self.expected == 0 else self.candles / self.expected


def _slot(ts: np.ndarray, interval: str) -> np.ndarray:
    """Position of each timestamp within its week, in interval steps (the 'slot' a market may never trade)."""
    step = ohlcv.INTERVAL_MS[interval] or _WEEK_MS
    return ((ts - 4 * 86_400_000) % _WEEK_MS) // step


def _expected_grid(ts: np.ndarray, interval: str) -> tuple[np.ndarray, str]:
    first, last = int(ts[0]), int(ts[-1])
    if interval == "1M":
        months = np.arange(np.datetime64(first, "ms").astype("datetime64[M]"),
                           np.datetime64(last, "ms").astype("datetime64[M]") + 1)
        return months.astype("datetime64[ms]").astype(np.int64), ""
    step = ohlcv.INTERVAL_MS[interval]
    grid = np.arange(first, last + 1, step, dtype=np.int64)
    if interval == "1w" or last - first < 4 * _WEEK_MS:
        return grid, ""
    traded = np.zeros(_WEEK_MS // step, dtype=bool)
    traded[_slot(ts, interval)] = True
    if traded.all():
        return grid, ""
    closed = int((~traded).sum())
    note = (f"{closed} of {traded.size} weekly {interval} slots never trade in this dataset "
            "(e.g. weekends or night hours); they are not counted as missing")
    return grid[traded[_slot(grid, interval)]], note


def _calendar_grid(ts: np.ndarray, interval: str, calendar) -> np.ndarray | None:
    """Slots of ``interval`` in which the calendar's market is open, between the first and last candle.

    None when the calendar does not apply (weekly and monthly candles) or does not cover the range.
    """
    first, last = pd.Timestamp(int(ts[0]), unit="ms", tz="UTC"), pd.Timestamp(int(ts[-1]), unit="ms", tz="UTC")
    if interval in ("1w", "1M") or first < calendar.first_session.tz_localize("UTC") \
            or last > calendar.last_session.tz_localize("UTC"):
        return None
    if interval == "1d":
        sessions = calendar.sessions_in_range(first.normalize().tz_localize(None), last.normalize().tz_localize(None))
        return sessions.as_unit("ms").asi8.astype(np.int64)
    step = ohlcv.INTERVAL_MS[interval]
    minutes = calendar.minutes_in_range(first, last + pd.Timedelta(milliseconds=step - 1))
    slots = np.unique(minutes.as_unit("ms").asi8 // step * step)
    return slots[(slots >= ts[0]) & (slots <= ts[-1])].astype(np.int64)


def _runs(values: np.ndarray, step_index: np.ndarray) -> list[tuple[int, int]]:
    """Start/end positions of consecutive runs in a sorted index array."""
    if not step_index.size:
        return []
    breaks = np.flatnonzero(np.diff(step_index) != 1)
    starts = np.r_[0, breaks + 1]
    ends = np.r_[breaks, step_index.size - 1]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def assess(frame: pd.DataFrame, manifest: Manifest | None, interval: str, max_listed: int = 50,
           calendar=None) -> QualityReport:
    """Quality report of sorted contract candles (and the import history in ``manifest``).

    With an exchange ``calendar`` (``market_hours.trading_calendar``) only slots in its sessions are expected,
    so holidays and closures are not missing; without one, weekly slots that never trade are left out.
    """
    report = QualityReport(candles=len(frame), expected=len(frame), missing=0)
    if manifest is not None:
        report.imports = len(manifest.imports)
        report.duplicates_dropped = sum(int(i.get("duplicates_dropped", 0)) for i in manifest.imports)
        report.rows_reordered = sum(int(i.get("rows_reordered", 0)) for i in manifest.imports)
        report.volume_available = not manifest.close_only
    if frame.empty:
        return report
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    on_calendar = None if calendar is None else _calendar_grid(ts, interval, calendar)
    if on_calendar is None:
        grid, report.closed_slots_note = _expected_grid(ts, interval)
    else:
        grid = np.union1d(on_calendar, ts)  # a candle outside the sessions is data, never "missing"
        report.closed_slots_note = (f"counted on the {calendar.name} trading calendar: holidays, closures and "
                                    "hours outside the sessions are not missing")
    report.expected = int(grid.size)
    missing = np.setdiff1d(grid, ts, assume_unique=True)
    report.missing = int(missing.size)
    if missing.size:
        positions = np.searchsorted(grid, missing)
        for start, end in _runs(missing, positions):
            report.gaps.append(Run(int(missing[start]), int(missing[end]), end - start + 1))
        report.gaps.sort(key=lambda r: r.candles, reverse=True)
        report.gaps = report.gaps[:max_listed]
    if report.volume_available:
        zero = np.flatnonzero(frame["volume"].to_numpy() == 0)
        for start, end in _runs(zero, zero):
            if end - start + 1 >= MIN_ZERO_VOLUME_RUN:
                report.zero_volume_runs.append(Run(int(ts[zero[start]]), int(ts[zero[end]]), end - start + 1))
        report.zero_volume_runs.sort(key=lambda r: r.candles, reverse=True)
        report.zero_volume_runs = report.zero_volume_runs[:max_listed]
    return report
