"""The Market Data page's view model without Streamlit: overlays, the candle cap."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.views.market import ChartBuilder
from services.market_data.datasets import DatasetRef

DAY = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
REF = DatasetRef.of("sample", "WARM", "1d")


def _daily(n: int) -> pd.DataFrame:
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"timestamp": T0 + DAY * np.arange(n, dtype="int64"), "open": close, "high": close + 1,
                         "low": close - 1, "close": close, "volume": np.full(n, 5.0)})


def test_moving_averages_start_at_the_first_candle_of_the_range_using_earlier_candles(runtime):
    runtime.datasets.write(REF, _daily(400))
    start = T0 + 300 * DAY
    chart = ChartBuilder(runtime.datasets).build(REF, start, T0 + 399 * DAY, None, (200,), (50,))
    assert len(chart.frame) == 100 and int(chart.frame["timestamp"].iloc[0]) == start
    sma, ema = (overlay.values for overlay in chart.overlays)
    assert len(sma) == len(ema) == 100 and not np.isnan(sma).any() and not np.isnan(ema).any()
    assert sma[0] == np.mean(100 + np.arange(101, 301, dtype=float))


def test_moving_averages_without_enough_history_stay_empty_until_the_window_fills(runtime):
    runtime.datasets.write(REF, _daily(30))
    chart = ChartBuilder(runtime.datasets).build(REF, T0 + 10 * DAY, T0 + 29 * DAY, None, (15,))
    values = chart.overlays[0].values
    assert np.isnan(values[:4]).all() and not np.isnan(values[4:]).any()


def test_volume_is_two_filled_steps_coloured_by_direction_with_the_volume_in_the_hover(runtime):
    from components.charts import DOWN, UP, candles_figure

    frame = _daily(4)
    frame.loc[1, "close"] = frame.loc[1, "open"] - 0.5
    runtime.datasets.write(REF, frame)
    rising, falling = candles_figure(ChartBuilder(runtime.datasets).build(REF)).data[1:3]
    volume = frame["volume"].tolist()
    assert list(rising.y) == [volume[0], 0.0, volume[2], volume[3]] and rising.fillcolor == UP
    assert list(falling.y) == [0.0, volume[1], 0.0, 0.0] and falling.fillcolor == DOWN
    assert rising.line.shape == falling.line.shape == "hv" and rising.fill == falling.fill == "tozeroy"
    assert list(rising.customdata) == volume and falling.hoverinfo == "skip"
