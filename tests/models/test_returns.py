"""Log returns from closes, per symbol, across missing dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.returns import log_returns


def test_log_returns_skip_missing_dates_per_symbol():
    closes = pd.DataFrame(
        {"A": [100.0, 110.0, np.nan, 121.0], "B": [np.nan, 50.0, 55.0, 0.0]},
        index=pd.bdate_range("2024-01-01", periods=4),
    )
    returns = log_returns(closes)
    assert list(returns.index) == list(closes.index[1:])
    assert returns["A"].tolist()[:1] == pytest.approx([np.log(1.1)])
    assert np.isnan(returns["A"].iloc[1])
    assert returns["A"].iloc[2] == pytest.approx(np.log(121 / 110))  # two-day return on the next valid date
    assert np.isnan(returns["B"].iloc[0])
    assert returns["B"].iloc[1] == pytest.approx(np.log(1.1))
    assert np.isnan(returns["B"].iloc[2])  # a zero price is missing, not -inf


def test_a_series_becomes_a_one_column_frame():
    returns = log_returns(pd.Series([1.0, 2.0, 4.0], name="X"))
    assert list(returns.columns) == ["X"]
    assert returns["X"].tolist() == pytest.approx([np.log(2), np.log(2)])
