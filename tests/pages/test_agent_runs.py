"""AppTest of the Agent Runs page: start a run (the job runs inline), read its results, open a past run by URL."""

from __future__ import annotations

import pytest

from services.agents.runs import start_run
from services.core.auth import local_operator
from tests.support.universe import FAST, params, universe


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
