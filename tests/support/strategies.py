"""Builders shared by the Lona strategy tests (services, CLI, page): a dataset to publish, a strategy file, and a
completed backtest with a chosen trade history (for the graph's Lona signals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from services.core.auth import local_operator
from services.market_data.datasets import DatasetRef
from services.strategies import backtests
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


#: a report good enough for the default signal policy (Sharpe >= 0.5, drawdown <= 30 %, >= 10 trades)
GOOD = {"total_return": 0.1523, "sharpe_ratio": 1.12, "max_drawdown": -0.0832, "win_rate": 0.62, "total_trades": 24}


def backtested(runtime, lona_gateway, name: str, ref: str, trades: list[dict], stats: dict | None = None,
               outcome: str = "COMPLETED", strategy_id: str | None = None) -> str:
    """A backtest of strategy ``name`` (uploaded unless ``strategy_id``) on ``ref`` over its last half year, whose
    full report on the fake Lona carries ``trades`` and ``stats``; returns the strategy id."""
    lona_gateway.trades, lona_gateway.total_stats, lona_gateway.outcome = trades, stats or dict(GOOD), outcome
    actor = local_operator("ana")
    strategy_id = strategy_id or backtests.upload_strategy(runtime, name, CODE, actor=actor)
    last = datetime.fromtimestamp(runtime.datasets.manifest(DatasetRef.parse(ref)).last_ts / 1000, UTC).date()
    backtests.start_backtest(runtime, strategy_id, [ref], last - timedelta(days=180), last, actor=actor)
    return strategy_id
