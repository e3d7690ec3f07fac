"""News with sentiment: the News section (how to connect a source, a timeline per symbol, the items) and the
markers the Market Data candlestick draws. Only what sources said: undated items get no date, untagged no ticker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.charts import DOWN, UP, Marker
from components.views.market import ChartData
from services.core import clock
from services.news.store import NewsItem, NewsStore

NEUTRAL = "#7f7f7f"
COLOURS = {"positive": UP, "negative": DOWN, "neutral": NEUTRAL}
HOW_TO_CONNECT = """No news source is connected, so there is no news to show.

- **Alpaca News** (needs `ALPACA_API_KEY` and `ALPACA_API_SECRET`; free paper-trading keys work):
  `nexus news ingest --source alpaca --symbols AAPL,MSFT --start 2024-01-01`
- **Any RSS or Atom feed**: `nexus news ingest --feed https://example.com/markets.rss`
  (feed items carry no tickers, so they appear in the list below but on no symbol's timeline)

Each item is stored once with its sentiment; run the same command again to fetch what is new."""


def hover_text(item: NewsItem) -> str:
    """The headline with its sentiment, and its publication time only when the source gave one."""
    when = f"{item.published_at:%Y-%m-%d %H:%M} UTC · " if item.published_at else ""
    return f"{when}{item.sentiment_label} {item.sentiment_score:+.2f}<br>{item.title}"


def news_markers(items: Sequence[NewsItem], chart: ChartData) -> list[Marker]:
    """One marker per dated item inside the chart, on the close of the candle it was published in (or after)."""
    frame = chart.frame
    if frame.empty:
        return []
    stamps = frame["timestamp"].to_numpy()
    closes = frame["close"].to_numpy()
    last_step = int(stamps[-1] - stamps[-2]) if len(stamps) > 1 else 0
    markers = []
    for item in items:
        if item.published_at is None:
            continue
        published = clock.to_ms(item.published_at)
        index = int(np.searchsorted(stamps, published, side="right")) - 1
        if index < 0 or published >= stamps[-1] + max(last_step, 1):  # before the first candle or after the last
            continue
        markers.append(Marker(timestamp_ms=published, price=float(closes[index]), label=hover_text(item),
                              colour=COLOURS[item.sentiment_label], symbol="diamond"))
    return markers


def timeline_figure(items: Sequence[NewsItem], symbol: str, height: int = 360) -> go.Figure:
    """Each dated item of ``symbol`` at its publication time and sentiment score (hover: the headline)."""
    dated = [i for i in items if i.published_at is not None]
    figure = go.Figure(go.Scatter(
        x=[i.published_at for i in dated], y=[i.sentiment_score for i in dated], mode="markers", name=symbol,
        text=[hover_text(i) for i in dated], hoverinfo="text",
        marker={"color": [COLOURS[i.sentiment_label] for i in dated], "size": 10, "symbol": "diamond"},
    ))
    figure.add_hline(y=0, line={"width": 1, "color": NEUTRAL, "dash": "dot"})
    figure.update_layout(title=f"{symbol}: news sentiment", height=height, yaxis={"range": [-1.05, 1.05],
                         "title": "sentiment"}, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def items_table(items: Sequence[NewsItem]) -> pd.DataFrame:
    """The items as a table: publication time (empty when the source gave none), sentiment, tickers, headline."""
    return pd.DataFrame({
        "published": [i.published_at for i in items],
        "sentiment": [i.sentiment_label for i in items],
        "score": [round(i.sentiment_score, 2) for i in items],
        "symbols": [", ".join(i.symbols) for i in items],
        "headline": [i.title for i in items],
        "source": [i.source for i in items],
        "link": [i.url or None for i in items],
    })


def _symbols(items: Sequence[NewsItem]) -> list[str]:
    return sorted({s for i in items for s in i.symbols})


def news_section(store: NewsStore, limit: int = 500) -> None:
    """The News section: how to connect a source when there is none, else a timeline per symbol and the items."""
    recent = store.list(limit=limit)
    if not recent:
        st.info(HOW_TO_CONNECT)
        return
    symbols = _symbols(recent)
    if symbols:
        symbol = st.selectbox("Symbol", symbols, key="news_symbol")
        items = store.list(symbol=symbol, limit=limit)
        st.plotly_chart(timeline_figure(items, symbol), width="stretch", key=f"news_timeline_{symbol}")
        mean = sum(i.sentiment_score for i in items) / len(items)
        st.caption(f"{len(items)} items about {symbol}, mean sentiment {mean:+.2f} · model {items[0].model_version}")
    else:
        st.caption("The stored items carry no tickers (feeds give none), so no symbol timeline can be drawn.")
        items = recent
    st.dataframe(items_table(items), hide_index=True, width="stretch",
                 column_config={"published": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                                "link": st.column_config.LinkColumn()})
