"""Overview page (the landing page): what needs attention now, with real numbers only."""

from __future__ import annotations

import streamlit as st

from components.context import console, shows_errors
from components.links import page_link
from components.tables import show_table
from components.views.orders import positions_frame
from services.ops.overview import age_text, freshness, jobs_table, overview


@st.fragment(run_every=10)
def _now() -> None:
    runtime = console().runtime
    view = overview(runtime)
    a, b, c, d = st.columns(4)
    a.metric("Pending approvals", view.pending, help="Orders waiting for a decision")
    b.metric("Oldest waiting", age_text(view.oldest_pending_s) if view.pending else "-")
    c.metric("Mode", f"{view.mode} · {view.venue}")
    d.metric("Kill switch", "ON" if view.kill_switch else "off")
    if view.pending:
        page_link("approvals", f"Decide {view.pending} order(s) now →", icon=":material/approval:")
    st.subheader("Portfolio")
    if view.account is None:
        st.error(f"The {view.venue} venue did not answer: {view.account_error}")
    else:
        e, f, g = st.columns(3)
        e.metric("Equity", f"{view.account.equity:,.2f}")
        f.metric("Cash", f"{view.account.cash:,.2f}")
        g.metric("P&L", f"{view.account.pnl_total:,.2f}")
        positions = positions_frame(view.account)
        if not positions.empty:
            show_table(positions)
    st.subheader("Jobs: runs, ingests, backtests")
    jobs = jobs_table(view.jobs)
    if jobs.empty:
        st.caption("No job has run yet.")
    else:
        show_table(jobs, column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)})


def render() -> None:
    """Draw the page."""
    st.title("Overview")
    with shows_errors():
        _now()
        st.subheader("Data freshness")
        show_table(freshness(console().runtime.datasets.catalog()), height=260)
