"""AppTest of the Agent Runs page: start a run (the job runs inline), read its results, open a past run by URL."""

from __future__ import annotations

import pytest

from services.agents.runs import cancel_run, get_run, list_runs, start_run
from services.agents.state import RunParams
from services.core.auth import Actor, local_operator
from services.core.errors import BadInput, PermissionDenied
from tests.fakes.lona_gateway import TOKEN
from tests.support.strategies import backtested
from tests.support.universe import FAST, candles, params, universe


def write_interval(runtime, symbol: str, interval: str) -> str:
    """Store a seeded dataset ``test/SYMBOL/interval``; return its ref."""
    from services.market_data.datasets import DatasetRef

    ref = DatasetRef.of("test", symbol, interval)
    runtime.datasets.write(ref, candles(9), replace_overlap=True)
    return str(ref)


@pytest.fixture
def seeded(make_runtime):
    runtime = make_runtime(**FAST)
    return runtime, universe(runtime)


def test_start_a_run_and_read_its_results(seeded, page_app):
    runtime, refs = seeded
    at = page_app("agent_runs", timeout=120)
    at.run()
    assert not at.exception
    assert at.multiselect(key="run_universe").value == list(refs)
    at.number_input(key="run_horizon").set_value(3)
    at.number_input(key="run_lookback").set_value(300)
    at.number_input(key="run_window").set_value(20)
    next(b for b in at.button if b.label == "Start run").click().run()
    assert not at.exception, at.exception
    run_id = at.query_params["run"]
    orders = runtime.orders.list(run_id=run_id)
    assert orders and {o.status for o in orders} == {"pending_approval"}
    assert any(f"Run {run_id}" in s.value for s in at.subheader)
    assert any("Approvals inbox" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) >= 5  # three forecasts, the candles with anomaly markers, the weights
    frames = {tuple(d.value.columns) for d in at.dataframe}
    assert any("RMSE ratio" in columns for columns in frames)
    assert any("checks" in columns for columns in frames)
    assert any("LLM off for this run" in c.value for c in at.caption)


def test_open_a_past_run_from_its_link(seeded, page_app):
    runtime, refs = seeded
    run = start_run(runtime, params(refs), local_operator("tester"))
    at = page_app("agent_runs", timeout=120)
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception, at.exception
    assert any(f"Run {run.id}" in s.value for s in at.subheader)
    assert at.selectbox(key="runs_open").value == run.id
    history = at.dataframe[-1].value
    assert list(history["run"]) == [run.id] and history["status"][0] == "awaiting approval"


def test_approving_a_runs_orders_in_the_inbox_completes_the_run(seeded, page_app):
    runtime, refs = seeded
    run = start_run(runtime, params(refs), local_operator("tester"))
    inbox = page_app("approvals", timeout=120)
    inbox.run()
    inbox.button(key=f"bulk_approve_{run.id}").click().run()
    inbox.button(key="bulk_confirm_approve").click().run()
    assert not inbox.exception, inbox.exception
    at = page_app("agent_runs", timeout=120)
    at.query_params["run"] = run.id
    at.run()
    assert any("3 order(s) decided and processed: 3 filled" in s.value for s in at.success)


def test_shrinkage_is_labelled_for_what_it_means(seeded, page_app):
    runtime, refs = seeded
    run = start_run(runtime, params(refs), local_operator("tester"))
    at = page_app("agent_runs", timeout=120)
    at.query_params["run"] = run.id
    at.run()
    metrics = next(d.value for d in at.dataframe if "RMSE ratio" in d.value.columns)
    assert "shrinkage" not in metrics.columns and "skill kept" in metrics.columns
    assert metrics["skill kept"].between(0, 1).all()


