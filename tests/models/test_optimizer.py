"""Mean-variance optimizer (constraints, turnover penalty, priors) and order proposals (lots, minimums, sides)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InfeasibleConstraints, InsufficientData
from models.optimizer import (
    Constraints,
    equal_sharpe_prior,
    optimize,
    propose_orders,
    shrunk_covariance,
)

SYMBOLS = ["A", "B", "C", "D", "E"]


def daily_returns(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vols = np.array([0.01, 0.015, 0.02, 0.025, 0.03])
    market = rng.normal(0, 0.008, (n, 1))
    noise = rng.standard_normal((n, 5)) * vols
    return pd.DataFrame(market + noise, index=pd.bdate_range("2021-01-01", periods=n), columns=SYMBOLS)


VIEWS = pd.Series([0.002, 0.004, 0.006, 0.008, 0.010], index=SYMBOLS)


def test_weights_respect_boxes_budget_and_long_only():
    result = optimize(daily_returns(), VIEWS, Constraints(min_weight=0.05, max_weight=0.3, horizon=5))
    w = result.weights
    assert list(w.index) == SYMBOLS
    assert result.converged
    assert (w >= 0.05 - 1e-9).all() and (w <= 0.3 + 1e-9).all()
    assert w.sum() <= 1 + 1e-9
    assert result.cash_weight == pytest.approx(1 - w.sum(), abs=1e-9)
    assert result.expected_return == pytest.approx(float(VIEWS @ w))
    assert result.expected_volatility > 0


def test_per_symbol_bounds():
    result = optimize(daily_returns(), VIEWS, Constraints(max_weight={"E": 0.1, "D": 0.0}, horizon=5))
    assert result.weights["E"] <= 0.1 + 1e-9
    assert result.weights["D"] == 0.0


def test_fully_invested_without_views_is_minimum_variance():
    result = optimize(daily_returns(), None, Constraints(fully_invested=True))
    assert result.weights.sum() == pytest.approx(1.0)
    assert result.cash_weight == 0.0
    # the least volatile asset gets the most weight
    assert result.weights.idxmax() == "A"


def test_no_views_and_cash_allowed_means_cash():
    result = optimize(daily_returns(), None, Constraints())
    assert result.weights.sum() == pytest.approx(0.0, abs=1e-6)
    assert result.cash_weight == pytest.approx(1.0)


def test_higher_risk_aversion_lowers_risk():
    returns = daily_returns()
    bold = optimize(returns, VIEWS, Constraints(risk_aversion=1.0, horizon=5))
    careful = optimize(returns, VIEWS, Constraints(risk_aversion=50.0, horizon=5))
    assert careful.expected_volatility < bold.expected_volatility


def test_turnover_penalty_reduces_turnover():
    returns = daily_returns()
    current = {"A": 0.5, "B": 0.5}
    free = optimize(returns, VIEWS, Constraints(horizon=5, current_weights=current, fully_invested=True))
    costly = optimize(
        returns, VIEWS, Constraints(horizon=5, current_weights=current, fully_invested=True, turnover_penalty=0.005)
    )
    assert costly.turnover < free.turnover
    assert free.turnover == pytest.approx(
        float((free.weights - pd.Series(current).reindex(SYMBOLS).fillna(0)).abs().sum())
    )
    prohibitive = optimize(
        returns, VIEWS, Constraints(horizon=5, current_weights=current, fully_invested=True, turnover_penalty=1.0)
    )
    assert prohibitive.turnover == pytest.approx(0.0, abs=1e-6)


def test_infeasible_constraints_are_explained():
    with pytest.raises(InfeasibleConstraints, match="cannot be fully invested"):
        optimize(daily_returns(), None, Constraints(max_weight=0.1, fully_invested=True))
    with pytest.raises(InfeasibleConstraints, match="min weights sum"):
        optimize(daily_returns(), None, Constraints(min_weight=0.3))


def test_covariance_needs_enough_complete_rows():
    returns = daily_returns(n=40)
    returns.iloc[:30, 0] = np.nan
    with pytest.raises(InsufficientData, match="complete rows"):
        shrunk_covariance(returns)


def test_a_given_covariance_is_aligned_by_symbol():
    returns = daily_returns()
    covariance, _ = shrunk_covariance(returns)
    shuffled = covariance.loc[SYMBOLS[::-1], SYMBOLS[::-1]]
    a = optimize(returns, VIEWS, Constraints(horizon=5))
    b = optimize(returns, VIEWS, Constraints(horizon=5), covariance=shuffled)
    pd.testing.assert_series_equal(a.weights, b.weights, atol=1e-6)


def test_equal_sharpe_prior_is_proportional_to_volatility():
    covariance, _ = shrunk_covariance(daily_returns())
    prior = equal_sharpe_prior(covariance, annual_sharpe=0.5, horizon=21)
    sigma = np.sqrt(np.diag(covariance.to_numpy()))
    assert np.allclose(prior.to_numpy() / sigma, 0.5 * 21 / np.sqrt(252))


PRICES = {"A": 10.0, "B": 250.0, "C": 0.5}


def test_orders_round_down_to_lot_size_and_sell_first():
    orders = propose_orders(
        {"A": 0.25, "B": 0.5},
        current_positions={"C": 1000.0},
        last_prices=PRICES,
        equity=10_000,
        lot_sizes={"A": 10, "B": 1, "C": 100},
    )
    assert [(o.symbol, o.side, o.quantity) for o in orders] == [
        ("C", "sell", 1000.0),  # closing: sell everything held
        ("A", "buy", 250.0),  # 2,500 / 10 = 250 exactly
        ("B", "buy", 20.0),  # 5,000 / 250 = 20
    ]
    for order in orders:
        assert order.order_type == "market" and order.limit_price is None
        assert order.notional == pytest.approx(order.quantity * order.reference_price)


def test_quantities_never_overshoot_the_target():
    orders = propose_orders({"A": 0.333}, {}, PRICES, equity=10_000, lot_sizes=7)
    assert orders[0].quantity == 329  # 333 wanted, 47 lots of 7
    fractional = propose_orders({"B": 0.1}, {}, PRICES, equity=10_000, lot_sizes={"B": 0.001})
    assert fractional[0].quantity == 4.0
    crypto = propose_orders({"C": 0.07}, {}, PRICES, equity=1_000.3, lot_sizes={"C": 0.1})
    assert crypto[0].quantity == 140.0  # 140.042 rounded down, without float dust


def test_no_order_for_tiny_differences():
    held = {"A": 250.0, "B": 19.0}
    orders = propose_orders({"A": 0.2504, "B": 0.5}, held, PRICES, equity=10_000, lot_sizes=1, min_notional=300)
    assert orders == []  # A: 0.4 of a share; B: one share of 250 < 300 minimum
    orders = propose_orders({"A": 0.2504, "B": 0.5}, held, PRICES, equity=10_000, lot_sizes=1, min_notional=100)
    assert [(o.symbol, o.side, o.quantity) for o in orders] == [("B", "buy", 1.0)]


def test_reducing_a_position_sells_the_difference():
    orders = propose_orders({"B": 0.25}, {"B": 20.0}, PRICES, equity=10_000)
    assert [(o.side, o.quantity, o.current_quantity, o.target_weight) for o in orders] == [("sell", 10.0, 20.0, 0.25)]


def test_limit_orders_are_priced_through_the_reference():
    orders = propose_orders({"A": 0.5}, {"B": 4.0}, PRICES, 10_000, order_type="limit", limit_offset_bps=20)
    sell, buy = orders
    assert sell.limit_price == pytest.approx(250 * 0.998)
    assert buy.limit_price == pytest.approx(10 * 1.002)


def test_orders_need_prices_and_equity():
    with pytest.raises(ValueError, match="no valid last price for D"):
        propose_orders({"D": 0.1}, {}, PRICES, 10_000)
    with pytest.raises(ValueError, match="equity must be > 0"):
        propose_orders({"A": 0.1}, {}, PRICES, 0)
