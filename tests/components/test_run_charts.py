"""Figure builders of the Agent Runs page without Streamlit: forecast fan, weights, anomaly markers."""

from __future__ import annotations

import pandas as pd

from components.run_charts import anomaly_markers, forecast_figure, weights_figure
from services.agents.results import Anomaly, ForecastMetrics, PriceHistory, SymbolForecast, Weight

DAY = 86_400_000


def test_the_forecast_fans_out_from_the_last_close_to_the_interval_at_the_horizon():
    forecast = SymbolForecast(
        history=PriceHistory(t=(0, DAY, 2 * DAY), close=(10.0, 11.0, 12.0)), horizon=3, interval_level=0.9,
        expected_price=12.5, lower_price=11.0, upper_price=14.0, expected_return=0.04, lower=-0.09, upper=0.15,
        shrinkage=0.5, beats_naive=False, metrics=ForecastMetrics())
    close, fan, line = forecast_figure("AAA", forecast, DAY).data
    assert list(close.y) == [10.0, 11.0, 12.0] and fan.name == "90% interval"
    assert list(fan.y) == [12.0, 14.0, 11.0, 12.0] and list(line.y) == [12.0, 12.5]
    assert pd.Timestamp(line.x[-1]) == pd.Timestamp(5 * DAY, unit="ms")


def test_weights_show_current_against_target():
    current, target = weights_figure({"AAA": Weight(current=0.1, target=0.2)}).data
    assert (current.name, list(current.y), target.name, list(target.y)) == ("current", [0.1], "target", [0.2])


def test_markers_sit_on_their_bar_and_a_gap_on_the_bar_before_it():
    candles = pd.DataFrame({"timestamp": [0, DAY, 3 * DAY], "close": [1.0, 2.0, 3.0]})
    events = [Anomaly(timestamp=DAY, kind="jump", severity="warning", score=3.0, detail="jump"),
              Anomaly(timestamp=2 * DAY, kind="gap", severity="info", score=1.0, detail="1 bar missing"),
              Anomaly(timestamp=9 * DAY, kind="stale", severity="critical", score=9.0, detail="after the data")]
    markers = anomaly_markers(events, candles)
    assert [(m.timestamp_ms, m.price) for m in markers] == [(DAY, 2.0), (DAY, 2.0)]
    assert markers[0].colour != markers[1].colour
