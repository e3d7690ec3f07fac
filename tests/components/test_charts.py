"""Figure builders without Streamlit: the equity and drawdown figure of a backtest report."""

from __future__ import annotations

from components.charts import equity_figure
from services.strategies.lona.reports import timeline_frame


def test_equity_sits_over_its_drawdown_on_a_shared_time_axis():
    timeline = timeline_frame({"backtest_timeline": [{"date": "2024-01-01", "equity": 100.0},
                                                     {"date": "2024-01-02", "equity": 110.0},
                                                     {"date": "2024-01-03", "equity": 99.0}]})
    figure = equity_figure(timeline)
    equity, drawdown = figure.data
    assert (equity.name, drawdown.name) == ("equity", "drawdown %")
    assert list(equity.y) == [100.0, 110.0, 99.0]
    assert [round(v, 6) for v in drawdown.y] == [0.0, 0.0, -10.0]
    assert drawdown.fill == "tozeroy" and (equity.yaxis, drawdown.yaxis) == ("y", "y2")
    assert figure.layout.xaxis.matches == "x2" or figure.layout.xaxis2.matches == "x"


def test_regimes_shade_the_price_panel_where_they_overlap_the_candles():
    from datetime import UTC, datetime

    from components.charts import candles_figure, regime_spans
    from components.views.market import ChartData
    from services.market_data.datasets import DatasetRef
    from tests.support.universe import candles

    frame = candles(1, 60)
    first, last = int(frame["timestamp"].iloc[0]), int(frame["timestamp"].iloc[-1])
    day = 86_400_000
    regimes = [
        {"regime": "high_vol", "volatility": 0.45, "start_at": datetime.fromtimestamp((first + 5 * day) / 1000, UTC),
         "end_at": datetime.fromtimestamp((first + 20 * day) / 1000, UTC)},
        {"regime": "low_vol", "volatility": 0.1, "start_at": datetime.fromtimestamp((last + 5 * day) / 1000, UTC),
         "end_at": datetime.fromtimestamp((last + 9 * day) / 1000, UTC)},  # after the candles shown: not drawn
    ]
    chart = ChartData(DatasetRef.parse("test/AAA/1d"), frame, "1d", "1d", len(frame), False)
    figure = candles_figure(chart, spans=regime_spans(regimes))
    [shape] = figure.layout.shapes
    assert shape.fillcolor == "rgba(239,83,80,0.16)" and shape.yref.startswith("y")
    assert [a.text for a in figure.layout.annotations] == ["high vol (45%)"]


def test_many_regimes_are_all_shaded_and_only_the_wide_ones_labelled():
    from datetime import UTC, datetime

    from components.charts import candles_figure, regime_spans
    from components.views.market import ChartData
    from services.market_data.datasets import DatasetRef
    from tests.support.universe import candles

    frame = candles(1, 200)
    first = int(frame["timestamp"].iloc[0])
    day = 86_400_000

    def at(days: float) -> datetime:
        return datetime.fromtimestamp((first + days * day) / 1000, UTC)

    narrow = [{"regime": "low_vol", "volatility": 0.1, "start_at": at(2 * i), "end_at": at(2 * i + 1)}
              for i in range(80)]  # 80 one-day spans: shaded, too narrow for a label each
    wide = [{"regime": "high_vol", "volatility": 0.5, "start_at": at(160), "end_at": at(190)}]
    chart = ChartData(DatasetRef.parse("test/AAA/1d"), frame, "1d", "1d", len(frame), False)
    figure = candles_figure(chart, spans=regime_spans(narrow + wide))
    assert len(figure.layout.shapes) == 81
    assert [a.text for a in figure.layout.annotations] == ["high vol (50%)"]
