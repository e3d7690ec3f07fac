"""The optimizer step: target weights for the symbols not excluded, and the orders that move the book to them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import pandas as pd

from models.errors import InfeasibleConstraints, InsufficientData
from models.optimizer import Constraints, equal_sharpe_prior, optimize, propose_orders, shrunk_covariance
from services.core.errors import BadInput
from services.trading.execution.base import Account
from services.trading.risk import GateLimits

#: the settings bench/optimizer.py measured on 20 real stocks (Sharpe >= 1/N with a lower drawdown after costs):
#: every asset starts from the same conservative Sharpe ratio, the forecast adds only the skill validation kept
PRIOR_SHARPE = 0.3
RISK_AVERSION = 5.0
#: a trade costs about 10 bps and a position is held about a month (the bench's rebalancing period, 21 bars), so
#: its cost is spread over 21 bars: with every term of the objective proportional to the horizon, the target
#: weights do not depend on it (only the forecasts do)
TURNOVER_PENALTY_PER_HOLDING = 0.001
HOLDING_BARS = 21
#: orders smaller than this share of equity are not worth a ticket
MIN_ORDER_SHARE = 0.001


def allocate(returns: pd.DataFrame, forecasts: dict[str, dict], excluded: dict[str, str], account: Account,
             prices: dict[str, float], lot_size: Callable[[str], float], gate: GateLimits, horizon: int,
             periods_per_year: int, tilts: dict[str, float] | None = None,
             signal_tilts: dict[str, float] | None = None) -> dict:
    """Target weights, what they are expected to return and risk over the horizon, and the proposed orders.

    Excluded symbols are left as they are: no order, their current weight kept out of the budget.
    Positions outside the universe are not touched either. ``tilts`` (symbol → relative change, within
    ±``gate.sentimentTiltMax``) scale the optimizer's weights by news sentiment, ``signal_tilts`` (within
    ±``gate.lonaTiltMax``) by Lona signals; both add up into one relative change before the caps apply again.
    """
    held = {p.symbol: p.quantity for p in account.positions}
    equity = account.equity
    if not equity > 0:
        raise BadInput(f"the {account.venue} account has no equity ({equity:g}); fund it before running the graph")
    current = {s: held.get(s, 0.0) * prices[s] / equity for s in returns.columns}
    included = [s for s in returns.columns if s not in excluded]
    result = {"equity": equity, "excluded": sorted(excluded), "weights": {
        s: {"current": current[s], "target": current[s] if s in excluded else 0.0} for s in returns.columns}}
    if not included:
        return {**result, "orders": [], "cash_weight": 1.0 - sum(current.values()), "expected_return": 0.0,
                "expected_volatility": 0.0, "turnover": 0.0, "shrinkage": None, "converged": True,
                "message": "every symbol is excluded: nothing to optimise"}
    chosen = returns[included]
    penalty = TURNOVER_PENALTY_PER_HOLDING * horizon / HOLDING_BARS
    try:
        covariance, shrinkage = shrunk_covariance(chosen)
        prior = equal_sharpe_prior(covariance, PRIOR_SHARPE, horizon, periods_per_year)
        views = pd.Series({s: forecasts[s]["expected_return"] or 0.0 for s in included})
        constraints = Constraints(max_weight=gate.maxPositionWeight, risk_aversion=RISK_AVERSION,
                                  turnover_penalty=penalty, horizon=horizon,
                                  current_weights={s: current[s] for s in included})
        solution = optimize(chosen, prior + views, constraints, covariance=covariance)
    except (InsufficientData, InfeasibleConstraints) as error:
        raise BadInput(f"the optimizer cannot run on this universe: {error}") from None
    room = max(0.0, min(1.0, gate.maxGrossExposure) - sum(current[s] for s in excluded))
    weights = _within(solution.weights, room)
    sentiment = _bounded(tilts, gate.sentimentTiltMax, included)
    signal = _bounded(signal_tilts, gate.lonaTiltMax, included)
    if sentiment or signal:
        untilted = weights
        tilt = pd.Series({s: sentiment.get(s, 0.0) + signal.get(s, 0.0) for s in included})
        weights = _tilted(weights, tilt, gate.maxPositionWeight, room)
        for symbol in sorted(sentiment.keys() | signal.keys(), key=included.index):
            result["weights"][symbol]["before_tilt"] = float(untilted[symbol])
            for key, part in (("sentiment_tilt", sentiment), ("signal_tilt", signal)):
                if symbol in part:
                    result["weights"][symbol][key] = part[symbol]
    for symbol in included:
        result["weights"][symbol]["target"] = float(weights[symbol])
    orders = propose_orders(weights, {s: held.get(s, 0.0) for s in included}, prices, equity,
                            lot_sizes={s: lot_size(s) for s in included}, min_notional=MIN_ORDER_SHARE * equity)
    invested = sum(w["target"] for w in result["weights"].values())
    variance = float(weights @ covariance.loc[included, included] @ weights) * horizon
    return {**result, "orders": [asdict(o) for o in orders], "cash_weight": 1.0 - invested,
            "expected_return": float((prior + views) @ weights), "expected_volatility": variance ** 0.5,
            "turnover": float((weights - pd.Series({s: current[s] for s in included})).abs().sum()),
            "shrinkage": shrinkage, "converged": solution.converged, "message": solution.message,
            "prior_sharpe": PRIOR_SHARPE, "risk_aversion": RISK_AVERSION, "turnover_penalty": penalty}


def _bounded(tilts: dict[str, float] | None, bound: float, included: list[str]) -> dict[str, float]:
    """The non-zero ``tilts`` of included symbols, each clipped to ±``bound``."""
    return {s: max(-bound, min(bound, t)) for s, t in (tilts or {}).items() if s in included and t}


def _within(weights: pd.Series, room: float) -> pd.Series:
    """``weights`` scaled down to sum to at most ``room`` (the gross exposure left)."""
    total = weights.sum()
    return weights * (room / total) if total > room else weights


def _tilted(weights: pd.Series, tilt: pd.Series, max_weight: float, room: float) -> pd.Series:
    """Each weight moved by its relative ``tilt``: cuts in full, raises only up to the position cap and as far
    as the room left allows (shared pro rata), so no weight moves by more than its tilt."""
    change = weights * tilt
    cuts = change.clip(upper=0.0)
    raises = ((weights + change).clip(upper=max_weight) - weights).clip(lower=0.0)
    free = room - float((weights + cuts).sum())
    share = 1.0 if raises.sum() <= free else max(free, 0.0) / float(raises.sum())
    return weights + cuts + raises * share
