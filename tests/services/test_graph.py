"""The agent graph end to end on small seeded data: proposals, interrupt, resume, execution, restarts, bad input."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from services.agents.results import Weight
from services.agents.runs import continue_run, get_run, list_runs, start_run
from services.agents.state import NODES, RunParams
from services.agents.universe import load_universe
from services.core import clock
from services.core.auth import local_operator
from services.core.errors import BadInput
from services.core.records import jobs, paper_orders
from services.market_data.datasets import DatasetRef, Datasets
from tests.support.orders import decide
from tests.support.universe import FAST, candles, frozen_tail, params, universe, write


@pytest.fixture
def graph_runtime(make_runtime):
    return make_runtime(**FAST)


def test_a_run_stops_at_approval_with_its_orders_in_the_table(graph_runtime):
    refs = universe(graph_runtime)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert [run.step(n).status for n in NODES] == ["done"] * 6 + ["waiting", "pending", "pending"]
    assert all(run.step(n).seconds >= 0 for n in NODES[:6])
    versions = {ref: graph_runtime.datasets.manifest(DatasetRef.parse(ref)).etag for ref in refs}
    assert run.dataset_versions == versions
    forecasts = run.results.predictor.forecasts
    assert set(forecasts) == {"AAA", "BBB", "CCC"}
    assert {"rmse_ratio", "hit_rate", "interval_coverage"} <= set(forecasts["AAA"].metrics.model_dump())
    assert forecasts["AAA"].lower <= forecasts["AAA"].expected_return <= forecasts["AAA"].upper
    orders = graph_runtime.orders.list(run_id=run.id)
    assert orders and {o.status for o in orders} == {"pending_approval"}
    order = orders[0]
    assert set(order.context) >= {"forecast", "anomalies", "weights", "rationale", "trace_url", "data_until_ms"}
    assert order.context["data_until_ms"] == run.results.load_data.calendar.last_ts
    assert order.dataset_ref in refs and order.checks and order.checks_pass
    assert "deterministic summary" in run.rationale["optimizer"].note
    assert graph_runtime.jobs.get(run.job_id).status == "succeeded"


def test_decisions_resume_the_run_and_only_approved_orders_reach_the_venue(graph_runtime):
    refs = universe(graph_runtime)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    decide(graph_runtime, run.id, reject={"AAA"})
    run = get_run(graph_runtime, run.id)
    assert run.status == "completed", run.error
    statuses = {o.symbol: o.status for o in graph_runtime.orders.list(run_id=run.id)}
    assert statuses == {"AAA": "rejected", "BBB": "filled", "CCC": "filled"}
    with graph_runtime.engine.connect() as connection:
        sent = {r.symbol for r in connection.execute(select(paper_orders.c.symbol))}
    assert sent == {"BBB", "CCC"}
    assert run.outcome == "3 order(s) decided and processed: 2 filled, 1 rejected"
    assert [run.step(n).status for n in NODES] == ["done"] * len(NODES)
    assert {e.status for e in run.results.execute.executed} == {"filled", "rejected"}


def test_the_checkpoint_survives_a_restart(graph_runtime, make_runtime):
    refs = universe(graph_runtime)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    restarted = make_runtime(**FAST)  # a new process on the same NEXUS_HOME
    assert restarted is not graph_runtime
    decide(restarted, run.id)
    run = get_run(restarted, run.id)
    assert run.status == "completed", run.error
    fills = {o.symbol: o.average_price for o in restarted.orders.list(run_id=run.id)}
    closes = {s: candles(i)["close"].iloc[-1] for i, s in enumerate(("AAA", "BBB", "CCC"))}
    assert fills == pytest.approx({s: c * 1.0005 for s, c in closes.items()})  # priced from the run's datasets


def test_a_second_run_on_the_same_data_reuses_the_trained_model(graph_runtime):
    refs = universe(graph_runtime)
    first = start_run(graph_runtime, params(refs), local_operator("tester"))
    second = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert first.results.predictor.model.cached is False
    assert second.results.predictor.model.cached is True
    assert second.results.predictor.forecasts == first.results.predictor.forecasts


def test_a_symbol_with_critical_anomalies_is_excluded_visibly(graph_runtime):
    refs = universe(graph_runtime, ("AAA", "BBB"))
    frozen = write(graph_runtime, "FRZ", frozen_tail(candles(7)))
    run = start_run(graph_runtime, params((*refs, frozen)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert "FRZ" in run.results.anomaly.excluded
    assert "stale" in run.results.anomaly.excluded["FRZ"]
    assert "FRZ is EXCLUDED" in run.rationale["anomaly"].summary
    assert run.results.optimizer.allocation.weights["FRZ"] == Weight(current=0.0, target=0.0)
    assert {o.symbol for o in graph_runtime.orders.list(run_id=run.id)} == {"AAA", "BBB"}


def test_a_run_with_nothing_to_propose_completes_without_interrupt_and_says_why(graph_runtime):
    frozen = tuple(write(graph_runtime, s, frozen_tail(candles(i))) for i, s in enumerate(("FRA", "FRB")))
    run = start_run(graph_runtime, params(frozen), local_operator("tester"))
    assert run.status == "completed", run.error
    assert "every symbol of the universe is excluded" in run.outcome
    assert run.step("approval").status == run.step("execute").status == "skipped"
    assert graph_runtime.orders.list(run_id=run.id) == []


def test_a_close_only_dataset_is_accepted(graph_runtime):
    refs = universe(graph_runtime, ("AAA",))
    close_only = write(graph_runtime, "CLO", candles(5), close_only=True)
    run = start_run(graph_runtime, params((*refs, close_only)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert run.results.dataset("CLO").close_only is True
    assert not any(e.kind == "volume_burst" for e in run.results.anomaly.anomalies["CLO"])


def test_a_dataset_too_short_for_the_lookback_fails_the_run_naming_it(graph_runtime):
    refs = universe(graph_runtime, ("AAA",))
    short = write(graph_runtime, "SHORT", candles(3, n=200))
    run = start_run(graph_runtime, params((*refs, short)), local_operator("tester"))
    assert run.status == "failed"
    assert "test/SHORT/1d has 200 bars; a lookback of 300 needs at least 300" in run.error
    assert run.step("load_data").status == "failed"
    assert graph_runtime.jobs.get(run.job_id).status == "failed"


def test_params_refuse_what_cannot_run():
    with pytest.raises(BadInput, match="universe is empty"):
        RunParams(())
    with pytest.raises(BadInput, match="lookback 100 is too short"):
        RunParams(("test/AAA/1d",), lookback=100)
    with pytest.raises(BadInput, match="appears in two datasets"):
        RunParams(("test/AAA/1d", "other/AAA/1d"))


def test_misaligned_calendars(graph_runtime):
    base = candles(1)
    holes = write(graph_runtime, "HOL", candles(2).drop(index=[100, 200, 350]))  # its own holidays
    late = write(graph_runtime, "LATE", candles(3, n=380))  # stops 20 bars before the others
    refs = (write(graph_runtime, "AAA", base), holes)
    loaded = load_universe(graph_runtime.datasets, params(refs).refs, 300)
    assert len(loaded.closes) == 300 and not loaded.closes.isna().any().any()
    assert {d["symbol"]: d["dropped"] for d in loaded.describe()} == {"AAA": 3, "HOL": 0}
    with pytest.raises(BadInput, match="do not end together: test/LATE/1d"):
        load_universe(graph_runtime.datasets, params((*refs, late)).refs, 300)
    hourly = DatasetRef.of("test", "HRS", "1h")
    with pytest.raises(BadInput, match="mixes intervals"):
        load_universe(graph_runtime.datasets, (*params(refs).refs, hourly), 300)


def test_nan_in_returns_is_counted_and_dropped(graph_runtime, monkeypatch):
    refs = universe(graph_runtime)
    original = Datasets.read_version

    def with_a_hole(self, manifest, *args, **kwargs):
        frame = original(self, manifest, *args, **kwargs)
        if manifest.ref.symbol == "BBB":
            frame.loc[frame.index[-50], "close"] = np.nan  # a feed that lost a close
        return frame

    monkeypatch.setattr(Datasets, "read_version", with_a_hole)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    nan = {d.symbol: d.nan_returns for d in run.results.universe}
    assert nan["BBB"] >= 1 and nan["AAA"] == 0


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even the job's error handling."""


