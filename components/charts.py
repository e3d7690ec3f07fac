"""Figure builders (plotly, no Streamlit): candlesticks with a volume panel, overlays, markers and shaded spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.views.market import ChartData

UP, DOWN = "#26a69a", "#ef5350"
OVERLAY_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass(frozen=True)
class Marker:
    """A point of interest drawn on the price panel (an anomaly, a proposed order)."""

    timestamp_ms: int
    price: float
    label: str
    colour: str = "#d62728"
    symbol: str = "x"


@dataclass(frozen=True)
class Span:
    """A stretch of time shaded behind the candles (a volatility regime)."""

    start_ms: int
    end_ms: int
    label: str
    colour: str


#: shading of the knowledge base's volatility regimes
REGIME_COLOURS = {"low_vol": "rgba(38,166,154,0.12)", "medium_vol": "rgba(255,193,7,0.10)",
                  "high_vol": "rgba(239,83,80,0.16)"}


def regime_spans(regimes: Sequence[dict]) -> list[Span]:
    """Shaded spans of regime rows (``regime``, ``start_at``, ``end_at``, ``volatility``)."""
    return [Span(int(pd.Timestamp(r["start_at"]).value // 1_000_000), int(pd.Timestamp(r["end_at"]).value // 1_000_000),
                 f"{r['regime'].replace('_vol', ' vol')} ({r['volatility']:.0%})",
                 REGIME_COLOURS.get(r["regime"], "rgba(128,128,128,0.1)")) for r in regimes]


def _times(ms: np.ndarray) -> np.ndarray:
    return np.asarray(ms, dtype="int64").astype("datetime64[ms]")


#: a span narrower than this share of the candles shown is shaded without its label (labels would overlap)
LABELLED_SPAN_SHARE = 0.04


def _shade(figure: go.Figure, spans: Sequence[Span], first: int, last: int) -> None:
    """Shade the price panel behind the candles where ``spans`` overlap ``first..last``, all shapes in one layout
    update (``add_vrect`` once per span rebuilds the layout each time: seconds for a few dozen regimes)."""
    shapes, labels = [], []
    for span in spans:
        if span.end_ms < first or span.start_ms > last:
            continue
        start, end = _times(np.array([max(span.start_ms, first), min(span.end_ms, last)]))
        shapes.append({"type": "rect", "xref": "x", "yref": "y domain", "x0": start, "x1": end, "y0": 0, "y1": 1,
                       "fillcolor": span.colour, "line": {"width": 0}, "layer": "below"})
        if (end - start) / np.timedelta64(1, "ms") >= LABELLED_SPAN_SHARE * max(last - first, 1):
            labels.append({"xref": "x", "yref": "y domain", "x": start, "y": 1, "text": span.label,
                           "showarrow": False, "xanchor": "left", "yanchor": "top", "font": {"size": 9}})
    figure.update_layout(shapes=shapes, annotations=[*figure.layout.annotations, *labels])


def candles_figure(chart: ChartData, markers: Sequence[Marker] = (), height: int = 620,
                   spans: Sequence[Span] = ()) -> go.Figure:
    """Candlesticks (or a close line for close-only data) over a volume panel on a shared time axis; ``spans``
    shade the price panel (only those overlapping the candles shown)."""
    frame = chart.frame
    x = _times(frame["timestamp"].to_numpy())
    show_volume = not chart.close_only
    figure = make_subplots(rows=2 if show_volume else 1, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                           row_heights=[0.78, 0.22] if show_volume else None)
    if chart.close_only:
        figure.add_trace(go.Scatter(x=x, y=frame["close"], mode="lines", name="close", line={"width": 1.4}),
                         row=1, col=1)
    else:
        figure.add_trace(
            go.Candlestick(x=x, open=frame["open"], high=frame["high"], low=frame["low"], close=frame["close"],
                           name=str(chart.ref.symbol), increasing_line_color=UP, decreasing_line_color=DOWN),
            row=1, col=1,
        )
        # volume as two filled steps (rising, falling candles) rather than one bar per candle: a browser draws
        # 5,000 SVG bars in seconds, two filled paths at once; each step holds its candle's interval, like a bar
        volume = frame["volume"].to_numpy(dtype=np.float64)
        rising = frame["close"].to_numpy() >= frame["open"].to_numpy()
        for name, colour, mask in (("volume", UP, rising), ("volume (falling)", DOWN, ~rising)):
            hover = {"customdata": volume, "hovertemplate": "volume %{customdata:,.4~f}<extra></extra>"} \
                if name == "volume" else {"hoverinfo": "skip"}
            figure.add_trace(go.Scatter(x=x, y=np.where(mask, volume, 0.0), name=name, showlegend=False,
                                        mode="lines", line={"width": 0, "shape": "hv"}, fill="tozeroy",
                                        fillcolor=colour, **hover), row=2, col=1)
        figure.update_yaxes(title_text="volume", row=2, col=1)
    for index, overlay in enumerate(chart.overlays):
        figure.add_trace(go.Scatter(x=x, y=overlay.values, mode="lines", name=overlay.name,
                                    line={"width": 1.2, "color": OVERLAY_COLOURS[index % len(OVERLAY_COLOURS)]}),
                         row=1, col=1)
    if markers:
        figure.add_trace(go.Scatter(
            x=_times(np.array([m.timestamp_ms for m in markers])), y=[m.price for m in markers],
            mode="markers", name="events", text=[m.label for m in markers], hoverinfo="text+x",
            marker={"color": [m.colour for m in markers], "symbol": [m.symbol for m in markers], "size": 11},
        ), row=1, col=1)
    if len(frame) and spans:
        _shade(figure, spans, int(frame["timestamp"].iloc[0]), int(frame["timestamp"].iloc[-1]))
    figure.update_layout(
        title=f"{chart.ref} · shown at {chart.interval}", height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_rangeslider_visible=False, legend={"orientation": "h", "y": 1.02, "x": 0}, hovermode="x unified",
        uirevision=str(chart.ref),
    )
    return figure


def equity_figure(timeline: pd.DataFrame, height: int = 480) -> go.Figure:
    """A backtest's equity over its drawdown (percent below the running peak, <= 0) on a shared time axis.

    ``timeline`` has columns ``date``, ``equity`` and ``drawdown_pct`` (``lona.reports.timeline_frame``).
    """
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.68, 0.32])
    figure.add_trace(go.Scatter(x=timeline["date"], y=timeline["equity"], mode="lines", name="equity",
                                line={"width": 1.6, "color": OVERLAY_COLOURS[0]}), row=1, col=1)
    figure.add_trace(go.Scatter(x=timeline["date"], y=timeline["drawdown_pct"], mode="lines", name="drawdown %",
                                fill="tozeroy", line={"width": 1.2, "color": DOWN}), row=2, col=1)
    figure.update_yaxes(title_text="equity", row=1, col=1)
    figure.update_yaxes(title_text="drawdown %", row=2, col=1)
    figure.update_layout(title="Equity and drawdown", height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": 1.02, "x": 0}, hovermode="x unified")
    return figure


def review_pnl_figure(cumulative: pd.DataFrame, height: int = 360) -> go.Figure:
    """Cumulative P&L of the agent alone against agent + operator over the decisions (``views.review``)."""
    figure = go.Figure()
    for index, name in enumerate(("agent alone", "agent + operator")):
        figure.add_trace(go.Scatter(x=cumulative["decided"], y=cumulative[name].tolist(), mode="lines+markers",
                                    name=name, line={"width": 1.6, "color": OVERLAY_COLOURS[index]}, line_shape="hv"))
    figure.update_layout(title="Cumulative P&L: agent alone vs agent + operator", height=height,
                         yaxis_title="P&L (USD)", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": 1.02, "x": 0}, hovermode="x unified")
    return figure


def interval_figure(points: pd.DataFrame, nominal: float, height: int = 360) -> go.Figure:
    """Each forecast's interval (bar) with the realised return (dot: inside green, outside red), titled with the
    realised coverage against the nominal level (``views.review.interval_points``)."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=points["label"], y=points["forecast"], mode="markers", name="forecast and interval",
        marker={"color": OVERLAY_COLOURS[0], "symbol": "line-ew-open", "size": 14},
        error_y={"type": "data", "symmetric": False, "array": points["upper"] - points["forecast"],
                 "arrayminus": points["forecast"] - points["lower"], "color": OVERLAY_COLOURS[0]}))
    figure.add_trace(go.Scatter(
        x=points["label"], y=points["realised"], mode="markers", name="realised",
        marker={"color": np.where(points["covered"].to_numpy(dtype=bool), UP, DOWN), "size": 9}))
    covered = int(points["covered"].sum())
    share = f"{covered / len(points):.0%}" if len(points) else "–"
    figure.update_layout(
        title=f"Interval coverage: {covered} of {len(points)} ({share}; nominal {nominal:.0%})", height=height,
        yaxis_title="log return", yaxis_tickformat=".1%", xaxis={"showticklabels": False},
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": 1.02, "x": 0})
    return figure


def rates_figure(rates: pd.DataFrame, scope: str, nominal: float, height: int = 320) -> go.Figure:
    """Hit rate and interval coverage per key of one scope, with the nominal coverage as a line
    (``views.review.rates_frame``)."""
    figure = go.Figure()
    for index, name in enumerate(("hit rate", "coverage")):
        figure.add_trace(go.Bar(x=rates["key"], y=rates[name], name=name, marker_color=OVERLAY_COLOURS[index]))
    figure.add_hline(y=nominal, line_dash="dot", annotation_text=f"nominal coverage {nominal:.0%}")
    figure.add_hline(y=0.5, line_dash="dash", line_color="#7f7f7f", annotation_text="coin flip",
                     annotation_position="bottom right")
    figure.update_layout(title=f"Hit rate and coverage per {scope}", barmode="group", height=height,
                         yaxis={"range": [0, 1], "tickformat": ".0%"}, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "y": 1.02, "x": 0})
    return figure
