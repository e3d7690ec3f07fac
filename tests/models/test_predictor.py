"""The pooled LSTM predictor: shapes, intervals, determinism, caching, shrinkage, bad input."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from models.errors import InsufficientData
from models.predictor import FittedPredictor, PredictorConfig, _shrinkage, fingerprint, fit

TINY = PredictorConfig(
    lookback=10,
    horizon=3,
    hidden_size=8,
    max_epochs=2,
    patience=1,
    samples_per_epoch=256,
    batch_size=64,
    min_samples=40,
    seed=3,
)


def random_walk_returns(n: int = 360, symbols: tuple[str, ...] = ("AAA", "BBB", "CCC"), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2020-01-01", periods=n)
    vols = np.linspace(0.01, 0.03, len(symbols))
    return pd.DataFrame(rng.standard_normal((n, len(symbols))) * vols, index=index, columns=list(symbols))


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    return random_walk_returns()


@pytest.fixture(scope="module")
def fitted(returns: pd.DataFrame) -> FittedPredictor:
    return fit(returns, TINY)


def test_predict_gives_one_forecast_per_symbol_with_ordered_interval(fitted, returns):
    forecasts = fitted.predict(returns)
    assert set(forecasts) == set(returns.columns)
    for symbol, forecast in forecasts.items():
        assert forecast.symbol == symbol
        assert forecast.as_of == returns.index[-1]
        assert forecast.horizon == TINY.horizon
        assert forecast.lower < forecast.expected_return < forecast.upper
        assert forecast.sigma > 0
        assert 0.0 <= forecast.shrinkage <= 1.0
        assert forecast.expected_return == pytest.approx(forecast.shrinkage * forecast.model_return)
        metrics = forecast.metrics
        assert metrics.n > 0
        assert metrics.rmse_ratio == pytest.approx(metrics.rmse / metrics.rmse_naive)
        assert 0.0 <= metrics.hit_rate <= 1.0
        assert 0.0 <= metrics.interval_coverage <= 1.0
        assert forecast.beats_naive == (metrics.rmse_ratio < 1.0)


def test_interval_width_follows_the_symbols_volatility(fitted, returns):
    forecasts = fitted.predict(returns)
    widths = [forecasts[s].upper - forecasts[s].lower for s in ("AAA", "CCC")]
    assert widths[1] > 2 * widths[0]  # CCC has three times AAA's volatility


def test_validation_is_walk_forward_with_calibrated_coverage(fitted):
    assert len(fitted.fold_epochs) == TINY.n_folds
    assert fitted.overall.interval_coverage == pytest.approx(TINY.interval_level, abs=0.02)


def test_same_seed_gives_the_same_model(returns, fitted):
    again = fit(returns, TINY)
    first, second = fitted.predict(returns), again.predict(returns)
    for symbol in returns.columns:
        assert first[symbol].model_return == second[symbol].model_return
        assert first[symbol].upper == second[symbol].upper


def test_bytes_round_trip_keeps_predictions_and_fingerprint(fitted, returns):
    restored = FittedPredictor.from_bytes(fitted.to_bytes())
    assert restored.config == fitted.config
    assert restored.data_fingerprint == fingerprint(returns)
    assert restored.is_current(returns, TINY)
    before, after = fitted.predict(returns), restored.predict(returns)
    for symbol in returns.columns:
        assert after[symbol] == before[symbol]


def test_fingerprint_changes_with_the_data(returns, fitted):
    changed = returns.copy()
    changed.iloc[-1, 0] += 1e-9
    assert fingerprint(returns.copy()) == fingerprint(returns)
    assert fingerprint(changed) != fingerprint(returns)
    assert not fitted.is_current(changed)
    assert not fitted.is_current(returns, PredictorConfig())


def test_a_model_that_does_not_beat_the_random_walk_is_shrunk(fitted, returns):
    forecasts = fitted.predict(returns)
    for forecast in forecasts.values():
        if not forecast.beats_naive:
            assert forecast.shrinkage <= 0.5
            assert "did NOT beat the random walk" in forecast.note
        if forecast.shrinkage == 0.0:
            assert forecast.expected_return == 0.0
            assert "shrunk to zero" in forecast.note


def test_shrinkage_is_the_validated_share_of_the_forecast():
    rng = np.random.default_rng(5)
    signal = rng.standard_normal(2000)
    assert _shrinkage(signal, signal, horizon=1, confidence=0.95) == pytest.approx(1.0)
    noise = rng.standard_normal(2000)
    assert _shrinkage(noise, rng.standard_normal(2000), horizon=1, confidence=0.95) < 0.1
    assert _shrinkage(noise, -signal, horizon=1, confidence=0.95) == 0.0
    # a forecast worse than zero (ratio >= 1) has slope <= 1/2, so it is always at least halved
    overshoot = 3 * signal
    worse = signal + 0.5 * noise
    assert math.sqrt(np.mean((worse - overshoot) ** 2)) > math.sqrt(np.mean(worse**2))
    assert _shrinkage(worse, overshoot, horizon=1, confidence=0.95) <= 0.5


def test_too_short_symbols_are_named_in_the_error(returns):
    short = returns.copy()
    short.loc[short.index[:-50], "BBB"] = np.nan
    with pytest.raises(InsufficientData) as error:
        fit(short, TINY)
    assert error.value.lengths == {"BBB": 50}
    assert error.value.required == TINY.required_length
    assert "BBB has 50" in str(error.value)


def test_predict_needs_a_full_lookback(fitted, returns):
    with pytest.raises(InsufficientData, match="CCC has 4"):
        fitted.predict(returns.iloc[-4:])


def test_empty_universe_is_refused():
    with pytest.raises(InsufficientData, match="empty universe"):
        fit(pd.DataFrame(index=pd.bdate_range("2020-01-01", periods=10)), TINY)


def test_nan_and_misaligned_calendars_are_dropped_per_symbol(fitted):
    data = random_walk_returns(seed=9)
    data.iloc[:60, 2] = np.nan  # listed later
    data.iloc[100:110, 0] = np.nan  # missing days
    data.iloc[-1, 1] = np.inf  # a bad value counts as missing
    model = fit(data, TINY)
    forecasts = model.predict(data)
    assert forecasts["BBB"].as_of == data.index[-2]
    assert forecasts["AAA"].as_of == data.index[-1]
    assert all(np.isfinite([f.expected_return, f.lower, f.upper]).all() for f in forecasts.values())


def test_forecast_history_marks_unrealised_forecasts(fitted, returns):
    history = fitted.forecast_history(returns, start=returns.index[-20])
    assert list(history.columns) == [
        "as_of",
        "symbol",
        "expected_return",
        "model_return",
        "lower",
        "upper",
        "sigma",
        "realized",
    ]
    assert len(history) == 20 * returns.shape[1]
    last = history[history["as_of"] == returns.index[-1]]
    assert last["realized"].isna().all()
    early = history[history["as_of"] == returns.index[-20]]
    expected = returns.iloc[-19:-16].sum()
    assert early.set_index("symbol")["realized"].to_dict() == pytest.approx(expected.to_dict())


def test_unknown_symbol_uses_pooled_calibration(fitted, returns):
    renamed = returns.rename(columns={"AAA": "NEW"})
    forecast = fitted.predict(renamed)["NEW"]
    assert forecast.shrinkage == fitted.pooled_shrinkage
    assert forecast.metrics == fitted.overall
    assert "not in the training set" in forecast.note


def test_torch_threads_are_restored(returns):
    before = torch.get_num_threads()
    fit(returns, replace(TINY, num_threads=1))
    assert torch.get_num_threads() == before


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="interval_level"):
        PredictorConfig(interval_level=1.5)
    with pytest.raises(ValueError, match="volatility"):
        PredictorConfig(volatility="arch")


def test_required_length_is_enough_for_a_symbol_on_its_own():
    single = random_walk_returns(n=TINY.required_length, symbols=("ONE",), seed=4)
    assert "ONE" in fit(single, TINY).predict(single)
    with pytest.raises(InsufficientData, match="ONE has"):
        fit(single.iloc[1:], TINY)


def test_garch_volatility_is_fitted_per_symbol_and_saved(returns):
    model = fit(returns, replace(TINY, volatility="garch"))
    assert {m.method for m in model.volatility.values()} == {"garch"}
    restored = FittedPredictor.from_bytes(model.to_bytes())
    assert restored.volatility == model.volatility
    forecast = restored.predict(returns)["CCC"]
    assert forecast.lower < forecast.expected_return < forecast.upper
