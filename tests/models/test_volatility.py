"""EWMA and GARCH(1,1) volatility: recursions, missing values, MLE recovery, forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InsufficientData
from models.volatility import VolatilityModel, ewma, fit_garch, forecast_volatility


def simulate_garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    variance = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = np.sqrt(variance) * rng.standard_normal()
        variance = omega + alpha * out[t] ** 2 + beta * variance
    return out


def test_ewma_matches_the_riskmetrics_recursion():
    r = np.random.default_rng(1).normal(0, 0.01, 200)
    v = ewma(0.94).one_step_variance(r)
    assert v.shape == (201,)
    assert v[0] == pytest.approx(np.mean(r[:50] ** 2))
    for t in (1, 57, 200):
        assert v[t] == pytest.approx(0.94 * v[t - 1] + 0.06 * r[t - 1] ** 2)


def test_ewma_carries_variance_over_missing_returns():
    r = np.random.default_rng(2).normal(0, 0.01, 100)
    r[40:45] = np.nan
    v = ewma().one_step_variance(r)
    assert np.all(np.isfinite(v))
    assert np.all(v[41:46] == v[40])


def test_ewma_forecast_is_flat_and_scales_with_sqrt_horizon():
    r = np.random.default_rng(3).normal(0, 0.02, 300)
    forecast = forecast_volatility(r, horizon=4)
    assert np.allclose(forecast.step_sigma, forecast.step_sigma[0])
    assert forecast.horizon_sigma == pytest.approx(2 * forecast.step_sigma[0])


def test_garch_mle_recovers_simulated_parameters():
    r = simulate_garch(4000, omega=2e-6, alpha=0.08, beta=0.9, seed=4)
    model = fit_garch(r)
    assert model.converged
    assert model.alpha == pytest.approx(0.08, abs=0.04)
    assert model.beta == pytest.approx(0.9, abs=0.05)
    assert model.persistence < 1


def test_garch_forecast_reverts_to_the_long_run_variance():
    model = VolatilityModel(method="garch", omega=1e-6, alpha=0.1, beta=0.8)
    high = model.step_variances(1e-3, 200)
    assert high[0] == pytest.approx(1e-3)
    assert high[-1] == pytest.approx(model.long_run_variance, rel=1e-6)
    assert np.all(np.diff(high) < 0)


def test_garch_on_a_short_series_raises_insufficient_data():
    with pytest.raises(InsufficientData, match="at least 100"):
        fit_garch(np.full(30, 0.01))
