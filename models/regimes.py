"""Volatility regimes of a price series (low / medium / high spans) and correlations of log returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import InsufficientData

YEAR_MS = 365.25 * 86_400_000
REGIME_NAMES = ("low_vol", "medium_vol", "high_vol")
Z_BAND = 0.5


@dataclass(frozen=True)
class RegimeSpan:
    """A run of candles in one volatility regime: first and last open time (Unix ms), annualised volatility of
    the log returns inside it and the span's total return."""

    regime: str
    start_ts: int
    end_ts: int
    candles: int
    volatility: float
    total_return: float


def volatility_regimes(timestamps: np.ndarray, closes: np.ndarray, window: int = 20,
                       min_candles: int | None = None) -> list[RegimeSpan]:
    """Split a series into volatility regimes.

    The rolling standard deviation of log returns over ``window`` candles is classed against the series' own
    history: its logarithm more than ``Z_BAND`` standard deviations below its mean is low, above is high (about
    a third each for a log-normal volatility, and the two halves of a calm-then-wild series); runs shorter than
    ``min_candles`` (default ``window``) join the run before them, so a regime is a lasting state, not one noisy day.
    """
    timestamps = np.asarray(timestamps, dtype=np.int64)
    closes = np.asarray(closes, dtype=np.float64)
    if len(closes) < 3 * window or not np.all(np.isfinite(closes)) or np.any(closes <= 0):
        usable = int(np.sum(np.isfinite(closes) & (closes > 0)))
        raise InsufficientData({"series": usable}, 3 * window, "find volatility regimes (positive finite closes)")
    returns = np.diff(np.log(closes))
    kernel = np.ones(window) / window
    mean = np.convolve(returns, kernel, mode="valid")
    spread = np.sqrt(np.maximum(np.convolve(returns ** 2, kernel, mode="valid") - mean ** 2, 0.0))
    level = np.log(np.maximum(spread, 1e-12))
    z = (level - level.mean()) / (level.std() or 1.0)
    classes = np.where(z < -Z_BAND, 0, np.where(z > Z_BAND, 2, 1))
    # classes[i] describes the window ending at return window-1+i, i.e. at candle window+i
    runs = _runs(classes, min_candles or window)
    per_year = YEAR_MS / max(float(np.median(np.diff(timestamps))), 1.0)
    spans = []
    for start, stop, label in runs:
        first, last = start + window, stop + window - 1  # candle indices the run covers
        inside = returns[first - 1:last]
        spans.append(RegimeSpan(
            regime=REGIME_NAMES[label], start_ts=int(timestamps[first]), end_ts=int(timestamps[last]),
            candles=last - first + 1, volatility=float(np.std(inside) * np.sqrt(per_year)),
            total_return=float(closes[last] / closes[first - 1] - 1.0)))
    return spans


def _runs(classes: np.ndarray, min_length: int) -> list[tuple[int, int, int]]:
    """(start, stop exclusive, class) runs; short runs merge into the previous one (the first into the next)."""
    edges = np.flatnonzero(np.diff(classes)) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, len(classes)]
    runs: list[list[int]] = []
    for start, stop in zip(starts, stops, strict=True):
        label = int(classes[start])
        if runs and (stop - start < min_length or runs[-1][2] == label):
            runs[-1][1] = int(stop)
        elif runs and runs[-1][1] - runs[-1][0] < min_length:
            runs[-1] = [runs[-1][0], int(stop), label]
        else:
            runs.append([int(start), int(stop), label])
    return [(a, b, c) for a, b, c in runs]


def return_correlation(closes_a: np.ndarray, closes_b: np.ndarray) -> float:
    """Pearson correlation of the log returns of two aligned close series (at least 30 returns)."""
    a, b = np.diff(np.log(np.asarray(closes_a, float))), np.diff(np.log(np.asarray(closes_b, float)))
    if len(a) < 30 or len(a) != len(b) or np.std(a) == 0 or np.std(b) == 0:
        raise InsufficientData({"pair": min(len(a), len(b))}, 30, "correlate returns (aligned, not constant)")
    return float(np.clip(np.corrcoef(a, b)[0, 1], -1.0, 1.0))
