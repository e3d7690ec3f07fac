"""Strategies page: strategies on Lona, our datasets published to it, backtests, their reports and history."""

from __future__ import annotations

from datetime import date

import streamlit as st

from components.backtest_report import report_panel
from components.context import console, current_actor, needs_role, shows_errors
from components.strategy_forms import create_form, strategy_code, upload_form
from components.tables import show_table
from components.views.strategies import (
    backtest_days,
    backtests_table,
    catalog_days,
    page_count,
    published_table,
    recent_backtests,
    report_choices,
    strategies_table,
    strategy_choices,
    submissions_table,
    symbol_choices,
)
from services.core import clock
from services.strategies import backtests as strategies
from services.strategies.lona.credentials import is_configured, not_configured_message

PAGE_SIZE = 20
TABS = ("Strategies", "Publish data", "Backtest", "Report", "History")
REFRESH_S = 2
RECENT_BACKTESTS = 5
#: a backtest on more symbols than this asks for a confirmation listing them first
CONFIRM_ABOVE = 3


def _days(label: str, first: date, last: date, key: str, **bounds: date) -> tuple[date, date]:
    chosen = st.date_input(label, value=(first, last), key=key, persist_state="page", **bounds)
    return chosen if isinstance(chosen, tuple) and len(chosen) == 2 else (first, last)


