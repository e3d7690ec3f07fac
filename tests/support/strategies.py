"""Builders shared by the Lona strategy tests (services, CLI, page): a dataset to publish and a strategy file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.market_data.datasets import DatasetRef
from tests.support.market import HOUR

REF = DatasetRef.parse("binance/BTCUSDT/1h")
JAN_1 = 1_704_067_200_000
CODE = "import backtrader as bt\n\n\nclass Cross(bt.Strategy):\n    pass\n"


def candles(first_ms: int, rows: int) -> pd.DataFrame:
    """``rows`` rising hourly BTC candles from ``first_ms``."""
    ts = first_ms + HOUR * np.arange(rows, dtype="int64")
    close = 40_000.0 + np.arange(rows, dtype="float64")
    return pd.DataFrame({"timestamp": ts, "open": close, "high": close + 5, "low": close - 5, "close": close,
                         "volume": 2.0})
