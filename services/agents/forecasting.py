"""The predictor step: fit the LSTM on the universe (or reuse the weights fitted on the same data) and forecast."""

from __future__ import annotations

import math
import time
from dataclasses import asdict

import pandas as pd

from models.errors import InsufficientData
from models.predictor import FittedPredictor, Forecast, PredictorConfig, fingerprint, fit
from services.agents.artifacts import ArtifactCache, artifact_key
from services.agents.universe import Universe
from services.core.errors import BadInput

KIND = "predictor"
#: bars of history kept with each forecast for the chart
HISTORY_BARS = 120


def fitted_predictor(returns: pd.DataFrame, config: PredictorConfig,
                     cache: ArtifactCache) -> tuple[FittedPredictor, dict]:
    """The predictor for exactly these returns and this config: from the cache, else trained and cached.

    Returns it with facts about the model (key, cached or not, training time, epochs, overall metrics).
    Raises BadInput (naming the short symbols) when the data cannot support training.
    """
    key = artifact_key(fingerprint(returns), asdict(config))
    started = time.perf_counter()
    stored = cache.get(KIND, key)
    model = FittedPredictor.from_bytes(stored) if stored else None
    if model is not None and not model.is_current(returns, config):
        model = None  # a key collision or a format change: never reuse weights fitted on other data
    cached = model is not None
    if model is None:
        try:
            model = fit(returns, config)
        except InsufficientData as short:
            raise BadInput(str(short)) from None
        cache.put(KIND, key, model.to_bytes())
    facts = {"key": key, "cached": cached, "seconds": round(time.perf_counter() - started, 3),
             "train_seconds": round(model.train_seconds, 3), "epochs": model.epochs, "fold_epochs": model.fold_epochs,
             "window": config.lookback, "horizon": config.horizon, "overall": asdict(model.overall),
             "pooled_shrinkage": model.pooled_shrinkage}
    return model, facts


def forecast(universe: Universe, config: PredictorConfig, cache: ArtifactCache) -> tuple[dict[str, dict], dict]:
    """Per symbol: expected return over the horizon, its interval, price equivalents, metrics vs naive, history."""
    returns = universe.returns()
    model, facts = fitted_predictor(returns, config, cache)
    try:
        forecasts = model.predict(returns)
    except InsufficientData as short:
        raise BadInput(str(short)) from None
    prices = universe.last_prices()
    return {s: _describe(forecasts[s], prices[s], universe.closes[s]) for s in universe.symbols}, facts


def _describe(item: Forecast, last_close: float, closes: pd.Series) -> dict:
    history = closes.iloc[-HISTORY_BARS:]
    return {
        "expected_return": item.expected_return, "model_return": item.model_return, "lower": item.lower,
        "upper": item.upper, "interval_level": item.interval_level, "sigma": item.sigma, "horizon": item.horizon,
        "shrinkage": item.shrinkage, "beats_naive": item.beats_naive, "note": item.note,
        "metrics": asdict(item.metrics), "as_of_ms": int(item.as_of), "last_close": last_close,
        "expected_price": last_close * math.exp(item.expected_return),
        "lower_price": last_close * math.exp(item.lower), "upper_price": last_close * math.exp(item.upper),
        "history": {"t": [int(t) for t in history.index], "close": [float(c) for c in history.to_numpy()]},
    }
