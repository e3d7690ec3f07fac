"""Walk-forward monthly rebalancing on skfolio's 20 US stocks: Sharpe, drawdown and turnover after costs vs 1/N.

At the last trading day of each month (from 1992, after two years of history), each strategy sets
target weights from the previous 504 daily log returns only; the portfolio then drifts with prices
until the next rebalance. Every rebalance pays ``COST_BPS`` on the traded notional (sum of absolute
weight changes against the drifted weights). Cash earns nothing; the Sharpe ratio is the annualised
mean over the standard deviation of daily returns (risk-free rate 0).

Strategies, all long-only, fully invested, weights in [0, 25 %], ``models.optimizer.optimize`` with
risk aversion 5 over a 21-day horizon and a turnover penalty equal to the trading cost unless said:

- ``1/N``: equal weights.
- ``min-var sample`` / ``min-var LW``: no expected returns, sample vs Ledoit-Wolf covariance.
- ``MV LW prior 0.3``: expected returns from ``equal_sharpe_prior`` (every stock the same Sharpe
  ratio, 0.3 a year), the optimizer's default without a view. This is the headline strategy.
- ``MV LW prior 0.5`` and ``MV LW prior 0.3, no penalty``: the same with a bolder prior, and without
  the turnover penalty, to show how much the result depends on those two choices.

Run: ``python bench/optimizer.py``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.package_data import sp500_closes
from models.optimizer import Constraints, equal_sharpe_prior, optimize, shrunk_covariance
from models.returns import log_returns

WINDOW = 504
COST_BPS = 10.0
MAX_WEIGHT = 0.25
HORIZON = 21  # trading days between rebalances: the horizon the penalty and the risk are measured over
RISK_AVERSION = 5.0
TRADING_DAYS = 252
HEADLINE = "MV LW prior 0.3"

Strategy = Callable[[pd.DataFrame, pd.Series], pd.Series]


def equal_weight(history: pd.DataFrame, current: pd.Series) -> pd.Series:
    return pd.Series(1.0 / history.shape[1], index=history.columns)


def mean_variance(
    history: pd.DataFrame,
    current: pd.Series,
    sharpe_prior: float | None,
    ledoit_wolf: bool = True,
    penalty: bool = True,
) -> pd.Series:
    covariance = shrunk_covariance(history)[0] if ledoit_wolf else history.cov()
    expected = None if sharpe_prior is None else equal_sharpe_prior(covariance, sharpe_prior, HORIZON, TRADING_DAYS)
    constraints = Constraints(
        max_weight=MAX_WEIGHT,
        fully_invested=True,
        risk_aversion=RISK_AVERSION,
        horizon=HORIZON,
        turnover_penalty=COST_BPS / 10_000 if penalty else 0.0,
        current_weights=current.to_dict(),
    )
    return optimize(history, expected, constraints, covariance=covariance).weights


STRATEGIES: dict[str, Strategy] = {
    "1/N": equal_weight,
    "min-var sample": partial(mean_variance, sharpe_prior=None, ledoit_wolf=False),
    "min-var LW": partial(mean_variance, sharpe_prior=None),
    HEADLINE: partial(mean_variance, sharpe_prior=0.3),
    "MV LW prior 0.5": partial(mean_variance, sharpe_prior=0.5),
    "MV LW prior 0.3, no penalty": partial(mean_variance, sharpe_prior=0.3, penalty=False),
}


def rebalance_positions(index: pd.DatetimeIndex) -> list[int]:
    """Row positions of the last trading day of each month, once WINDOW days of history exist."""
    month_ends = pd.Series(np.arange(len(index)), index=index).groupby(index.to_period("M")).max()
    return [int(p) for p in month_ends if p >= WINDOW]


def backtest(strategy: Strategy, simple: pd.DataFrame, logs: pd.DataFrame) -> dict:
    """Daily returns after costs and total turnover of a strategy rebalanced at month ends."""
    positions = rebalance_positions(simple.index)
    rebalance_at = set(positions)
    start = positions[0]
    r = simple.to_numpy()
    weights = np.zeros(r.shape[1])
    daily = np.zeros(len(simple) - start - 1)
    turnover = costs = 0.0
    for position in range(start, len(simple)):
        if position > start:
            gross = float(weights @ r[position])
            daily[position - start - 1] = gross
            weights = weights * (1 + r[position]) / (1 + gross)
        if position in rebalance_at:
            history = logs.iloc[position - WINDOW + 1 : position + 1]
            current = pd.Series(weights, index=simple.columns)
            target = strategy(history, current).reindex(simple.columns).fillna(0.0).to_numpy()
            traded = float(np.abs(target - weights).sum())
            cost = traded * COST_BPS / 10_000
            if position > start:
                daily[position - start - 1] = (1 + daily[position - start - 1]) * (1 - cost) - 1
            turnover += traded
            costs += cost
            weights = target
    return {"returns": pd.Series(daily, index=simple.index[start + 1 :]), "turnover": turnover, "costs": costs}


def summary(result: dict) -> dict:
    returns = result["returns"]
    years = len(returns) / TRADING_DAYS
    equity = (1 + returns).cumprod()
    return {
        "annual_return": float(equity.iloc[-1] ** (1 / years) - 1),
        "annual_volatility": float(returns.std() * np.sqrt(TRADING_DAYS)),
        "sharpe": float(returns.mean() / returns.std() * np.sqrt(TRADING_DAYS)),
        "max_drawdown": float((equity / equity.cummax() - 1).min()),
        "annual_turnover": result["turnover"] / years,
        "annual_cost": result["costs"] / years,
    }


def main() -> None:
    started = time.perf_counter()
    closes = sp500_closes()
    simple = closes.pct_change().iloc[1:]
    logs = log_returns(closes)
    rows = {name: summary(backtest(strategy, simple, logs)) for name, strategy in STRATEGIES.items()}
    first = simple.index[rebalance_positions(simple.index)[0] + 1]
    print(
        f"walk-forward monthly rebalancing, 20 stocks, {first.date()} to {simple.index[-1].date()}, costs "
        f"{COST_BPS:g} bps of traded notional, {WINDOW}-day window, weights in [0, {MAX_WEIGHT}], risk aversion "
        f"{RISK_AVERSION:g}"
    )
    pd.set_option("display.width", 200)
    print(pd.DataFrame(rows).T.to_string(float_format=lambda v: f"{v:.4f}"))
    chosen, benchmark = rows[HEADLINE], rows["1/N"]
    goals = {
        "sharpe_ge_1_over_n": chosen["sharpe"] >= benchmark["sharpe"],
        "drawdown_lower_than_1_over_n": chosen["max_drawdown"] > benchmark["max_drawdown"],
    }
    print(f"headline {HEADLINE!r} vs 1/N: {goals}")
    result = {
        "bench": "optimizer",
        "period": [str(first.date()), str(simple.index[-1].date())],
        "cost_bps": COST_BPS,
        "headline": HEADLINE,
        "strategies": {name: {k: round(v, 4) for k, v in row.items()} for name, row in rows.items()},
        "goals_met": {k: bool(v) for k, v in goals.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
