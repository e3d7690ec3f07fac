"""Long-only mean-variance weights on a Ledoit-Wolf covariance with a turnover penalty, and the orders that reach them.

Why scipy (SLSQP) rather than skfolio or PyPortfolioOpt: the problem is a small smooth quadratic
programme once the L1 turnover term is written with slack variables (``u >= |w - w0|``), so SLSQP
solves it exactly with analytic gradients; it needs no extra solver dependency (cvxpy and its
backends), and we keep exact control of the objective: the penalty is a cost in the same return units
as the expected returns, so ``turnover_penalty = 0.001`` means "a trade must earn 10 bps over the
horizon to be worth doing".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.covariance import LedoitWolf

from models.errors import InfeasibleConstraints, InsufficientData

#: fewest complete rows (dates with a return for every symbol) for a covariance estimate
MIN_OBSERVATIONS = 20
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Constraints:
    """Constraints and preferences of the optimisation.

    Weights are fractions of equity; what is not invested is cash. ``expected`` returns passed to
    ``optimize`` cover ``horizon`` steps of the ``returns`` frequency (e.g. the predictor's 5-day
    cumulative log return with ``horizon=5``); the per-step covariance is scaled by ``horizon`` to match.
    """

    #: lower bound per asset (a number for all, or per symbol; missing symbols get 0)
    min_weight: float | Mapping[str, float] = 0.0
    #: upper bound per asset (a number for all, or per symbol; missing symbols get 1)
    max_weight: float | Mapping[str, float] = 1.0
    #: True: weights sum to 1; False: they sum to at most 1 and the rest is cash
    fully_invested: bool = False
    #: lambda in ``mu'w - lambda/2 w'Sigma w``; larger means more averse to variance
    risk_aversion: float = 5.0
    #: cost of one unit of L1 turnover ``sum |w - current|`` in horizon return units (0.001 = 10 bps)
    turnover_penalty: float = 0.0
    horizon: int = 1
    #: weights held now (symbols missing count as 0); None means starting from cash
    current_weights: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.risk_aversion < 0:
            raise ValueError(f"risk_aversion must be >= 0, got {self.risk_aversion}")
        if self.turnover_penalty < 0:
            raise ValueError(f"turnover_penalty must be >= 0, got {self.turnover_penalty}")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")


@dataclass(frozen=True)
class OptimizationResult:
    """Target weights and what the model expects of them over the horizon."""

    weights: pd.Series
    cash_weight: float
    #: ``mu'w`` over the horizon
    expected_return: float
    #: ``sqrt(w' Sigma_h w)`` over the horizon
    expected_volatility: float
    #: L1 distance to the current weights
    turnover: float
    #: Ledoit-Wolf shrinkage intensity (0 = sample covariance, 1 = scaled identity)
    shrinkage: float
    #: shrunk per-step covariance
    covariance: pd.DataFrame
    converged: bool
    message: str


@dataclass(frozen=True)
class ProposedOrder:
    """An order that moves a position towards its target weight."""

    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    order_type: Literal["market", "limit"]
    reference_price: float
    #: quantity x reference price
    notional: float
    #: limit price for limit orders, None for market orders
    limit_price: float | None
    target_weight: float
    current_quantity: float


def shrunk_covariance(returns: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Ledoit-Wolf covariance of the rows where every symbol has a return, and its shrinkage intensity.

    Raises InsufficientData when fewer than ``MIN_OBSERVATIONS`` complete rows remain.
    """
    complete = returns.replace([np.inf, -np.inf], np.nan).dropna()
    if len(complete) < MIN_OBSERVATIONS:
        raise InsufficientData({"universe (complete rows)": len(complete)}, MIN_OBSERVATIONS, "estimate the covariance")
    estimator = LedoitWolf().fit(complete.to_numpy(dtype=np.float64))
    covariance = pd.DataFrame(estimator.covariance_, index=returns.columns, columns=returns.columns)
    return covariance, float(estimator.shrinkage_)


def equal_sharpe_prior(
    covariance: pd.DataFrame, annual_sharpe: float = 0.3, horizon: int = 1, periods_per_year: int = 252
) -> pd.Series:
    """Expected returns over ``horizon`` steps when there is no view: every asset earns the same Sharpe ratio.

    ``mu_i = annual_sharpe * sigma_i * horizon / sqrt(periods_per_year)`` with ``sigma_i`` the per-step
    volatility from ``covariance``. Mean-variance on this prior sits between the minimum-variance and the
    maximum-diversification portfolios; 0.3 is a conservative long-run Sharpe ratio of single stocks.
    """
    sigma = np.sqrt(np.clip(np.diag(covariance.to_numpy(dtype=np.float64)), 0.0, None))
    scale = annual_sharpe * horizon / math.sqrt(periods_per_year)
    return pd.Series(scale * sigma, index=covariance.index, name="expected_return")


