"""Candle builders and blob-store helpers shared by the dataset, import/export, columnar and page tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from services.core.storage import LocalBlobStore

T0 = 1_704_067_200_000  # 2024-01-01
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def minute_candles(n: int, start: int = T0, price: float = 100.0) -> pd.DataFrame:
    """``n`` valid one-minute candles from ``start`` (a gentle sine around ``price``)."""
    close = price + np.sin(np.arange(n) / 10)
    return pd.DataFrame({"timestamp": start + MINUTE * np.arange(n, dtype="int64"), "open": close,
                         "high": close + 0.5, "low": close - 0.5, "close": close, "volume": np.ones(n)})


def hourly_csv(n: int = 48, start: int = T0) -> bytes:
    """A CSV of ``n`` hourly candles in a common variant (capitalised columns, ISO dates)."""
    close = 10 + np.arange(n, dtype=float)
    frame = pd.DataFrame({"Date": pd.to_datetime(start + HOUR * np.arange(n), unit="ms", utc=True).astype(str),
                          "Open": close, "High": close + 1, "Low": close - 1, "Close": close, "Volume": 5.0})
    return frame.to_csv(index=False).encode()


class CountingStore(LocalBlobStore):
    """A local store that counts gets and can be told to fail on the n-th put."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.gets: list[str] = []
        self.fail_on_put: int | None = None
        self.puts = 0

    def get(self, container, name):
        self.gets.append(name)
        return super().get(container, name)

    def put(self, container, name, data, **kwargs):
        self.puts += 1
        if self.fail_on_put is not None and self.puts >= self.fail_on_put:
            raise OSError("disk went away")
        return super().put(container, name, data, **kwargs)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes (to show that a refused write changed nothing)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
