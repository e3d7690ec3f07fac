"""Small seeded universes for the agent-graph tests, and settings that keep a run to a few seconds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.agents.state import RunParams
from services.market_data.datasets import DatasetRef

#: settings overrides: one short epoch of training, so a whole run takes seconds on two cores
FAST = {"predictor_max_epochs": 1, "predictor_samples_per_epoch": 256}
BARS = 400
START = "2020-01-01"


def candles(seed: int, n: int = BARS, start: str = START, vol: float = 0.01) -> pd.DataFrame:
    """A seeded random walk of ``n`` weekday daily candles with consistent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    stamps = pd.bdate_range(start, periods=n, tz="UTC").as_unit("ms").asi8
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, vol, n)))
    opened = close * np.exp(rng.normal(0, vol / 3, n))
    return pd.DataFrame({"timestamp": stamps, "open": opened, "high": np.maximum(opened, close) * 1.004,
                         "low": np.minimum(opened, close) * 0.996, "close": close,
                         "volume": rng.uniform(1e5, 2e5, n)})


def write(runtime, symbol: str, frame: pd.DataFrame, close_only: bool = False, exchange: str = "test") -> str:
    """Store ``frame`` as ``exchange/SYMBOL/1d``; return the ref."""
    ref = DatasetRef.of(exchange, symbol, "1d")
    if close_only:
        frame = frame.assign(open=frame["close"], high=frame["close"], low=frame["close"], volume=0.0)
    runtime.datasets.write(ref, frame, replace_overlap=True, close_only=close_only)
    return str(ref)


def universe(runtime, symbols: tuple[str, ...] = ("AAA", "BBB", "CCC"), n: int = BARS) -> tuple[str, ...]:
    """Write one seeded dataset per symbol; return their refs."""
    return tuple(write(runtime, s, candles(i, n)) for i, s in enumerate(symbols))


def frozen_tail(frame: pd.DataFrame, bars: int = 6) -> pd.DataFrame:
    """The same candles with the last ``bars`` exact copies of the one before: a feed frozen now (critical)."""
    frame = frame.copy()
    columns = ["open", "high", "low", "close", "volume"]
    frame.loc[frame.index[-bars:], columns] = frame.loc[frame.index[-bars - 1], columns].to_numpy()
    return frame


def params(refs: tuple[str, ...], **overrides) -> RunParams:
    """Run parameters sized for the seeded universes (window 20, horizon 3, lookback 300)."""
    return RunParams(refs, **{"horizon": 3, "lookback": 300, "window": 20, "llm": False, **overrides})