# --- Strategies -------------------------------------------------------------------------------------------
def _listing() -> None:
    runtime = console().runtime
    number = st.session_state.get("strategies_page", 1)
    listing = strategies.list_strategies(runtime, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    if listing.items:
        show_table(strategies_table(listing.items))
    else:
        st.info("No strategy on this page." if number > 1 else
                "Lona holds no strategy for this agent yet: create or upload one below.")
    if (pages := page_count(listing)) > 1:  # also on an emptied page, so there is a way back
        st.pagination(pages, key="strategies_page", persist_state="page")
    if not listing.items:
        return
    names = {s.id: f"{s.name} ({s.id})" for s in listing.items}
    chosen = st.selectbox("Open a strategy", list(names), index=None, format_func=names.get, key="open_strategy",
                          persist_state="page")
    if chosen:
        strategy = strategies.get_strategy(runtime, chosen)
        st.caption(f"{strategy.id} · version {strategy.version or '?'} · {strategy.language or 'python'} · "
                   f"updated {strategy.updated_at or '?'}")
        strategy_code(strategy.code, strategy.description)


def _strategies_tab() -> None:
    listing = st.container()  # filled last, so a strategy made below is already listed
    st.subheader("Create from a description")
    create_form()
    st.subheader("Upload code")
    upload_form()
    with listing, shows_errors():
        _listing()


# --- Publish data -----------------------------------------------------------------------------------------
def _publish_tab() -> None:
    runtime = console().runtime
    entries = {str(e.ref): days for e in runtime.datasets.catalog() if (days := catalog_days(e))}
    if entries:
        chosen = st.selectbox("Dataset", list(entries), key="publish_dataset", persist_state="page")
        first, last = entries[chosen]
        start, end = _days("Days (UTC)", first, last, f"publish_days_{chosen}", min_value=first, max_value=last)
        if st.button("Publish to Lona", type="primary", key="do_publish",
                     **needs_role("trader", "Uploaded once per data version and range, then reused.")):
            with shows_errors(), st.spinner("Publishing…"):
                done = strategies.publish_dataset(runtime, chosen, start, end, actor=current_actor())
                verb = "Uploaded" if done.uploaded else "Already on Lona, reused (nothing uploaded):"
                st.success(f"{verb} {done.candles:,} candles of {done.dataset_ref} as symbol {done.symbol_id} "
                           f"({done.name})")
    else:
        st.info("No dataset with candles yet: seed or import one on the Market Data page.")
    st.subheader("Published")
    show_table(published_table(strategies.published_symbols(runtime)))


# --- Backtest ---------------------------------------------------------------------------------------------
def _open_report(report_id: str) -> None:
    st.session_state["report"] = report_id
    st.session_state["tab"] = "Report"


@st.fragment(run_every=REFRESH_S)
def _recent() -> None:
    """The latest backtests as storage has them (a job polls Lona), so leaving the page loses nothing."""
    runtime = console().runtime
    with shows_errors():
        recent = recent_backtests(runtime, RECENT_BACKTESTS)
        if not recent:
            st.caption("No backtest started from this console yet.")
        for item in recent:
            report_id = item.backtest.report_id
            bar, action = st.columns([5, 1], vertical_alignment="bottom")
            bar.progress(item.fraction, text=item.text)
            if item.stalled:
                if action.button("Follow again", key=f"follow_{report_id}", **needs_role("trader")):
                    strategies.follow_backtest(runtime, report_id, actor=current_actor())
            elif action.button("Report", key=f"open_{report_id}", on_click=_open_report, args=(report_id,)):
                st.rerun()


def _start() -> None:
    runtime = console().runtime
    choices = strategy_choices(strategies.list_strategies(runtime, 0, 100).items, strategies.strategy_history(runtime))
    strategy_id = st.selectbox("Strategy", list(choices), index=None, format_func=lambda s: choices.get(s, s),
                               key="backtest_strategy", persist_state="page", placeholder="Choose a strategy")
    published, entries = strategies.published_symbols(runtime), runtime.datasets.catalog()
    symbols = symbol_choices(published, entries)
    chosen = st.multiselect("Symbols", list(symbols), format_func=lambda s: symbols.get(s, s),
                            key="backtest_symbols", persist_state="page", accept_new_options=True,
                            select_all=False,  # Enter after typing must pick one symbol, never "Select 56 matches"
                            help="Published symbols, our datasets (published when the run starts) or any Lona "
                            "symbol id you type.")
    first, last = backtest_days(chosen, published, entries, clock.now().date())
    start, end = _days("Days (UTC)", first, last, f"backtest_days_{'|'.join(chosen)}")
    cash_column, commission_column = st.columns(2)
    cash = cash_column.number_input("Initial cash", min_value=1.0, value=100_000.0, step=1_000.0,
                                    key="backtest_cash", persist_state="page")
    commission = commission_column.number_input("Commission (fraction of each trade)", min_value=0.0, max_value=0.1,
                                                value=0.001, step=0.0005, format="%.4f", key="backtest_commission",
                                                persist_state="page")
    confirmed = _confirmation(chosen)
    if st.button("Start backtest", type="primary", key="do_backtest",
                 **needs_role("trader", ready=bool(strategy_id) and confirmed)):
        with st.spinner("Publishing the data and starting the run…"):
            started = strategies.start_backtest(runtime, strategy_id, chosen, start, end, actor=current_actor(),
                                                initial_cash=cash, commission=commission)
        st.session_state["report"] = started.report_id
        st.success(f"Started backtest {started.report_id} on {', '.join(started.symbol_ids)}; a background job "
                   "follows it below.")


def _confirmation(chosen: list[str]) -> bool:
    """More than a few symbols: list what will be uploaded and run, and start only once that is confirmed."""
    if len(chosen) <= CONFIRM_ABOVE:
        return True
    uploads = [s for s in chosen if "/" in s]
    st.warning(f"This backtest runs on {len(chosen)} symbols and first uploads {len(uploads)} dataset(s) to Lona: "
               + ", ".join(chosen))
    return st.checkbox(f"Upload {len(uploads)} and run {len(chosen)} symbols", key="backtest_confirm")


def _backtest_tab() -> None:
    with shows_errors():
        _start()
    st.subheader("Recent backtests")
    _recent()


# --- Report and History -----------------------------------------------------------------------------------
def _report_tab() -> None:
    runtime = console().runtime
    if "report" not in st.session_state and st.query_params.get("report"):
        st.session_state["report"] = st.query_params["report"]  # a shared link names the report
    choices = report_choices(strategies.backtest_history(runtime), st.session_state.get("report"))
    report_id = st.selectbox("Backtest report", list(choices), index=None, format_func=lambda r: choices.get(r, r),
                             key="report", persist_state="page", accept_new_options=True,
                             placeholder="Choose a backtest or paste a Lona report id")
    if not report_id:
        st.query_params.pop("report", None)
        return
    st.query_params["report"] = report_id
    report_panel(strategies.backtest_report(runtime, report_id))


def _history_tab() -> None:
    runtime = console().runtime
    st.subheader("Backtests")
    show_table(backtests_table(strategies.backtest_history(runtime, limit=200)))
    st.subheader("Strategies submitted")
    show_table(submissions_table(strategies.strategy_history(runtime, limit=200)))


def render() -> None:
    """Draw the page."""
    st.title("Strategies")
    settings = console().runtime.settings
    with shows_errors():
        if not is_configured(settings):
            st.warning(not_configured_message(settings), icon=":material/power_off:")
            return
        st.caption(f"Lona Gateway {settings.lona_gateway_url} · agent {settings.lona_agent_id}")
        tabs = st.tabs(TABS, key="tab", on_change="rerun", bind="query-params")
        for tab, draw in zip(tabs, (_strategies_tab, _publish_tab, _backtest_tab, _report_tab, _history_tab),
                             strict=True):
            if tab.open:
                with tab, shows_errors():
                    draw()
