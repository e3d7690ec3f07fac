"""The News page, the markers on the Market Data candlestick, and nothing invented for items without dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from components.news_timeline import news_markers
from components.views.market import ChartData
from services.market_data.datasets import DatasetRef
from services.market_data.seed import seed
from services.news.store import RawItem, Scored


def store(runtime, *items: tuple[RawItem, float, str]) -> None:
    runtime.news.add([Scored(raw, score, label, "test-model") for raw, score, label in items])


AAPL_UP = RawItem(source="alpaca", source_id="1", title="Apple beats estimates", symbols=("AAPL",),
                  published_at=datetime(2012, 6, 5, 14, 30, tzinfo=UTC), url="https://news.test/1")
AAPL_DOWN = RawItem(source="alpaca", source_id="2", title="Apple shares slide on weak iPhone sales",
                    symbols=("AAPL",), published_at=datetime(2012, 7, 25, 20, 0, tzinfo=UTC))
UNDATED = RawItem(source="feed:news.test", title="Markets wrap", url="https://news.test/wrap")


def test_empty_news_page_says_how_to_connect_and_shows_nothing(runtime, page_app):
    at = page_app("news")
    at.run()
    assert not at.exception
    assert any("No news source is connected" in i.value and "nexus news ingest" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 0 and len(at.dataframe) == 0


def test_news_page_timeline_per_symbol_and_undated_items_keep_no_date(runtime, page_app):
    store(runtime, (AAPL_UP, 0.8, "positive"), (AAPL_DOWN, -0.6, "negative"), (UNDATED, 0.0, "neutral"))
    at = page_app("news")
    at.run()
    assert not at.exception
    assert at.selectbox(key="news_symbol").options == ["AAPL"]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    hover = spec["data"][0]["text"]
    assert any("Apple shares slide" in t and "2012-07-25 20:00" in t for t in hover)
    table = at.dataframe[0].value
    assert set(table["headline"]) == {"Apple beats estimates", "Apple shares slide on weak iPhone sales"}
    assert any("mean sentiment +0.10" in c.value for c in at.caption)


def test_feed_only_news_lists_items_without_inventing_dates_or_tickers(runtime, page_app):
    store(runtime, (UNDATED, 0.0, "neutral"))
    at = page_app("news")
    at.run()
    table = at.dataframe[0].value
    assert list(table["headline"]) == ["Markets wrap"]
    assert pd.isna(table["published"].iloc[0]) and table["symbols"].iloc[0] == ""


def test_markers_sit_on_the_candle_they_were_published_in():
    frame = pd.DataFrame({"timestamp": [0, 86_400_000, 2 * 86_400_000], "open": [1.0, 2, 3], "high": [1.0, 2, 3],
                          "low": [1.0, 2, 3], "close": [10.0, 20.0, 30.0], "volume": [1.0, 1, 1]})
    chart = ChartData(DatasetRef.parse("sample/AAPL/1d"), frame, "1d", "1d", 3, False)
    items = [
        _item(datetime(1970, 1, 2, 15, tzinfo=UTC), "inside"),
        _item(datetime(1970, 1, 5, tzinfo=UTC), "after the chart"),
        _item(None, "no date"),
    ]
    markers = news_markers(items, chart)
    assert [(m.price, "inside" in m.label) for m in markers] == [(20.0, True)]
    assert markers[0].label.startswith("1970-01-02 15:00 UTC")


def test_market_data_chart_draws_news_markers_with_the_headline(runtime, page_app):
    seed(runtime.datasets)
    store(runtime, (AAPL_UP, 0.8, "positive"), (UNDATED, 0.0, "neutral"))
    at = page_app("market_data")
    at.query_params["dataset"] = "sample/AAPL/1d"
    at.run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    events = [trace for trace in spec["data"] if trace.get("name") == "events"]
    assert len(events) == 1 and len(events[0]["text"]) == 1
    assert "Apple beats estimates" in events[0]["text"][0]


def _item(published, title):
    from services.news.store import NewsItem

    return NewsItem(id=title, source="alpaca", title=title, summary="", url="", symbols=["AAPL"],
                    published_at=published, fetched_at=datetime(2025, 1, 1, tzinfo=UTC), sentiment_score=0.5,
                    sentiment_label="positive", model_version="m")
