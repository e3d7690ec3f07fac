"""Out-of-sample quality of the predictor on real data: RMSE vs the random walk, hit rate, interval coverage.

For each universe, the last three blocks of dates are forecast one after the other, each by a
predictor fitted only on the dates before the block (which itself validates walk-forward inside that
past). Every as-of date in a block gets a forecast of the next ``horizon`` returns; the realised
cumulative return is then compared with the published (shrunk) forecast, the raw LSTM forecast and the
zero-return forecast.

Run: ``python bench/predictor.py``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.package_data import backtesting_ohlcv, bokeh_adjusted_closes, closes_by_time, sp500_closes
from models.predictor import PredictorConfig, fit
from models.returns import log_returns

CONFIG = PredictorConfig(lookback=60, horizon=5, seed=7)
GOAL_RATIO = 1.00
GOAL_COVERAGE = (0.85, 0.95)


def universes() -> list[tuple[str, pd.DataFrame, int]]:
    """(name, log returns, length of each of the 3 out-of-sample blocks)."""
    return [
        ("sp500-20 1d", log_returns(sp500_closes()), 504),
        ("bokeh-4 1d", log_returns(bokeh_adjusted_closes()), 252),
        ("EURUSD 1h", log_returns(closes_by_time(backtesting_ohlcv("EURUSD"), "EURUSD")), 500),
    ]


def out_of_sample(returns: pd.DataFrame, block: int, blocks: int = 3) -> tuple[pd.DataFrame, list[dict]]:
    """Forecasts of every as-of date in the last ``blocks`` blocks, each from a model fitted before it."""
    parts, fits = [], []
    n = len(returns)
    for k in range(blocks, 0, -1):
        start, end = n - k * block, n - (k - 1) * block
        fitted = fit(returns.iloc[:start], CONFIG)
        history = fitted.forecast_history(returns, start=returns.index[start])
        history = history[history["as_of"] < returns.index[end]] if end < n else history
        history["shrinkage"] = history["symbol"].map(fitted.shrinkage)
        parts.append(history)
        fits.append(
            {
                "train_rows": start,
                "seconds": round(fitted.train_seconds, 1),
                "epochs": fitted.epochs,
                "validation_rmse_ratio": round(fitted.overall.rmse_ratio, 4),
                "pooled_shrinkage": round(fitted.pooled_shrinkage, 3),
            }
        )
    return pd.concat(parts, ignore_index=True).dropna(subset=["realized"]), fits


def scores(rows: pd.DataFrame) -> dict:
    """RMSE ratios (published and raw forecast), hit rate of the raw forecast, coverage of the interval."""
    y, published, raw = rows["realized"], rows["expected_return"], rows["model_return"]
    naive = float(np.sqrt(np.mean(y**2)))
    moved = y != 0
    return {
        "n": len(rows),
        "rmse_ratio": float(np.sqrt(np.mean((y - published) ** 2)) / naive),
        "rmse_ratio_raw": float(np.sqrt(np.mean((y - raw) ** 2)) / naive),
        "hit_rate": float(np.mean(np.sign(raw[moved]) == np.sign(y[moved]))),
        "up_rate": float(np.mean(y[moved] > 0)),
        "coverage": float(np.mean((y >= rows["lower"]) & (y <= rows["upper"]))),
        "mean_shrinkage": float(rows["shrinkage"].mean()),
    }


def standardized(rows: pd.DataFrame) -> pd.DataFrame:
    """Returns and forecasts in units of each forecast's sigma, so universes of different scale can be pooled."""
    out = rows.copy()
    for column in ("realized", "expected_return", "model_return", "lower", "upper"):
        out[column] = rows[column] / rows["sigma"]
    return out


def main() -> None:
    started = time.perf_counter()
    table, per_universe, pooled, fit_log = [], {}, [], {}
    for name, returns, block in universes():
        rows, fits = out_of_sample(returns, block)
        fit_log[name] = fits
        per_universe[name] = scores(rows)
        pooled.append(standardized(rows))
        for symbol, group in rows.groupby("symbol", sort=False):
            table.append({"universe": name, "symbol": symbol, **scores(group)})
        table.append({"universe": name, "symbol": "(all)", **per_universe[name]})
    overall = scores(pd.concat(pooled, ignore_index=True))
    frame = pd.DataFrame(table)
    pd.set_option("display.width", 200)
    print(
        f"predictor, out of sample: horizon {CONFIG.horizon} steps, lookback {CONFIG.lookback}, 3 blocks per universe"
    )
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print("fits:", json.dumps(fit_log))
    print(
        f"overall (pooled in sigma units): RMSE ratio {overall['rmse_ratio']:.4f} (raw LSTM "
        f"{overall['rmse_ratio_raw']:.4f}), hit rate {overall['hit_rate']:.3f} vs up-rate "
        f"{overall['up_rate']:.3f}, 90% interval coverage {overall['coverage']:.3f}"
    )
    goals = {
        "rmse_ratio_le_1": overall["rmse_ratio"] <= GOAL_RATIO,
        "coverage_in_85_95": GOAL_COVERAGE[0] <= overall["coverage"] <= GOAL_COVERAGE[1],
    }
    result = {
        "bench": "predictor",
        "config": {"lookback": CONFIG.lookback, "horizon": CONFIG.horizon, "seed": CONFIG.seed},
        "overall": {k: round(v, 4) if isinstance(v, float) else v for k, v in overall.items()},
        "universes": {
            name: {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
            for name, s in per_universe.items()
        },
        "goals_met": goals,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
