"""A backtest report: what it ran on, then metrics (with the units assumed), curves and trades, or why it failed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.charts import equity_figure
from components.context import ERROR_ICON
from components.tables import show_table
from components.views.strategies import bar_fraction, metric_rows, trace_table, trades_heading
from services.strategies.backtests import BacktestReport


def _trace(report: BacktestReport) -> None:
    backtest = report.backtest
    if backtest is None:
        st.caption(f"Report {report.report_id} of strategy {report.strategy_id or 'unknown'}: not started from this "
                   "console, so its data and parameters are not on record here.")
        return
    st.caption(f"Report {report.report_id} · strategy {backtest.strategy_id} · {backtest.start_date} → "
               f"{backtest.end_date} · initial cash {backtest.initial_cash:,.2f} · commission "
               f"{backtest.commission:g} · started by {backtest.actor} {backtest.created_at:%Y-%m-%d %H:%M} UTC")
    if backtest.datasets:
        show_table(trace_table(backtest))


def _failure(report: BacktestReport) -> None:
    st.error(f"The backtest failed: {report.category or 'no category given'}", icon=ERROR_ICON)
    st.text(report.error or "Lona gave no message.")  # Lona's words: shown as plain text, never as markdown
    if report.stderr:
        st.caption("stderr (the runner's last output)")
        st.code(report.stderr, language="text", wrap_lines=True)


def _results(report: BacktestReport) -> None:
    for column, (label, value) in zip(st.columns(5), metric_rows(report.metrics), strict=True):
        column.metric(label, value)
    st.caption(f"Units: {report.metrics.units}.")
    if report.metrics.other:
        with st.expander("Other statistics, as Lona reported them"):
            st.dataframe(pd.DataFrame({"statistic": list(report.metrics.other),
                                       "value": list(report.metrics.other.values())}), hide_index=True)
    if report.timeline.empty:
        st.caption("Lona sent no equity timeline for this report.")
    else:
        st.plotly_chart(equity_figure(report.timeline), width="stretch", key=f"equity_{report.report_id}")
    st.write(trades_heading(report.metrics.total_trades, len(report.trades)))
    if not report.trades.empty:
        show_table(report.trades)


def report_panel(report: BacktestReport) -> None:
    """Draw ``report``: its trace, then results, the failure, or the progress of a run still going."""
    _trace(report)
    if report.status == "COMPLETED":
        _results(report)
    elif report.status == "FAILED":
        _failure(report)
    else:
        st.progress(bar_fraction(report.progress), text=f"Lona: {report.status.lower()}")
        st.caption("Still running: the Backtest tab follows it; the report appears here once it ends.")
