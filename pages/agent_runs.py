"""Agent Runs page: start a run of the agent graph, follow it node by node, read what each node found."""

from __future__ import annotations

import streamlit as st

from components.charts import candles_figure
from components.context import ERROR_ICON, console, current_actor, needs_role, shows_errors
from components.order_card import checks_table
from components.run_charts import anomaly_markers, forecast_figure, weights_figure
from components.views.runs import (
    SKILL_KEPT,
    SKILL_KEPT_HELP,
    events_frame,
    metrics_frame,
    orders_frame,
    progress_text,
    runs_frame,
    signals_frame,
    steps_frame,
    versions_frame,
)
from services.agents.run_store import FINAL, STATUSES, GraphRun
from services.agents.runs import cancel_run, continue_run, get_run, list_runs, start_run
from services.agents.state import MAX_STRATEGIES, RunParams
from services.market_data.datasets import DatasetRef
from services.market_data.ohlcv import approx_interval_ms
from services.strategies.backtests import strategy_history

REFRESH_S = 2
DEFAULT_UNIVERSE = ("sample/AAPL/1d", "sample/IBM/1d", "sample/MSFT/1d")


def _default_universe(refs: list[str]) -> list[str]:
    """The sample universe when it is stored, else the first three datasets of the first dataset's interval."""
    if sample := [r for r in DEFAULT_UNIVERSE if r in refs]:
        return sample
    interval = refs[0].rsplit("/", 1)[-1] if refs else ""
    return [r for r in refs if r.endswith(f"/{interval}")][:3]


def _start() -> None:
    runtime = console().runtime
    refs = [str(e.ref) for e in runtime.datasets.catalog()]
    policy, gate = runtime.orders.policy()
    with st.expander("Start a run", expanded=not st.query_params.get("run")), st.form("start_run"):
        universe = st.multiselect("Universe (datasets of one interval)", refs, default=_default_universe(refs),
                                  key="run_universe")
        left, middle, right = st.columns(3)
        horizon = left.number_input("Horizon (bars ahead)", 1, 250, 5, key="run_horizon")
        lookback = middle.number_input("Lookback (bars of history)", 50, 20_000, 1000, step=50, key="run_lookback")
        window = right.number_input("LSTM window (returns)", 5, 500, 60, key="run_window")
        known = {r.id: r.name for r in strategy_history(runtime, limit=200)}
        strategies = st.multiselect(
            "Lona strategies (signals)", list(known), format_func=lambda i: f"{known[i]} ({i})" if i in known else i,
            key="run_strategies", accept_new_options=True, max_selections=MAX_STRATEGIES,
            help=f"the latest completed backtest of each, per symbol, tilts the optimizer by at most "
                 f"±{gate.lonaTiltMax:.0%} (counted with Sharpe ≥ {gate.lonaMinSharpe:g}, max drawdown ≤ "
                 f"{gate.lonaMaxDrawdownPct:g} %, ≥ {gate.lonaMinTrades} trades); type another strategy id if needed")
        has_key = runtime.settings.xai_api_key is not None
        llm = st.toggle("LLM rationale (Grok)", value=has_key, disabled=not has_key, key="run_llm",
                        help=None if has_key else "set XAI_API_KEY to let Grok comment each step")
        st.caption(f"Risk limits in force ({policy.mode}): order ≤ {policy.limits.maxNotionalUsd:,.0f} USD, position ≤ "
                   f"{policy.limits.maxPositionNotionalUsd:,.0f} USD and ≤ {gate.maxPositionWeight:.0%} of equity, "
                   f"gross exposure ≤ {gate.maxGrossExposure:.0%}, daily notional ≤ {gate.dailyNotionalCapUsd:,.0f} "
                   f"USD, kill switch {'ON' if policy.killSwitch.triggered else 'off'}. Admins change them on the "
                   "Settings page; the LLM never overrides them.")
        if st.form_submit_button("Start run", type="primary", **needs_role("trader")):
            with shows_errors():
                params = RunParams(tuple(universe), horizon=int(horizon), lookback=int(lookback), window=int(window),
                                   llm=llm, strategies=tuple(strategies))
                st.query_params["run"] = start_run(runtime, params, current_actor()).id
                st.rerun()


