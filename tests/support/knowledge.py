"""Knowledge-base builders: source rows with a known outcome."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from services.core import clock
from services.core.records import lona_backtests, lona_strategies
from tests.support.universe import candles


def backtest_row(runtime, report_id: str, status: str, stats=None, error=None) -> None:
    """A Lona backtest row (and its strategy s1) as the strategies service would have stored it."""
    now = clock.now()
    with runtime.engine.begin() as connection:
        if not connection.execute(select(lona_strategies.c.id).where(lona_strategies.c.id == "s1")).first():
            connection.execute(insert(lona_strategies).values(id="s1", name="SMA crossover", description="",
                                                              origin="generated", actor="t", created_at=now))
        connection.execute(insert(lona_backtests).values(
            report_id=report_id, strategy_id="s1", symbol_ids=["sym1"],
            datasets=[{"ref": "test/AAA/1d", "version": "v1"}], start_date=date(2020, 1, 1),
            end_date=date(2020, 12, 31), initial_cash=10000, commission=0.001, status=status, total_stats=stats,
            error=error, category="CODE_ERROR" if error else None, actor="t", created_at=now, updated_at=now))


def calm_then_wild(seed: int = 3) -> pd.DataFrame:
    """600 daily candles: 300 calm (0.3 % daily moves) then 300 wild (4 %)."""
    frame = candles(seed, 600)
    rng = np.random.default_rng(seed)
    returns = np.r_[rng.normal(0, 0.003, 300), rng.normal(0, 0.04, 300)]
    close = 100 * np.exp(np.cumsum(returns))
    return frame.assign(open=close, high=close * 1.001, low=close * 0.999, close=close)
