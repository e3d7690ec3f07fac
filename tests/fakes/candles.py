"""Deterministic synthetic candles for the fake market-data servers: same timestamp, same candle."""

from __future__ import annotations

import numpy as np


def synthetic(open_times_ms: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Valid OHLCV arrays (plus trade counts) for the given open times; a pure function of time and seed."""
    ts = np.asarray(open_times_ms, dtype=np.int64)
    minutes = (ts // 60_000).astype(np.float64)
    base = 100.0 + 20.0 * np.sin(minutes / 997.0 + seed) + 5.0 * np.sin(minutes / 61.0 + 2 * seed)
    swing = 0.2 + 0.1 * np.abs(np.sin(minutes / 13.0 + seed))
    open_ = np.round(base, 2)
    close = np.round(base + swing * np.sin(minutes / 7.0), 2)
    high = np.round(np.maximum(open_, close) + swing, 2)
    low = np.round(np.minimum(open_, close) - swing, 2)
    volume = np.round(10.0 + 5.0 * np.abs(np.cos(minutes / 11.0 + seed)), 4)
    trades = (50 + (minutes % 37)).astype(np.int64)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "trades": trades}
