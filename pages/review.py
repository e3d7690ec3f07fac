"""Review page: what the agent graph, a person on the ticket or an API client proposed, what operators did and what
the market did after, as the worker's decision review stored it (this page only reads; nothing is computed at page
load)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components.charts import interval_figure, rates_figure, review_pnl_figure
from components.context import console, shows_errors
from components.tables import TIME_FORMAT, show_table
from components.views.review import (
    NOMINAL_COVERAGE,
    aggregates_table,
    cumulative_pnl,
    decisions_table,
    interval_points,
    rates_frame,
)
from services.review.outcomes import HORIZON_LABELS, HORIZONS
from services.review.store import PENDING_EVERY_S, REVIEW_EVERY_S, AggregateRow, Review, ReviewFilter, ReviewOptions

PERCENT = st.column_config.NumberColumn(format="percent")
NO_FORECAST = ("Manual orders and API proposals carry no forecast: \"agent alone\" is their proposer's order as "
               "proposed, and they count in P&L and value added at 1, 5 and 20 bars, not in the hit rate or the "
               "interval coverage (and have no forecast horizon).")


def _filters(options: ReviewOptions) -> ReviewFilter:
    run, symbol, operator, source, horizon = st.columns(5)

    def every(what: str):
        return lambda value: f"every {what}" if value is None else value

    return ReviewFilter(
        run=run.selectbox("Run", [None, *options.runs], format_func=every("run"), key="review_run"),
        symbol=symbol.selectbox("Symbol", [None, *options.symbols], format_func=every("symbol"),
                                key="review_symbol"),
        operator=operator.selectbox("Operator", [None, *options.operators], format_func=every("operator"),
                                    key="review_operator"),
        source=source.selectbox("Source", [None, *options.sources], format_func=every("source"),
                                key="review_source"),
        horizon=horizon.selectbox("Horizon", HORIZONS, index=HORIZONS.index("5"), format_func=HORIZON_LABELS.get,
                                  key="review_horizon"))


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _headline(row: AggregateRow, at_forecast: AggregateRow | None) -> None:
    st.subheader(f"{row.label[:1].upper()}{row.label[1:]} at {HORIZON_LABELS[row.horizon]}")
    hit, alone, together, edits, rejections, coverage = st.columns(6)
    hit.metric("Hit rate", _rate(row.hit_rate), help=f"{row.hits} of {row.forecasts} resolved forecasts had the "
               "sign of the realised return (manual and API orders carry no forecast and are not counted)")
    alone.metric("Agent alone", f"{row.agent_pnl:+,.2f}", help="every proposal executed as proposed (the graph's, "
                 "or the person's or API client's who proposed a manual or API order)")
    together.metric("Agent + operator", f"{row.actual_pnl:+,.2f}", delta=f"{row.value_added:+,.2f} by people",
                    help="what actually happened: fills of approved orders, nothing for rejected or expired ones")
    edits.metric("Added by edits", f"{row.value_edits:+,.2f}")
    rejections.metric("Added by rejections", f"{row.value_rejections:+,.2f}",
                      help=f"expiries added {row.value_expiries:+,.2f}, approved orders that did not fill "
                           f"{row.value_other:+,.2f}")
    held = at_forecast or row
    coverage.metric("Interval coverage", _rate(held.coverage),
                    help=f"{held.covered} of {held.intervals} realised returns inside the forecast's 90 % interval, "
                         "at the forecast horizon")
    st.caption(f"{row.decisions} decisions, {row.resolved} resolved, {row.pending} waiting for candles or a fill.")


def _plots(review: Review, chosen: ReviewFilter, rows: list) -> None:
    pnl, calibration, rates = st.tabs(["Cumulative P&L", "Calibration", "Hit rate and coverage"])
    with pnl:
        cumulative = cumulative_pnl(rows)
        if cumulative.empty:
            st.info("No outcome of these decisions is resolved at this horizon yet.")
        else:
            st.plotly_chart(review_pnl_figure(cumulative), width="stretch")
    with calibration:
        at_forecast = rows if chosen.horizon == "forecast" else review.decisions(replace(chosen, horizon="forecast"))
        points = interval_points(at_forecast)
        if points.empty:
            st.info("No forecast interval of these decisions is resolved yet (intervals are held against the "
                    "forecast's own horizon).")
        else:
            st.plotly_chart(interval_figure(points, NOMINAL_COVERAGE), width="stretch")
    with rates:
        scope = st.radio("Per", ["symbol", "run", "operator", "source"], horizontal=True, key="review_by")
        frame = rates_frame(review.by_scope(scope, chosen.horizon), review.by_scope(scope, "forecast"))
        if frame.empty:
            st.info(f"No {scope} has a stored aggregate at this horizon.")
        else:
            st.plotly_chart(rates_figure(frame, scope, NOMINAL_COVERAGE), width="stretch")
            st.caption(f"Hit rate at {HORIZON_LABELS[chosen.horizon]}; coverage at the forecast horizon.")


def render() -> None:
    """Draw the page."""
    st.title("Review")
    st.caption("Every decided order, whatever its source (the agent graph, a person on the order ticket, an API "
               "client): what was proposed, what the operator did, and what the stored candles say happened after "
               "(1, 5 and 20 bars, and the forecast's horizon). The worker updates it after each ingestion, within "
               f"{REVIEW_EVERY_S // 60} minutes of a decision and every {PENDING_EVERY_S // 3600} hour while "
               "outcomes wait for candles.")
    st.caption(NO_FORECAST)
    review = console().runtime.review
    with shows_errors():
        options = review.options()
        if not options.runs:
            st.info("No decided order reviewed yet: once proposals (the agent graph's, manual or API orders) are "
                    "approved, edited, rejected or expire, the worker's decision review follows them through the "
                    "stored candles.")
            return
        chosen = _filters(options)
        aggregates = review.aggregates(chosen)
        rows = review.decisions(chosen)
        if not aggregates or (aggregates[-1].scope, aggregates[-1].key) != chosen.scopes[-1]:
            st.info("Nothing is stored for these filters at this horizon." + (
                " Orders without a forecast (manual, API) have no forecast horizon: choose 1, 5 or 20 bars."
                if chosen.horizon == "forecast" else ""))
            return
        at_forecast = {(a.scope, a.key): a for a in review.aggregates(replace(chosen, horizon="forecast"))}
        _headline(aggregates[-1], at_forecast.get((aggregates[-1].scope, aggregates[-1].key)))
        latest = max(a.updated_at for a in aggregates)
        st.caption(f"Reviewed by the worker at {latest:{TIME_FORMAT}} UTC. With several filters each scope has "
                   "its own line; the decisions below match them all.")
        show_table(aggregates_table(aggregates), column_config={"hit rate": PERCENT, "coverage": PERCENT})
        _plots(review, chosen, rows)
        st.subheader("Decisions")
        show_table(decisions_table(rows), column_config={
            "order": st.column_config.LinkColumn("order", display_text="open"),
            "forecast": PERCENT, "realised": PERCENT})
