"""The typed read models of a stored run (services/agents/results.py): parsed once, partial runs included."""

from __future__ import annotations

import pytest

from services.agents.results import RunResults, Step
from services.trading.risk import Check

DATASET = {"ref": "sample/AAA/1d", "symbol": "AAA", "version": "v1", "close_only": False, "bars": 10,
           "first_ts": 0, "last_ts": 9, "dropped": 0, "nan_returns": 0, "added_later": "ignored"}


def test_a_run_stopped_after_load_data_reads_as_its_universe_and_nothing_else():
    results = RunResults.model_validate({"load_data": {"universe": [DATASET], "dataset_versions": {"x": "v1"}}})
    assert results.dataset("AAA").bars == 10 and results.universe[0].ref == "sample/AAA/1d"
    assert results.predictor is None and results.anomaly is None and results.orders == ()
    with pytest.raises(KeyError):
        results.dataset("ZZZ")


def test_checked_orders_carry_typed_checks_and_name_the_failing_ones():
    checks = [{"name": "max_notional", "passed": False, "value": 120.0, "limit": 100.0, "detail": "too big"},
              {"name": "kill_switch", "passed": True, "value": "off", "limit": "off"}]
    order = {"symbol": "AAA", "side": "buy", "quantity": 2.0, "order_type": "market", "reference_price": 60.0,
             "notional": 120.0, "limit_price": None, "target_weight": None, "checks": checks, "passed": False}
    results = RunResults.model_validate({"risk_gate": {"orders": [order]}})
    (parsed,) = results.orders
    assert parsed.failing == (Check("max_notional", False, 120.0, 100.0, "too big"),)
    assert parsed.target_weight is None  # a number the model could not compute is stored as None


def test_a_step_keeps_its_stored_form():
    stored = {"status": "done", "started_at": "2026-01-01T00:00:00+00:00", "seconds": 1.5, "message": "ok"}
    assert Step.model_validate(stored).stored() == stored
    assert Step().status == "pending"


def test_the_context_step_reads_as_typed_news_and_matches_and_weights_keep_their_tilt():
    context = {"as_of": "2024-03-02T00:00:00+00:00", "start": "2024-02-29T00:00:00+00:00", "lookback_hours": 48.0,
               "note": None, "symbols": {
                   "AAA": {"count": 2, "mean": -0.5, "shock": True, "matches": [
                       {"kind": "lesson", "id": "l1", "title": "Cut after a recall", "score": 0.8, "summary": "x"}],
                       "most_negative": {"title": "Recall", "score": -0.9, "url": "", "published_at": None},
                       "most_positive": {"title": "Award", "score": -0.1, "url": "", "published_at": None}},
                   "BBB": {"count": 0, "mean": None, "shock": False, "matches": [], "most_negative": None,
                           "most_positive": None}}}
    weights = {"AAA": {"current": 0.0, "target": 0.19, "before_tilt": 0.2, "sentiment_tilt": -0.05},
               "BBB": {"current": 0.0, "target": 0.2}}
    results = RunResults.model_validate({"context": {"context": context}, "optimizer": {"allocation": {
        "weights": weights, "cash_weight": 0.61, "expected_return": 0.01, "expected_volatility": 0.02}}})
    aaa, bbb = results.context.context.symbols["AAA"], results.context.context.symbols["BBB"]
    assert aaa.headline.title == "Recall" and aaa.matches[0].kind == "lesson"
    assert aaa.line(48) == "2 news items in 48 h, sentiment -0.50: Recall"
    assert bbb.line(48) == "no news in 48 h" and bbb.headline is None
    assert results.optimizer.allocation.weights["AAA"].before_tilt == 0.2
    assert results.optimizer.allocation.weights["BBB"].sentiment_tilt is None
    assert RunResults.model_validate({}).context is None  # a run from before the context step