def _bounds(symbols: list[str], value: float | Mapping[str, float], default: float) -> np.ndarray:
    if isinstance(value, Mapping):
        return np.array([float(value.get(s, default)) for s in symbols])
    return np.full(len(symbols), float(value))


def optimize(
    returns: pd.DataFrame,
    expected: pd.Series | None = None,
    constraints: Constraints | None = None,
    covariance: pd.DataFrame | None = None,
) -> OptimizationResult:
    """Maximise ``mu'w - lambda/2 w'Sigma_h w - penalty * sum|w - w_current|`` over long-only weights.

    ``returns``: per-step returns (rows = dates, columns = symbols). ``expected``: expected returns
    over ``constraints.horizon`` steps per symbol; None means no view (mu = 0). Note that with mu = 0
    and cash allowed, holding cash is optimal: use ``fully_invested=True`` for the minimum-variance
    portfolio. ``covariance``: a per-step covariance to use instead of the Ledoit-Wolf estimate of
    ``returns`` (e.g. one already computed; ``shrinkage`` is then reported as NaN). Raises
    InfeasibleConstraints when the bounds cannot meet the budget.
    """
    cons = constraints or Constraints()
    symbols = [str(c) for c in returns.columns]
    frame = returns.set_axis(symbols, axis=1)
    if covariance is None:
        covariance, shrinkage = shrunk_covariance(frame)
    else:
        given = covariance.rename(index=str, columns=str)
        covariance, shrinkage = given.loc[symbols, symbols], float("nan")
    sigma_h = covariance.to_numpy() * cons.horizon
    n = len(symbols)
    mu = np.zeros(n) if expected is None else expected.reindex(symbols).fillna(0.0).to_numpy(dtype=np.float64)
    lower = np.clip(_bounds(symbols, cons.min_weight, 0.0), 0.0, 1.0)
    upper = np.clip(_bounds(symbols, cons.max_weight, 1.0), 0.0, 1.0)
    if np.any(lower > upper + _TOLERANCE):
        bad = [s for s, lo, hi in zip(symbols, lower, upper, strict=True) if lo > hi]
        raise InfeasibleConstraints(f"min_weight above max_weight for {', '.join(bad)}")
    if lower.sum() > 1 + _TOLERANCE:
        raise InfeasibleConstraints(f"min weights sum to {lower.sum():.3f} > 1")
    if cons.fully_invested and upper.sum() < 1 - _TOLERANCE:
        raise InfeasibleConstraints(
            f"max weights sum to {upper.sum():.3f} < 1, so the portfolio cannot be fully invested "
            "(raise max_weight, add symbols, or allow cash)"
        )
    current = np.array([float((cons.current_weights or {}).get(s, 0.0)) for s in symbols])
    lam, kappa = cons.risk_aversion, cons.turnover_penalty

    def objective(z: np.ndarray) -> float:
        w, u = z[:n], z[n:]
        return float(-mu @ w + 0.5 * lam * w @ sigma_h @ w + kappa * u.sum())

    def gradient(z: np.ndarray) -> np.ndarray:
        w = z[:n]
        return np.concatenate([-mu + lam * sigma_h @ w, np.full(n, kappa)])

    eye = np.eye(n)
    # u - (w - w0) >= 0 and u + (w - w0) >= 0: u is at least |w - w0|, and equal to it at the optimum
    slack_matrix = np.vstack([np.hstack([-eye, eye]), np.hstack([eye, eye])])
    slack_offset = np.concatenate([current, -current])
    budget_row = np.concatenate([np.ones(n), np.zeros(n)])
    constraint_list = [
        {"type": "ineq", "fun": lambda z: slack_matrix @ z + slack_offset, "jac": lambda z: slack_matrix},
        {
            "type": "eq" if cons.fully_invested else "ineq",
            "fun": (lambda z: budget_row @ z - 1.0) if cons.fully_invested else (lambda z: 1.0 - budget_row @ z),
            "jac": (lambda z: budget_row) if cons.fully_invested else (lambda z: -budget_row),
        },
    ]
    start_w = _feasible_start(current, lower, upper, cons.fully_invested)
    start = np.concatenate([start_w, np.abs(start_w - current)])
    bounds = [(lo, hi) for lo, hi in zip(lower, upper, strict=True)] + [(0.0, 2.0)] * n
    result = minimize(
        objective,
        start,
        jac=gradient,
        method="SLSQP",
        bounds=bounds,
        constraints=constraint_list,
        options={"maxiter": 500, "ftol": 1e-12},
    )
    weights = np.clip(result.x[:n], lower, upper)
    weights[weights < 1e-6] = 0.0  # solver dust, not a position
    if weights.sum() > 1.0:
        weights = weights / weights.sum()
    variance = float(weights @ sigma_h @ weights)
    return OptimizationResult(
        weights=pd.Series(weights, index=symbols, name="weight"),
        cash_weight=float(max(0.0, 1.0 - weights.sum())) if weights.sum() < 1.0 - _TOLERANCE else 0.0,
        expected_return=float(mu @ weights),
        expected_volatility=math.sqrt(max(variance, 0.0)),
        turnover=float(np.abs(weights - current).sum()),
        shrinkage=shrinkage,
        covariance=covariance,
        converged=bool(result.success),
        message=str(result.message),
    )


