"""Log returns from close prices, the common input of the predictor, the volatility model and the optimizer."""

from __future__ import annotations

import numpy as np
import pandas as pd


def log_returns(closes: pd.DataFrame | pd.Series) -> pd.DataFrame:
    """Log returns ``log(close[t] / close[t-1])`` per column, on the index of ``closes`` minus its first row.

    Each column uses its own previous valid close, so a symbol missing on some dates (misaligned
    calendars) gets NaN there and a multi-step return on its next valid date, instead of NaN spreading.
    Non-positive prices are treated as missing.
    """
    frame = closes.to_frame() if isinstance(closes, pd.Series) else closes
    prices = frame.astype("float64").where(frame > 0)
    logs = np.log(prices)
    returns = logs - logs.ffill().shift(1)
    return returns.iloc[1:]
