"""What the Market Data page shows, computed without Streamlit: catalog table, chart data, overlays."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.market_data import ohlcv
from services.market_data.datasets import CatalogEntry, DatasetRef, Datasets, Manifest

MAX_CANDLES = 5000


def catalog_table(entries: list[CatalogEntry], query: str = "") -> pd.DataFrame:
    """The catalog as a table, filtered by a case-insensitive substring of the reference."""
    rows = [
        {
            "dataset": str(e.ref),
            "exchange": e.ref.exchange,
            "symbol": e.ref.symbol,
            "interval": e.ref.interval,
            "first candle": pd.Timestamp(e.first_ts, unit="ms", tz="UTC") if e.first_ts is not None else pd.NaT,
            "last candle": pd.Timestamp(e.last_ts, unit="ms", tz="UTC") if e.last_ts is not None else pd.NaT,
            "rows": e.rows,
            "size (MB)": round(e.size / 1e6, 3),
            "last update": pd.Timestamp(e.updated) if e.updated else pd.NaT,
            "close-only": e.close_only,
            "manifest": "no (dropped-in files)" if e.external else "yes",
        }
        for e in entries
    ]
    table = pd.DataFrame(rows)
    if query and not table.empty:
        table = table[table["dataset"].str.contains(query.strip(), case=False, regex=False)]
    return table.reset_index(drop=True)


def sma(close: np.ndarray, window: int) -> np.ndarray:
    """Simple moving average (NaN until the window fills)."""
    return pd.Series(close).rolling(window, min_periods=window).mean().to_numpy()


def ema(close: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average with span ``window``."""
    return pd.Series(close).ewm(span=window, adjust=False, min_periods=window).mean().to_numpy()


@dataclass(frozen=True)
class Overlay:
    """A line drawn over the candles."""

    name: str
    values: np.ndarray


@dataclass(frozen=True)
class ChartData:
    """Candles ready to draw and what they are."""

    ref: DatasetRef
    frame: pd.DataFrame
    interval: str
    requested_interval: str
    candles_in_range: int
    close_only: bool
    overlays: list[Overlay] = field(default_factory=list)

    @property
    def coarsened(self) -> bool:
        """True when the shown interval is coarser than requested (to stay under MAX_CANDLES)."""
        return self.interval != self.requested_interval

    def caption(self) -> str:
        """One line saying what the chart shows."""
        text = f"{len(self.frame):,} candles at {self.interval} ({self.candles_in_range:,} stored candles in range)"
        if self.coarsened:
            text += f"; {self.requested_interval} was asked for, coarsened to stay under {MAX_CANDLES:,} candles"
        return text


class ChartBuilder:
    """Builds ChartData from a dataset, remembering recent results (keyed by manifest version) in memory."""

    def __init__(self, datasets: Datasets, remember: int = 16):
        self.datasets = datasets
        self._recent: OrderedDict[tuple, ChartData] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def build(
        self,
        ref: DatasetRef,
        start_ms: int | None = None,
        end_ms: int | None = None,
        interval: str | None = None,
        sma_windows: tuple[int, ...] = (),
        ema_windows: tuple[int, ...] = (),
        vwap: bool = False,
    ) -> ChartData:
        """Candles of ``ref`` in range, resampled on the server to ``interval`` (or coarser) plus overlays."""
        manifest = self.datasets.manifest(ref)
        key = (str(ref), manifest.etag, start_ms, end_ms, interval, sma_windows, ema_windows, vwap)
        with self._lock:
            if key in self._recent:
                self._recent.move_to_end(key)
                return self._recent[key]
        frame = self.datasets.read_version(manifest, start_ms, end_ms, shared=True)
        shown, shown_interval = ohlcv.for_display(frame, ref.interval, interval, MAX_CANDLES)
        warm = max((*sma_windows, *ema_windows), default=0)
        close = self._warm_up(manifest, shown, shown_interval, warm) if warm and not shown.empty \
            else shown["close"].to_numpy()
        overlays = [Overlay(f"SMA {w}", sma(close, w)[-len(shown):]) for w in sma_windows]
        overlays += [Overlay(f"EMA {w}", ema(close, w)[-len(shown):]) for w in ema_windows]
        if vwap and "vwap" in shown.columns:
            overlays.append(Overlay("VWAP", shown["vwap"].to_numpy()))
        data = ChartData(ref, shown, shown_interval, interval or ref.interval, len(frame), manifest.close_only,
                         overlays)
        with self._lock:
            self._recent[key] = data
            while len(self._recent) > self._remember:
                self._recent.popitem(last=False)
        return data

    def _warm_up(self, manifest: Manifest, shown: pd.DataFrame, interval: str, candles: int) -> np.ndarray:
        """Closes of ``candles`` shown candles before the first one, then the shown closes.

        Moving averages then start at the range's first candle. Markets close at night and on weekends, so the
        look-back widens until it holds enough candles or reaches the dataset's first candle.
        """
        first = int(shown["timestamp"].iloc[0])
        lookback = candles * ohlcv.approx_interval_ms(interval)
        while True:
            earlier = self.datasets.read_version(manifest, first - lookback, first - 1, shared=True)
            if not earlier.empty and interval != manifest.ref.interval:
                earlier = ohlcv.resample(earlier, interval)
            earlier = earlier[earlier["timestamp"] < first]
            if len(earlier) >= candles or manifest.first_ts is None or first - lookback <= manifest.first_ts:
                break
            lookback *= 4
        return np.concatenate([earlier["close"].to_numpy()[-candles:], shown["close"].to_numpy()])


def intervals_from(source_interval: str) -> list[str]:
    """Intervals a dataset can be shown at: its own and every coarser one."""
    return ohlcv.INTERVALS[ohlcv.INTERVALS.index(source_interval):]
