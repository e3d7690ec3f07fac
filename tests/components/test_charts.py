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