def test_a_killed_worker_fails_the_run_and_it_continues_from_its_checkpoint(graph_runtime, monkeypatch):
    refs = universe(graph_runtime)

    def killed(*_args, **_kwargs):
        raise WorkerKilled

    monkeypatch.setattr("services.agents.nodes.detect_universe", killed)
    with pytest.raises(WorkerKilled):
        start_run(graph_runtime, params(refs), local_operator("tester"))
    (run,) = list_runs(graph_runtime)
    assert run.status == "running" and run.step("anomaly").status == "running"
    with graph_runtime.engine.begin() as connection:  # the heartbeat stopped a while ago
        connection.execute(update(jobs).values(heartbeat_at=clock.now() - timedelta(minutes=5)))
    run = get_run(graph_runtime, run.id)
    assert run.status == "failed" and "no heartbeat" in run.error and "nexus graph continue" in run.error
    assert run.step("anomaly").status == "failed"
    monkeypatch.undo()
    predicted_at = run.step("predictor").finished_at
    run = continue_run(graph_runtime, run.id, local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert run.step("predictor").finished_at == predicted_at  # not redone: taken from the checkpoint
    with graph_runtime.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(jobs)).scalar() == 2


def test_a_cancelled_run_stops_after_its_current_node_and_can_continue(graph_runtime, monkeypatch):
    refs = universe(graph_runtime)
    from services.agents import nodes

    detect = nodes.detect_universe

    def cancel_meanwhile(*args, **kwargs):
        (running,) = list_runs(graph_runtime, "running")
        graph_runtime.jobs.cancel(running.job_id, "bob")
        time.sleep(1.1)  # the job looks at cancellation at most once a second
        return detect(*args, **kwargs)

    monkeypatch.setattr(nodes, "detect_universe", cancel_meanwhile)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "cancelled" and "cancelled by an operator" in run.error
    assert run.step("anomaly").status == "done" and run.step("optimizer").status == "skipped"
    assert graph_runtime.orders.list(run_id=run.id) == []
    monkeypatch.undo()
    run = continue_run(graph_runtime, run.id, local_operator("tester"))
    assert run.status == "awaiting_approval"
    assert run.step("execute").status == run.step("record").status == "pending"
