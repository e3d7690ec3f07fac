"""Knowledge page: search the knowledge base, its lessons, volatility regimes, patterns and correlations."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.context import console, current_actor, needs_role, shows_errors
from components.views.knowledge import lessons_table, regimes_table, search_table
from services.knowledge.harvest import queue_refresh
from services.knowledge.store import KINDS, PATTERN_TYPES, REGIMES

LINK = st.column_config.LinkColumn("source", display_text="open")


def _search() -> None:
    with st.form("kb_search"):
        query = st.text_input("Search", placeholder="e.g. momentum losses in a volatile market", key="kb_query")
        left, middle, right = st.columns([2, 2, 1])
        kinds = left.multiselect("Kinds", KINDS, key="kb_kinds")
        assets = middle.text_input("Assets (comma-separated)", placeholder="AAPL, BTCUSDT", key="kb_assets")
        limit = right.number_input("Results", min_value=1, max_value=100, value=10, key="kb_limit")
        asked = st.form_submit_button("Search", type="primary")
    if asked:
        items = console().runtime.knowledge.search(query, assets=[a for a in assets.split(",") if a.strip()],
                                                   kinds=kinds, limit=int(limit))
        if not items:
            st.info("Nothing matches these filters.")
            return
        st.dataframe(search_table(items), hide_index=True, width="stretch", column_config={"source": LINK})


def _lessons() -> None:
    table = lessons_table(console().runtime.knowledge.lessons(limit=200))
    if table.empty:
        st.info("No lesson yet: they come from finished backtests, decided orders and critical anomalies of runs.")
        return
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "source": LINK, "when": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})


def _regimes() -> None:
    regimes = console().runtime.knowledge.regimes()
    if not regimes:
        st.info("No regime yet: they are computed from stored candles by the knowledge refresh.")
        return
    table = regimes_table(regimes)
    chosen = st.selectbox("Dataset", sorted(table["dataset"].unique()), key="kb_regime_dataset")
    st.dataframe(table[table["dataset"] == chosen], hide_index=True, width="stretch", column_config={
        "chart": st.column_config.LinkColumn("chart", display_text="on the chart"),
        "volatility": st.column_config.NumberColumn("annualised volatility", format="percent"),
        "start": st.column_config.DatetimeColumn(format="YYYY-MM-DD"),
        "end": st.column_config.DatetimeColumn(format="YYYY-MM-DD")})


def _patterns() -> None:
    kb = console().runtime.knowledge
    with st.expander("Add a pattern"), st.form("kb_pattern", clear_on_submit=True):
        name = st.text_input("Name", key="kb_p_name")
        left, right = st.columns(2)
        kind = left.selectbox("Type", PATTERN_TYPES, key="kb_p_type")
        confidence = right.slider("Confidence", 0.0, 1.0, 0.5, 0.05, key="kb_p_confidence")
        description = st.text_area("Description: what it is and when it works", key="kb_p_description")
        a, b, c = st.columns(3)
        assets = a.text_input("Assets (comma-separated)", key="kb_p_assets")
        timeframes = b.text_input("Timeframes (comma-separated)", placeholder="1h, 1d", key="kb_p_timeframes")
        regimes = c.multiselect("Suitable regimes", REGIMES, key="kb_p_regimes")
        source = st.text_input("Source (optional)", key="kb_p_source")
        if st.form_submit_button("Add pattern", **needs_role("trader")):
            kb.add_pattern(current_actor(), name, kind, description, assets.split(","), timeframes.split(","),
                           regimes, confidence, source)
            st.success(f"Pattern '{name.strip()}' added.")
    patterns = kb.patterns()
    if patterns:
        st.dataframe(pd.DataFrame(patterns)[["name", "pattern_type", "description", "assets", "timeframes",
                                             "suitable_regimes", "confidence_score", "created_by", "created_at"]],
                     hide_index=True, width="stretch")
    else:
        st.info("No pattern yet: add the first one above (or `nexus knowledge add`).")


def _correlations() -> None:
    rows = console().runtime.knowledge.correlations()
    if not rows:
        st.info("No correlation yet: it needs two datasets of one interval with overlapping candles.")
        return
    st.dataframe(pd.DataFrame(rows)[["source_asset", "target_asset", "interval", "correlation", "window",
                                     "computed_at"]], hide_index=True, width="stretch")


def render() -> None:
    """Draw the page."""
    st.title("Knowledge")
    with shows_errors():
        runtime = console().runtime
        counts = runtime.knowledge.counts()
        columns = st.columns(len(counts) + 1)
        for column, (kind, count) in zip(columns, counts.items(), strict=False):
            column.metric(f"{kind}s", count)
        if columns[-1].button("Refresh now", key="kb_refresh", **needs_role("trader")):
            job_id = queue_refresh(runtime.jobs, current_actor())
            st.success(f"Refresh queued (job {job_id}); the worker also refreshes every 15 minutes.")
        tabs = st.tabs(["Search", "Lessons", "Regimes", "Patterns", "Correlations"])
        for tab, draw in zip(tabs, (_search, _lessons, _regimes, _patterns, _correlations), strict=True):
            with tab, shows_errors():
                draw()
