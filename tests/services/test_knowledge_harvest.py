"""Filling the knowledge base from the console's life: each source once, re-runs write nothing."""

from __future__ import annotations

import itertools

import numpy as np
from sqlalchemy import insert, select

from services.core import clock
from services.core.auth import local_operator
from services.core.records import graph_runs, kb_lessons_learned
from services.knowledge import harvest
from services.market_data.datasets import DatasetRef
from services.trading.orders import Proposal
from tests.support.knowledge import backtest_row, calm_then_wild
from tests.support.universe import candles, universe, write

OPERATOR = local_operator()


def _lessons(runtime) -> list[dict]:
    with runtime.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(kb_lessons_learned)).mappings()]


def test_a_finished_backtest_makes_one_lesson_and_a_rerun_writes_nothing(runtime):
    backtest_row(runtime, "r1", "COMPLETED", {"total_return_pct": -12.5, "sharpe_ratio": -0.4, "max_drawdown": -0.2})
    backtest_row(runtime, "r2", "FAILED", error="NameError: name 'sma' is not defined")
    backtest_row(runtime, "r3", "EXECUTING")
    kb = runtime.knowledge
    first = kb.put(harvest.backtest_documents(runtime.engine))
    again = kb.put(harvest.backtest_documents(runtime.engine))
    assert (first.added, again.added, again.updated, again.unchanged) == (2, 0, 0, 2)
    lessons = {row["backtest_id"]: row for row in _lessons(runtime)}
    assert set(lessons) == {"r1", "r2"}
    assert lessons["r1"]["category"] == "backtest_completed"
    assert "lost money on AAA" in lessons["r1"]["title"] and "-12.50%" in lessons["r1"]["lesson"]
    assert lessons["r2"]["category"] == "backtest_failure" and "NameError" in lessons["r2"]["lesson"]
    [hit] = kb.search("strategy code error", kinds=["lesson"], limit=1)
    assert hit["evidence"]["backtest_id"] == "r2"


def test_a_decided_order_is_one_lesson_rewritten_when_its_outcome_is_known(runtime):
    ref = universe(runtime, ("AAA",))[0]
    price = float(candles(0)["close"].iloc[-1])  # the latest stored close: no drift at approval
    [order] = runtime.orders.propose("run-1", [Proposal("p1", "AAA", "buy", 5, price, dataset_ref=ref)])
    assert harvest.order_documents(runtime.engine) == []  # still waiting for a decision
    runtime.orders.reject(order.id, OPERATOR, "earnings tomorrow, too risky")
    [other] = runtime.orders.propose("run-1", [Proposal("p2", "AAA", "buy", 1, price, dataset_ref=ref)])
    runtime.orders.approve(other.id, OPERATOR, "fine")
    assert runtime.knowledge.put(harvest.order_documents(runtime.engine)).added == 2
    lesson = next(r for r in _lessons(runtime) if r["order_id"] == order.id)
    assert "rejected" in lesson["lesson"] and "earnings tomorrow, too risky" in lesson["lesson"]
    assert lesson["run_id"] == "run-1"
    runtime.orders.submit_approved()  # the paper venue fills it: the outcome is now known
    result = runtime.knowledge.put(harvest.order_documents(runtime.engine))
    assert (result.added, result.updated, result.unchanged) == (0, 1, 1)
    filled = next(r for r in _lessons(runtime) if r["order_id"] == other.id)
    assert "filled 1 at" in filled["lesson"]
    assert len(_lessons(runtime)) == 2


