"""One pending order in the inbox's detail view: its terms at the top (the page puts the actions right under
them), then re-quote, forecast, weight, anomalies, every check with failing rows marked, rationale, trace, chart."""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st
from pandas.io.formats.style import Styler

from components.charts import Marker, candles_figure
from components.context import console
from components.views.inbox import (
    anomalies_frame,
    checks_frame,
    checks_summary,
    forecast_text,
    news_lines,
    signal_lines,
    terms_caption,
    time_left,
    weight_text,
)
from services.core.numbers import exact
from services.market_data.datasets import DatasetRef
from services.market_data.ohlcv import approx_interval_ms
from services.trading.context import OrderContext
from services.trading.inbox import InboxLine, order_rationale
from services.trading.risk import Check

FAIL_STYLE = "background-color: #fdecea; color: #b71c1c; font-weight: 600"


def checks_table(checks: Sequence[Check]) -> Styler:
    """Risk checks as a table with every failing row highlighted (the inbox's open order, a run's proposals)."""
    return checks_frame(list(checks)).style.apply(
        lambda row: [FAIL_STYLE if row["result"] == "FAIL" else ""] * len(row), axis=1)


def detail_header(line: InboxLine) -> None:
    """Side, quantity, symbol (as stored) and the terms line of the open order."""
    order = line.order
    st.markdown(f"### {order.side.upper()} {exact(order.quantity)} {html.escape(order.symbol)}")
    st.caption(terms_caption(line))
    if order.entered_by:
        st.caption(f"Manual order, entered by {order.entered_by}: an approver other than them decides it.")
    if order.about.lot:
        st.caption(f"Lot: {order.about.lot}.")


def _chart(line: InboxLine) -> None:
    order = line.order
    if not order.dataset_ref:
        return
    ref = DatasetRef.parse(order.dataset_ref)
    until = order.about.data_until_ms or console().runtime.datasets.manifest(ref).last_ts
    chart = console().charts.build(ref, until - 180 * approx_interval_ms(ref.interval), until)
    if chart.frame.empty:
        return
    marker = Marker(int(chart.frame["timestamp"].iloc[-1]), order.reference_price,
                    f"{order.side} {exact(order.quantity)} @ {exact(order.reference_price)}",
                    colour="#2e7d32" if order.side == "buy" else "#c62828",
                    symbol="triangle-up" if order.side == "buy" else "triangle-down")
    st.plotly_chart(candles_figure(chart, [marker], height=280), width="stretch", key=f"chart_{order.id}")


def _news(about: OrderContext) -> None:
    """News sentiment, matched lessons, Lona signals and the weight tilts the run saw (plain text: headlines and
    strategy names are not ours)."""
    for text in news_lines(about) + signal_lines(about):
        st.text(text)


def detail_body(line: InboxLine, drift_bound: float | None) -> None:
    """Everything an approver needs about the open order below its actions."""
    order, about = line.order, line.order.about
    requote, time_col, approvals = st.columns(3)
    quote = None if line.drift_pct is None else order.reference_price * (1 + line.drift_pct / 100)
    requote.metric("Re-quote", "n/a" if quote is None else exact(round(quote, 4)),
                   None if line.drift_pct is None else f"{line.drift_pct:+.2f}% since proposal",
                   help="The drift check is off (checksOff in the gate limits)" if drift_bound is None
                   else f"Approval is disabled beyond ±{drift_bound}% drift")
    time_col.metric("Time left", time_left(order.seconds_left))
    approvals.metric("Approvals", f"{len(order.approved_by)}/{order.approvals_needed}")
    for text in (forecast_text(about.forecast), weight_text(line)):
        if text:
            st.markdown(text)
    _news(about)
    summary = checks_summary(line.checks)
    (st.error if line.failing else st.success)(f"Risk gate now: {summary}")
    st.dataframe(checks_table(line.checks), hide_index=True, width="stretch", key=f"checks_{order.id}")
    if about.anomalies:
        st.caption("Anomalies the agent saw")
        st.dataframe(anomalies_frame(about.anomalies), hide_index=True, width="stretch", height=140)
    own = order_rationale(about.rationale, order.symbol)
    if own:
        st.caption(f"Rationale for {order.symbol}")
        st.text(own)  # LLM text: shown as plain text, never rendered as HTML/markdown
    if about.trace_url:
        st.link_button("Trace in LangSmith", about.trace_url)
    _chart(line)