def _feasible_start(current: np.ndarray, lower: np.ndarray, upper: np.ndarray, fully_invested: bool) -> np.ndarray:
    """The current weights moved inside the bounds and the budget: SLSQP converges best from there."""
    w = np.clip(current, lower, upper)
    total = w.sum()
    if (fully_invested and abs(total - 1.0) > _TOLERANCE) or total > 1.0:
        # fill (or drain) proportionally to the room left in each box
        room = (upper - w) if total < 1.0 else (w - lower)
        if room.sum() > 0:
            w = w + np.sign(1.0 - total) * room * min(1.0, abs(1.0 - total) / room.sum())
    return w


def _round_down(quantity: float, lot: float) -> float:
    """``quantity`` rounded towards zero to a multiple of ``lot``, without float dust (0.30000000000000004)."""
    if lot <= 0:
        raise ValueError(f"lot size must be > 0, got {lot}")
    lots = math.floor(abs(quantity) / lot + 1e-9)
    decimals = max(0, -math.floor(math.log10(lot)) + 6)
    return math.copysign(round(lots * lot, decimals), quantity) if lots else 0.0


def propose_orders(
    target_weights: pd.Series | Mapping[str, float],
    current_positions: Mapping[str, float],
    last_prices: Mapping[str, float],
    equity: float,
    lot_sizes: Mapping[str, float] | float = 1.0,
    min_notional: float = 0.0,
    order_type: Literal["market", "limit"] = "market",
    limit_offset_bps: float = 0.0,
) -> list[ProposedOrder]:
    """Orders that move ``current_positions`` (symbol -> quantity) towards ``target_weights`` of ``equity``.

    Quantities are rounded down (towards zero) to the symbol's lot size, so an order never overshoots
    its target; orders below ``min_notional`` are dropped. Positions absent from the targets are
    sold. Sells come first (they free the cash the buys need). Limit orders are priced
    ``limit_offset_bps`` through the reference price (above it for buys, below for sells).
    Raises ValueError when equity is not positive or a needed price is missing or not positive.
    """
    if not equity > 0:
        raise ValueError(f"equity must be > 0 to size orders, got {equity}")
    targets = {str(s): float(w) for s, w in dict(target_weights).items()}
    symbols = sorted(set(targets) | {s for s, q in current_positions.items() if q})
    orders = []
    for symbol in symbols:
        price = last_prices.get(symbol)
        if price is None or not price > 0:
            raise ValueError(f"no valid last price for {symbol} ({price!r}); cannot size its order")
        lot = float(lot_sizes.get(symbol, 1.0) if isinstance(lot_sizes, Mapping) else lot_sizes)
        held = float(current_positions.get(symbol, 0.0))
        target_quantity = targets.get(symbol, 0.0) * equity / price
        quantity = _round_down(target_quantity - held, lot)
        if targets.get(symbol, 0.0) == 0.0 and held > 0:
            quantity = -held  # closing a position: sell all of it, whatever the lot rounding says
        notional = abs(quantity) * price
        if quantity == 0 or notional < min_notional:
            continue
        side: Literal["buy", "sell"] = "buy" if quantity > 0 else "sell"
        limit = None
        if order_type == "limit":
            offset = limit_offset_bps / 10_000
            limit = price * (1 + offset) if side == "buy" else price * (1 - offset)
        orders.append(
            ProposedOrder(
                symbol=symbol,
                side=side,
                quantity=abs(quantity),
                order_type=order_type,
                reference_price=float(price),
                notional=notional,
                limit_price=limit,
                target_weight=targets.get(symbol, 0.0),
                current_quantity=held,
            )
        )
    return sorted(orders, key=lambda o: (o.side != "sell", o.symbol))