def _steps(run: GraphRun) -> None:
    st.progress(run.progress, text=progress_text(run))
    st.dataframe(steps_frame(run), hide_index=True, width="stretch",
                 column_config={"seconds": st.column_config.NumberColumn(format="%.2f")})


@st.fragment(run_every=REFRESH_S)
def _live_steps(run_id: str, shown_status: str) -> None:
    """Progress read from storage every few seconds while the worker runs; a new status redraws the page."""
    run = get_run(console().runtime, run_id)
    _steps(run)
    if run.status != shown_status:
        st.rerun()


def _predictor(run: GraphRun) -> None:
    result = run.results.predictor
    if result is None:
        return
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(metrics_frame(result.forecasts), hide_index=True, width="stretch",
                 column_config={SKILL_KEPT: st.column_config.NumberColumn(format="%.2f", help=SKILL_KEPT_HELP),
                                **{c: percent for c in ("expected return", "lower", "upper", "raw model", "hit rate",
                                                        "coverage")}})
    bar_ms = approx_interval_ms(DatasetRef.parse(run.universe[0]).interval)
    columns = st.columns(min(3, len(result.forecasts)))
    for index, (symbol, forecast) in enumerate(result.forecasts.items()):
        columns[index % len(columns)].plotly_chart(forecast_figure(symbol, forecast, bar_ms), width="stretch",
                                                   key=f"forecast_{symbol}")


def _anomaly(run: GraphRun) -> None:
    result = run.results.anomaly
    if result is None:
        return
    for symbol, why in result.excluded.items():
        st.error(f"{symbol} is excluded from this run's orders: {why}", icon=":material/block:")
    severities = st.multiselect("Severities", ["critical", "warning", "info"], default=["critical", "warning"],
                                key="run_severities")
    st.dataframe(events_frame(result.anomalies, tuple(severities)), hide_index=True, width="stretch", height=240)
    symbol = st.selectbox("Candles of", list(result.anomalies), key="run_anomaly_symbol")
    item = run.results.dataset(symbol)
    chart = console().charts.build(DatasetRef.parse(item.ref), item.first_ts, item.last_ts)
    shown = [e for e in result.anomalies[symbol] if e.severity in severities]
    markers = anomaly_markers(shown, chart.frame)
    st.plotly_chart(candles_figure(chart, markers, height=420), width="stretch", key="run_anomaly_chart")


def _optimizer(run: GraphRun) -> None:
    result = run.results.optimizer
    if result is None:
        return
    allocation = result.allocation
    left, right = st.columns([2, 1])
    left.plotly_chart(weights_figure(allocation.weights), width="stretch", key="run_weights")
    right.metric("Expected return (horizon)", f"{allocation.expected_return:+.2%}")
    right.metric("Expected volatility (horizon)", f"{allocation.expected_volatility:.2%}")
    right.metric("Cash", f"{allocation.cash_weight:.1%}")
    orders = run.results.orders
    if not orders:
        st.info("No order proposed.")
    else:
        st.dataframe(orders_frame(orders), hide_index=True, width="stretch")
    for order in orders:
        with st.expander(f"Risk checks: {order.side} {order.quantity:g} {order.symbol}"):
            st.dataframe(checks_table(order.checks), hide_index=True, width="stretch")


