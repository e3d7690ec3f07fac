"""The universe of a run: its datasets read at one version each and aligned on their common calendar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.returns import log_returns
from services.core.errors import BadInput, Conflict
from services.market_data.datasets import DatasetRef, Datasets

#: a dataset whose last bar is more than this many bars behind the others would be traded on old prices
MAX_END_LAG_BARS = 5
YEAR_MS = 365.25 * 86_400_000


@dataclass(frozen=True)
class SymbolData:
    """One dataset of the universe: its candles over the run's span, at the version read."""

    ref: DatasetRef
    version: str
    close_only: bool
    #: the dataset's own candles from the first bar of the common span to its last bar
    candles: pd.DataFrame
    #: bars of the span that are not on the common calendar (another dataset has no bar there)
    dropped: int


@dataclass(frozen=True)
class Universe:
    """Closes on the common calendar (index: Unix ms, columns: symbols) and each symbol's own candles."""

    data: dict[str, SymbolData]
    closes: pd.DataFrame

    @property
    def symbols(self) -> list[str]:
        """Symbols in universe order."""
        return list(self.data)

    @property
    def versions(self) -> dict[str, str]:
        """Dataset ref -> manifest ETag read (what makes the run reproducible)."""
        return {str(d.ref): d.version for d in self.data.values()}

    @property
    def data_until_ms(self) -> int:
        """Open time of the last bar on the common calendar."""
        return int(self.closes.index[-1])

    def returns(self) -> pd.DataFrame:
        """Log returns on the common calendar (non-positive or missing closes give NaN, which the models drop)."""
        return log_returns(self.closes)

    def last_prices(self) -> dict[str, float]:
        """Each symbol's latest stored close (what the venue fills at and the inbox re-quotes against)."""
        return {s: float(d.candles["close"].iloc[-1]) for s, d in self.data.items()}

    def describe(self) -> list[dict]:
        """Per dataset, for the state and the run record."""
        returns = self.returns()
        return [
            {"ref": str(d.ref), "symbol": s, "version": d.version, "close_only": d.close_only,
             "bars": len(d.candles), "first_ts": int(d.candles["timestamp"].iloc[0]),
             "last_ts": int(d.candles["timestamp"].iloc[-1]), "dropped": d.dropped,
             "nan_returns": int(returns[s].isna().sum())}
            for s, d in self.data.items()
        ]

    @property
    def bars_per_year(self) -> int:
        """Bars a year on the common calendar (252 for exchange days, 365 for crypto days, more intraday)."""
        span_ms = self.data_until_ms - int(self.closes.index[0])
        return max(1, round((len(self.closes) - 1) * YEAR_MS / span_ms)) if span_ms > 0 else 252

    def calendar(self) -> dict:
        """The common calendar: number of bars and first/last open time."""
        return {"bars": len(self.closes), "first_ts": int(self.closes.index[0]), "last_ts": self.data_until_ms,
                "bars_per_year": self.bars_per_year}


def check_one_interval(refs: tuple[DatasetRef, ...]) -> None:
    """BadInput naming each interval and its datasets when ``refs`` mix intervals (a run needs one calendar)."""
    intervals = sorted({r.interval for r in refs})
    if len(intervals) > 1:
        groups = "; ".join(f"{i}: {', '.join(str(r) for r in refs if r.interval == i)}" for i in intervals)
        raise BadInput(f"the universe mixes intervals ({groups}): choose datasets of one interval")


def load_universe(datasets: Datasets, refs: tuple[DatasetRef, ...], lookback: int,
                  expected_versions: dict[str, str] | None = None) -> Universe:
    """Read each dataset once (one version) and keep the last ``lookback`` bars their calendars share.

    Raises BadInput naming the dataset when one is too short, ends too far behind the others, or the
    datasets share too few bars; with ``expected_versions`` (a run continuing after a restart), Conflict
    when a dataset changed since the run first read it.
    """
    if not refs:
        raise BadInput("the universe is empty: choose at least one dataset (exchange/SYMBOL/interval)")
    check_one_interval(refs)
    frames, versions, close_only = {}, {}, {}
    for ref in refs:
        manifest = datasets.manifest(ref)
        version = manifest.etag or ""
        if expected_versions is not None and expected_versions.get(str(ref)) != version:
            raise Conflict(f"{ref} changed since this run read it (version {expected_versions.get(str(ref))} → "
                           f"{version}); start a new run on the current data")
        frame = datasets.read_version(manifest)
        if len(frame) < lookback:
            raise BadInput(f"{ref} has {len(frame)} bars; a lookback of {lookback} needs at least {lookback} "
                           f"(choose a shorter lookback or leave {ref} out)")
        frames[ref], versions[ref], close_only[ref] = frame, version, manifest.close_only
    _check_ends(frames)
    common = _common_calendar(frames)
    if len(common) < lookback:
        raise BadInput(f"the datasets share only {len(common)} bars on a common calendar; a lookback of {lookback} "
                       "needs more (the ranges barely overlap or the calendars differ: choose datasets that cover "
                       "the same period, or a shorter lookback)")
    span = common[-lookback:]
    data, closes = {}, {}
    for ref, frame in frames.items():
        own = frame[frame["timestamp"].to_numpy() >= span[0]].reset_index(drop=True)
        on_calendar = np.isin(own["timestamp"].to_numpy(), span)
        data[ref.symbol] = SymbolData(ref, versions[ref], close_only[ref], own, int((~on_calendar).sum()))
        closes[ref.symbol] = own.loc[on_calendar, "close"].to_numpy()
    return Universe(data, pd.DataFrame(closes, index=pd.Index(span, name="timestamp")))


def _check_ends(frames: dict[DatasetRef, pd.DataFrame]) -> None:
    """Refuse a universe where a dataset stops more than MAX_END_LAG_BARS bars before the freshest one."""
    ends = {ref: int(frame["timestamp"].iloc[-1]) for ref, frame in frames.items()}
    freshest = max(ends, key=lambda ref: (ends[ref], str(ref)))
    clock = frames[freshest]["timestamp"].to_numpy()
    behind = []
    for ref, end in ends.items():
        lag = len(clock) - int(np.searchsorted(clock, end, "right"))
        if lag > MAX_END_LAG_BARS:
            behind.append(f"{ref} ({lag} bars behind)")
    if behind:
        raise BadInput(f"the datasets do not end together: {', '.join(behind)} stops before {freshest}; refresh "
                       "them or choose datasets that cover the same period")


def _common_calendar(frames: dict[DatasetRef, pd.DataFrame]) -> np.ndarray:
    stamps = iter(frames.values())
    common = next(stamps)["timestamp"].to_numpy()
    for frame in stamps:
        common = np.intersect1d(common, frame["timestamp"].to_numpy(), assume_unique=True)
    return common