def test_a_failed_runs_progress_says_what_failed(seeded, page_app, monkeypatch):
    runtime, refs = seeded
    from services.agents import nodes

    def changed(*args, **kwargs):
        raise BadInput("dataset test/BBB/1d changed while the run read it")

    monkeypatch.setattr(nodes, "detect_universe", changed)
    run = start_run(runtime, params(refs), local_operator("tester"))
    assert run.status == "failed"
    at = page_app("agent_runs", timeout=120)
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception, at.exception
    (bar,) = at.get("progress")
    assert "of the nodes" not in bar.proto.text
    assert "anomaly" in bar.proto.text and "dataset test/BBB/1d changed" in bar.proto.text


def test_a_universe_mixing_intervals_is_refused_in_the_form(seeded, page_app):
    runtime, refs = seeded
    hourly = write_interval(runtime, "DDD", "1h")
    at = page_app("agent_runs", timeout=120)
    at.run()
    assert at.multiselect(key="run_universe").value == list(refs)  # the default keeps to one interval
    at.multiselect(key="run_universe").select(hourly)
    next(b for b in at.button if b.label == "Start run").click().run()
    assert not at.exception, at.exception
    assert any("mixes intervals" in e.value and "1h" in e.value for e in at.error)
    assert not list_runs(runtime) and not at.query_params.get("run")


def test_a_universe_mixing_intervals_is_refused_by_the_service(seeded):
    runtime, refs = seeded
    hourly = write_interval(runtime, "DDD", "1h")
    with pytest.raises(BadInput, match="mixes intervals"):
        start_run(runtime, RunParams((*refs, hourly)), local_operator("tester"))
    assert not list_runs(runtime)


def test_a_queued_or_running_run_has_a_cancel_button(seeded, page_app):
    runtime, refs = seeded
    runtime.queue.immediate = False  # no worker: the run stays queued
    run = start_run(runtime, params(refs), local_operator("tester"))
    at = page_app("agent_runs", timeout=120)
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception, at.exception
    at.button(key="run_cancel").click().run()
    assert not at.exception, at.exception
    assert get_run(runtime, run.id).status == "cancelled"
    assert runtime.jobs.get(run.job_id).status == "cancelled"
    assert not [b for b in at.button if b.key == "run_cancel"]


def test_only_traders_see_an_enabled_cancel_button(make_runtime, page_app):
    runtime = make_runtime(role_traders="tom@x.io", role_approvers="eve@x.io", **FAST)
    refs = universe(runtime)
    runtime.queue.immediate = False
    run = start_run(runtime, params(refs), local_operator("tester"))
    at = page_app("agent_runs", timeout=120)
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": True, "email": "eve@x.io", "name": "Eve"}
    at.query_params["run"] = run.id
    at.run()
    assert not at.exception, at.exception
    assert at.button(key="run_cancel").disabled
    with pytest.raises(PermissionDenied):
        cancel_run(runtime, run.id, Actor("eve@x.io", frozenset({"viewer", "approver"})))
    assert get_run(runtime, run.id).status == "queued"


def test_a_run_naming_a_lona_strategy_shows_its_signals(make_runtime, lona_gateway, page_app):
    runtime = make_runtime(**FAST, lona_gateway_url=lona_gateway.url, lona_agent_token=TOKEN,
                           lona_poll_interval_seconds=0.001, lona_poll_timeout_seconds=5)
    refs = universe(runtime)
    sma = backtested(runtime, lona_gateway, "SMA cross 20/50", refs[0], [{"entry_date": "2021-01-04", "side": "long"}])
    at = page_app("agent_runs", timeout=120)
    at.run()
    at.number_input(key="run_horizon").set_value(3)
    at.number_input(key="run_lookback").set_value(300)
    at.number_input(key="run_window").set_value(20)
    at.multiselect(key="run_strategies").select(sma)
    next(b for b in at.button if b.label == "Start run").click().run()
    assert not at.exception, at.exception
    assert get_run(runtime, at.query_params["run"]).params.strategies == (sma,)
    frame = next(d.value for d in at.dataframe if "position" in d.value.columns)
    assert frame.set_index("symbol")["position"].to_dict() == {"AAA": "long", "BBB": "no signal", "CCC": "no signal"}
    assert "no backtest of SMA cross 20/50 on BBB" in frame.set_index("symbol")["why"]["BBB"]