def _signals(run: GraphRun) -> None:
    context = run.results.context
    signals = context.signals if context else None
    if signals is None:
        st.info("This run named no Lona strategy." if context else "The context step has not run yet.")
        return
    st.caption(f"As of {signals.as_of} · counted with Sharpe ≥ {signals.limits.lonaMinSharpe:g}, max drawdown ≤ "
               f"{signals.limits.lonaMaxDrawdownPct:g} %, ≥ {signals.limits.lonaMinTrades} trades; tilt within "
               f"±{signals.limits.lonaTiltMax:.0%}")
    for strategy in signals.strategies:
        if strategy.note:
            st.warning(f"{strategy.name or strategy.id}: {strategy.note}", icon=":material/warning:")
    st.dataframe(signals_frame(signals), hide_index=True, width="stretch",
                 column_config={"tilt": st.column_config.NumberColumn(format="percent")})


def _rationale(run: GraphRun) -> None:
    for step, entry in run.rationale.items():
        st.markdown(f"**{step.replace('_', ' ')}**")
        st.text(entry.llm or entry.summary)  # LLM text: plain text, never rendered as markdown/HTML
        if entry.llm:
            with st.expander("Deterministic summary"):
                st.text(entry.summary)
        if entry.note:
            st.caption(entry.note)
    if run.llm_usage:
        st.caption(f"LLM usage: {run.llm_usage}")


def _data_and_trace(run: GraphRun) -> None:
    if run.trace_url:
        st.link_button("Trace in LangSmith", run.trace_url)
    for trace in run.traces:
        if trace.note:
            st.caption(f"{trace.segment}: {trace.note}")
    st.dataframe(versions_frame(run), hide_index=True, width="stretch")


def _run(run_id: str) -> None:
    with shows_errors():
        run = get_run(console().runtime, run_id)
        st.subheader(f"Run {run.id}")
        st.caption(f"by {run.actor} · {run.created_at:%Y-%m-%d %H:%M:%S} UTC · {', '.join(run.universe)} · "
                   f"horizon {run.params.horizon}, lookback {run.params.lookback}, window {run.params.window}")
        if run.status in FINAL:
            _steps(run)
        else:
            _live_steps(run.id, run.status)
            if st.button("Cancel run", key="run_cancel", **needs_role("trader", "stops after the node running now")):
                cancel_run(console().runtime, run.id, current_actor())
                st.rerun()
        if run.error:
            st.error(run.error, icon=ERROR_ICON)
            if run.status in ("failed", "cancelled") and st.button("Continue from the last checkpoint",
                                                                           **needs_role("trader")):
                continue_run(console().runtime, run.id, current_actor())
                st.rerun()
        if run.outcome:
            st.success(run.outcome)
        if run.status == "awaiting_approval":
            st.info("The proposed orders wait in the Approvals inbox.")
        tabs = st.tabs(["Predictor", "Anomalies", "Lona signals", "Optimizer & orders", "Rationale", "Data & trace"])
        parts = (_predictor, _anomaly, _signals, _optimizer, _rationale, _data_and_trace)
        for tab, part in zip(tabs, parts, strict=True):
            with tab:
                part(run)


def _history() -> None:
    st.subheader("Run history")
    status = st.selectbox("Status", ["all", *STATUSES], key="runs_status")
    runs = list_runs(console().runtime, None if status == "all" else status)
    if not runs:
        st.info("No run yet.")
        return
    st.dataframe(runs_frame(runs), hide_index=True, width="stretch", height=min(36 * (len(runs) + 1) + 4, 300),
                 column_config={"progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0)})
    ids = [r.id for r in runs]
    current = st.query_params.get("run")
    st.selectbox("Open run", ids, index=ids.index(current) if current in ids else None, key="runs_open",
                 placeholder="choose a run", on_change=_open_chosen)


def _open_chosen() -> None:
    st.query_params["run"] = st.session_state["runs_open"]


def render() -> None:
    """Draw the page."""
    st.title("Agent Runs")
    st.caption("predictor → anomaly → optimizer → risk gate → approval → execute → record, on the job worker. "
               "The link to a run is shareable: its id is in the address.")
    with shows_errors():
        _start()
    if st.query_params.get("run"):
        _run(st.query_params["run"])
    with shows_errors():
        _history()