def test_critical_anomalies_of_a_run_become_lessons(runtime):
    event = {"timestamp": 1_600_000_000_000, "end_timestamp": 1_600_000_000_000, "kind": "price_jump",
             "score": 9.1, "severity": "critical", "detail": "close moved 14 sigma", "time": "2020-09-13"}
    mild = {**event, "timestamp": 1, "severity": "warning"}
    now = clock.now()
    with runtime.engine.begin() as connection:
        connection.execute(insert(graph_runs).values(
            id="run-9", status="completed", actor="t", params={}, universe=["test/AAA/1d"], dataset_versions={},
            steps={}, results={"anomaly": {"anomalies": {"AAA": [event, mild]}}}, rationale={}, llm_usage={},
            traces=[], created_at=now, updated_at=now))
    docs = harvest.anomaly_documents(runtime.engine)
    assert len(docs) == 1 and docs[0].evidence["run_id"] == "run-9"
    assert runtime.knowledge.put(docs).added == 1 and runtime.knowledge.put(docs).unchanged == 1


def test_regimes_span_the_calm_and_the_wild_part_and_are_replaced_on_recompute(runtime):
    ref = DatasetRef.parse(write(runtime, "VOL", calm_then_wild()))
    kb = runtime.knowledge
    docs = harvest.regime_documents(runtime.datasets, ref)
    kb.put(docs)
    spans = kb.regimes(dataset_ref=str(ref))
    assert spans[0]["regime"] == "low_vol" and spans[-1]["regime"] == "high_vol"
    assert all(a["end_at"] < b["start_at"] for a, b in itertools.pairwise(spans))
    assert spans[-1]["volatility"] > 5 * spans[0]["volatility"]
    again = harvest.refresh(kb, runtime.engine, runtime.datasets, [ref])
    assert again["regimes"]["added"] == 0 and again["regimes"]["updated"] == 0
    assert kb.search("high volatility", assets=["VOL"], kinds=["regime"])[0]["evidence"]["dataset_ref"] == str(ref)


def test_correlations_of_stored_candles(runtime):
    base = candles(1, 400)
    twin = base.assign(close=base["close"] * np.exp(np.random.default_rng(2).normal(0, 0.001, 400)))
    refs = [DatasetRef.parse(write(runtime, "AAA", base)), DatasetRef.parse(write(runtime, "BBB", twin)),
            DatasetRef.parse(write(runtime, "CCC", candles(7, 400)))]
    runtime.knowledge.put(harvest.correlation_documents(runtime.datasets, refs))
    pairs = {(c["source_asset"], c["target_asset"]): c["correlation"] for c in runtime.knowledge.correlations()}
    assert pairs[("AAA", "BBB")] > 0.9 and abs(pairs[("AAA", "CCC")]) < 0.3
    assert all(c["window"] == 250 for c in runtime.knowledge.correlations())


def test_the_refresh_job_runs_on_the_worker_and_upkeep_does_not_queue_twice(runtime):
    universe(runtime, ("AAA", "BBB"))
    job_id = harvest.refresh_if_due(runtime.jobs)
    job = runtime.jobs.get(job_id)
    assert job.status == "succeeded", job.error
    assert job.result["sources"]["correlations"]["added"] == 1
    assert harvest.refresh_if_due(runtime.jobs) is None  # the last one finished a moment ago


def test_refresh_now_needs_a_trader_and_a_double_click_queues_one_job(runtime, monkeypatch):
    import pytest

    from services.core.auth import Actor
    from services.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied, match="trader role"):
        harvest.queue_refresh(runtime.jobs, Actor("vic", frozenset({"viewer"})))
    assert runtime.jobs.list(kind=harvest.JOB_KIND) == []
    runtime.queue.immediate = False  # leave the first job queued, as a busy worker would
    monkeypatch.setattr(runtime.jobs, "_enqueue", lambda job_id: None)
    first = harvest.queue_refresh(runtime.jobs, OPERATOR)
    assert harvest.queue_refresh(runtime.jobs, OPERATOR) == first
    assert len(runtime.jobs.list(kind=harvest.JOB_KIND)) == 1


def test_a_short_dataset_has_no_regimes_and_nothing_is_written(runtime):
    ref = DatasetRef.parse(write(runtime, "TINY", candles(1, 30)))
    assert harvest.regime_documents(runtime.datasets, ref) == []
    assert harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [ref])["regimes"]["added"] == 0
