"""One proposed order on one screen: terms, re-quote and drift, forecast, anomalies, weights, checks, chart."""

from __future__ import annotations

import html

import pandas as pd
import streamlit as st

from components.charts import Marker, candles_figure
from components.context import console
from services.market_data.datasets import DatasetRef
from services.market_data.ohlcv import approx_interval_ms
from services.trading.orders import Order


def checks_table(checks: list[dict]) -> pd.DataFrame:
    """Risk checks as a table (value and limit side by side)."""
    return pd.DataFrame(
        [{"check": c["name"], "result": "pass" if c["passed"] else "FAIL", "value": str(c["value"]),
          "limit": str(c["limit"]), "detail": c.get("detail", "")} for c in checks]
    )


def time_left(seconds: float) -> str:
    """``12 min`` / ``1 h 05 min`` / ``expired``."""
    if seconds <= 0:
        return "expired"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 0)} min"


def _forecast(context: dict) -> None:
    forecast = context.get("forecast") or {}
    if not forecast:
        return
    lower, upper = forecast.get("lower"), forecast.get("upper")
    text = f"expected return **{forecast.get('expected_return', 0):+.2%}** over {forecast.get('horizon', '?')} bars"
    if lower is not None and upper is not None:
        text += f", 90% interval [{lower:+.2%}, {upper:+.2%}]"
    if forecast.get("beats_naive") is False:
        text += " · model does not beat the naive forecast, the optimizer used a shrunk value"
    st.markdown(f"Forecast: {text}")


def _chart(order: Order) -> None:
    if not order.dataset_ref:
        return
    ref = DatasetRef.parse(order.dataset_ref)
    until = order.context.get("data_until_ms") or console().runtime.datasets.manifest(ref).last_ts
    chart = console().charts.build(ref, until - 180 * approx_interval_ms(ref.interval), until)
    if chart.frame.empty:
        return
    marker = Marker(int(chart.frame["timestamp"].iloc[-1]), order.reference_price,
                    f"{order.side} {order.quantity:g} @ {order.reference_price:g}",
                    colour="#2e7d32" if order.side == "buy" else "#c62828",
                    symbol="triangle-up" if order.side == "buy" else "triangle-down")
    figure = candles_figure(chart, [marker], height=300)
    st.plotly_chart(figure, width="stretch", key=f"chart_{order.id}")


def order_card(order: Order, drift_pct: float | None, checks: list[dict], drift_bound: float) -> None:
    """Draw everything an approver needs about ``order`` (no actions; the page adds those)."""
    left, middle, right = st.columns([3, 2, 2])
    left.markdown(f"### {order.side.upper()} {order.quantity:g} {html.escape(order.symbol)}")
    left.caption(f"{order.order_type}"
                 + (f" limit {order.limit_price:g}" if order.limit_price else "")
                 + f" · reference {order.reference_price:,.4g} · notional {order.notional:,.2f} USD"
                 + f" · {order.venue} · client id `{order.client_order_id}`")
    requote = None if drift_pct is None else order.reference_price * (1 + drift_pct / 100)
    middle.metric("Re-quote", "n/a" if requote is None else f"{requote:,.4g}",
                  None if drift_pct is None else f"{drift_pct:+.2f}% since proposal",
                  help=f"Approval is disabled beyond ±{drift_bound}% drift")
    right.metric("Time left", time_left(order.seconds_left),
                 f"{len(order.approved_by)}/{order.approvals_needed} approvals" if order.approvals_needed > 1 else None)
    context = order.context
    _forecast(context)
    weights = context.get("weights")
    if weights:
        st.markdown(f"Weight: {weights.get('current', 0):.1%} → **{weights.get('target', 0):.1%}**")
    anomalies = context.get("anomalies") or []
    if anomalies:
        st.dataframe(pd.DataFrame(anomalies), hide_index=True, width="stretch", height=140)
    st.dataframe(checks_table(checks), hide_index=True, width="stretch")
    if context.get("rationale"):
        st.text(context["rationale"])  # LLM text: shown as plain text, never rendered as HTML/markdown
    if context.get("trace_url"):
        st.link_button("Trace in LangSmith", context["trace_url"])
    _chart(order)
