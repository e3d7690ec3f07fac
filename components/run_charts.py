"""Figure builders of the Agent Runs page (plotly, no Streamlit): forecast fan, weights, anomaly markers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.charts import Marker
from services.agents.results import Anomaly, SymbolForecast, Weight

SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}
SEVERITY_SYMBOLS = {"critical": "x", "warning": "diamond", "info": "circle-open"}


def _times(ms) -> np.ndarray:
    return np.asarray(ms, dtype="int64").astype("datetime64[ms]")


def forecast_figure(symbol: str, forecast: SymbolForecast, bar_ms: int, height: int = 320) -> go.Figure:
    """Recent closes, then the expected price ``horizon`` bars ahead with its prediction interval as a fan."""
    history = forecast.history
    last_t, last_close = history.t[-1], history.close[-1]
    ahead = last_t + forecast.horizon * bar_ms
    x_fan = _times([last_t, ahead, ahead, last_t])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=_times(history.t), y=list(history.close), mode="lines", name="close"))
    level = round(100 * forecast.interval_level)
    figure.add_trace(go.Scatter(x=x_fan, y=[last_close, forecast.upper_price, forecast.lower_price, last_close],
                                fill="toself", mode="lines", line={"width": 0}, fillcolor="rgba(255,127,14,0.2)",
                                name=f"{level}% interval"))
    figure.add_trace(go.Scatter(x=_times([last_t, ahead]), y=[last_close, forecast.expected_price],
                                mode="lines+markers", line={"dash": "dash", "color": "#ff7f0e"}, name="forecast"))
    figure.update_layout(title=f"{symbol}: {forecast.horizon}-bar forecast", height=height,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
    return figure


def weights_figure(weights: dict[str, Weight]) -> go.Figure:
    """Current against target weight per symbol."""
    symbols = list(weights)
    figure = go.Figure([
        go.Bar(name="current", x=symbols, y=[weights[s].current for s in symbols]),
        go.Bar(name="target", x=symbols, y=[weights[s].target for s in symbols]),
    ])
    figure.update_layout(barmode="group", title="Weights (share of equity)", yaxis_tickformat=".0%", height=320,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h"})
    return figure


def anomaly_markers(events: list[Anomaly], candles: pd.DataFrame) -> list[Marker]:
    """A marker per event at the close of its bar (of the bar before, for a gap); events outside ``candles`` are
    left out."""
    if candles.empty:
        return []
    stamps = candles["timestamp"].to_numpy()
    closes = candles["close"].to_numpy()
    markers = []
    for event in events:
        at = int(np.searchsorted(stamps, event.timestamp, "right")) - 1  # the bar at or before the event
        if at >= 0 and event.timestamp <= stamps[-1]:
            markers.append(Marker(int(stamps[at]), float(closes[at]),
                                  f"{event.kind} ({event.severity}): {event.detail}",
                                  colour=SEVERITY_COLOURS[event.severity], symbol=SEVERITY_SYMBOLS[event.severity]))
    return markers
