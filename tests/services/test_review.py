"""Decision review: constructed histories whose outcomes are known by hand (the graph's, a manual order, an API
proposal), pending outcomes, partial fills, idempotent and race-safe jobs."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from services.core.errors import BadInput
from services.core.records import review_aggregates, review_decisions, review_outcomes
from services.review.outcomes import Candles, Decision, aggregate, outcome
from services.review.store import JOB_KIND, Review, ReviewFilter, refresh
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.orders import ALICE
from tests.support.review import (
    ANCHOR,
    API_SOURCE,
    PROPOSER,
    RUN,
    decide_history,
    decide_others,
    write_future,
    write_history,
)


@pytest.fixture
def history(make_runtime, request):
    """The constructed history on SQLite (``indirect`` parametrisation with "postgresql": on PostgreSQL)."""
    backend = getattr(request, "param", "sqlite")
    records = {} if backend == "sqlite" else {"database_url": request.getfixturevalue("postgres_url")}
    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0, **records)
    write_history(runtime)
    return runtime, decide_history(runtime)


def _stored(engine) -> dict:
    with engine.connect() as connection:
        return {table.name: sorted(tuple(r) for r in connection.execute(select(table)))
                for table in (review_decisions, review_outcomes, review_aggregates)}


def _one(review: Review, horizon: str, **scope) -> dict:
    rows = review.aggregates(ReviewFilter(horizon=horizon, **scope))
    return {(r.scope, r.key): r for r in rows}


BOTH = pytest.mark.parametrize("history", ["sqlite", "postgresql"], indirect=True)


@BOTH
def test_the_constructed_history_reviews_to_the_numbers_worked_out_by_hand(history):
    runtime, made = history
    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    review = Review(runtime.engine)
    overall = _one(review, "5")[("overall", "")]
    assert (overall.decisions, overall.resolved, overall.pending) == (4, 4, 0)
    assert overall.counts == {"approved": 1, "edited": 1, "expired": 1, "rejected": 1}
    assert overall.agent_pnl == pytest.approx(-20.0) and overall.actual_pnl == pytest.approx(5.0)
    assert overall.value_edits == pytest.approx(15.0) and overall.value_rejections == pytest.approx(30.0)
    assert overall.value_expiries == pytest.approx(-20.0) and overall.value_other == 0.0
    assert overall.value_added == pytest.approx(25.0)
    assert (overall.hits, overall.forecasts, overall.hit_rate) == (3, 4, 0.75)
    assert (overall.intervals, overall.covered) == (0, 0)  # intervals are held against the forecast horizon only
    at_forecast = _one(review, "forecast")[("overall", "")]
    assert (at_forecast.covered, at_forecast.intervals, at_forecast.coverage) == (2, 4, 0.5)
    assert at_forecast.agent_pnl == pytest.approx(-20.0)  # the forecast horizon is 5 bars

    one_bar = _one(review, "1")[("overall", "")]
    assert one_bar.agent_pnl == pytest.approx(0.0) and one_bar.actual_pnl == pytest.approx(5.0)
    twenty = _one(review, "20")[("overall", "")]
    assert twenty.agent_pnl == pytest.approx(40 - 50 - 50 + 40) and twenty.actual_pnl == pytest.approx(40 - 25)

    scoped = _one(review, "5", run=RUN, symbol="DOWN", operator="alice")
    assert scoped[("run", RUN)].actual_pnl == pytest.approx(5.0)
    assert (scoped[("symbol", "DOWN")].agent_pnl, scoped[("symbol", "DOWN")].actual_pnl) == (-60.0, -15.0)
    assert (scoped[("operator", "alice")].agent_pnl, scoped[("operator", "alice")].actual_pnl) == (-10.0, 5.0)
    bob = _one(review, "5", operator="bob")[("operator", "bob")]
    assert (bob.decisions, bob.value_rejections) == (1, 30.0)

    rows = {r.order_id: r for r in review.decisions(ReviewFilter(horizon="5"))}
    a, b, c, d = (rows[made[p]] for p in "ABCD")
    assert (a.decision, a.operator, a.fill_price, a.actual_pnl, a.exit_price) == ("approved", "alice", 100.0, 20.0,
                                                                                   102.0)
    assert a.realised_return == pytest.approx(math.log(1.02)) and a.hit and a.covered is None
    assert (b.decision, b.operator, b.reason, b.agent_pnl, b.actual_pnl) == ("rejected", "bob",
                                                                             "too risky before earnings", -30.0, 0.0)
    assert (c.decision, c.proposed["quantity"], c.final["quantity"], c.executed_quantity) == ("edited", 10, 5, 5)
    assert c.edits[0]["diff"] == {"quantity": [10, 5]} and c.edits[0]["by"] == "alice"
    assert (c.agent_pnl, c.actual_pnl, c.value_added) == (-30.0, -15.0, 15.0)
    assert (d.decision, d.operator, d.agent_pnl, d.actual_pnl) == ("expired", "", 20.0, 0.0)
    assert review.options().operators == ("alice", "bob") and review.options().runs == (RUN,)


def test_outcomes_stay_pending_until_the_candles_arrive(history):
    runtime, _made = history
    refresh(runtime.engine, runtime.datasets)
    review = Review(runtime.engine)
    overall = _one(review, "1")[("overall", "")]
    assert (overall.decisions, overall.resolved, overall.pending, overall.hit_rate) == (4, 0, 4, None)
    assert {r.note for r in review.decisions(ReviewFilter(horizon="5"))} == {"waiting for 5 more candles"}

    write_future(runtime, bars=3)
    refresh(runtime.engine, runtime.datasets)
    assert _one(review, "1")[("overall", "")].resolved == 4
    assert {r.note for r in review.decisions(ReviewFilter(horizon="5"))} == {"waiting for 2 more candles"}

    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    assert {r.outcome_status for r in review.decisions(ReviewFilter(horizon="20"))} == {"done"}


@BOTH
def test_re_running_the_job_gives_the_same_rows_and_writes_nothing(history):
    runtime, _made = history
    write_future(runtime, bars=5)
    job = runtime.jobs.get(runtime.jobs.submit(JOB_KIND, {}, actor="test"))
    assert job.status == "succeeded" and job.result["written"] > 0
    before = _stored(runtime.engine)
    again = runtime.jobs.get(runtime.jobs.submit(JOB_KIND, {}, actor="test"))
    assert again.result["written"] == 0 and again.result["pending"] == 4  # the 20-bar outcomes wait
    assert _stored(runtime.engine) == before


def test_a_decision_whose_outcomes_were_lost_is_reviewed_again(history):
    from sqlalchemy import delete

    runtime, made = history
    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    before = _stored(runtime.engine)
    with runtime.engine.begin() as connection:
        connection.execute(delete(review_outcomes).where(review_outcomes.c.order_id == made["A"]))
    assert refresh(runtime.engine, runtime.datasets)["reviewed"] == 1
    after = _stored(runtime.engine)
    assert [r[:-1] for r in after["review_outcomes"]] == [r[:-1] for r in before["review_outcomes"]]


def test_an_approved_order_not_yet_executed_waits_and_a_later_change_is_picked_up(make_runtime):
    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0)
    write_history(runtime)
    write_future(runtime)
    context = {"forecast": {"expected_return": 0.01, "lower": -0.1, "upper": 0.1, "horizon": 5},
               "data_until_ms": ANCHOR}
    (order,) = runtime.orders.propose("run-2", [Proposal("p", "UP", "buy", 4, 104.0, dataset_ref="sample/UP/1d",
                                                         checks=[Check("max order notional", True, 416.0, 1e6)],
                                                         context=context)])
    refresh(runtime.engine, runtime.datasets)
    assert Review(runtime.engine).decisions(ReviewFilter()) == []  # still pending approval: not a decision yet
    runtime.orders.approve(order.id, ALICE)
    refresh(runtime.engine, runtime.datasets)
    (row,) = Review(runtime.engine).decisions(ReviewFilter())
    assert (row.decision, row.outcome_status, row.note) == ("approved", "pending", "not executed yet")
    runtime.orders.submit(order.id)
    refresh(runtime.engine, runtime.datasets)
    (row,) = Review(runtime.engine).decisions(ReviewFilter())
    # a buy of 4 filled at the latest stored close (104, the 20th bar after the anchor), 102 five bars after it
    assert (row.outcome_status, row.fill_price, row.actual_pnl) == ("done", 104.0, -8.0)


def _decision(**overrides) -> Decision:
    values = dict(order_id="o", run_id="r", symbol="X", side="buy", decision="approved", operator="alice",
                  proposed_quantity=10, reference_price=100.0, anchor_ts=0, executed_quantity=10, fill_price=100.0,
                  forecast_return=0.01, forecast_lower=-0.05, forecast_upper=0.05, forecast_horizon=1)
    return Decision(**{**values, **overrides})


def test_ninety_percent_intervals_covering_nine_of_ten_read_as_90_percent_coverage():
    import numpy as np

    moves = [1.0, 2.0, -1.0, 3.0, -2.0, 0.5, -0.5, 4.0, -4.0, 20.0]  # only the last leaves [-5 %, +5 %]
    rows = [(d := _decision(order_id=str(i)), outcome(d, "forecast", Candles(np.array([1]), np.array([100 + m]),
                                                                             100.0)))
            for i, m in enumerate(moves)]
    (item,) = [v for k, v in aggregate(rows).items() if k == ("overall", "", "forecast")]
    assert (item.intervals, item.covered, item.coverage) == (10, 9, 0.9)
    assert (item.forecasts, item.hits) == (10, 6)  # the forecast said up; 6 of the moves are up


def test_fees_and_partial_fills_count_and_the_agent_alone_executes_the_proposal():
    import numpy as np

    after = Candles(np.array([1, 2]), np.array([101.0, 110.0]), 100.0)
    partial = outcome(_decision(executed_quantity=5, fee=1.0, side="sell", fill_price=100.0), "1", after)
    assert (partial.actual_pnl, partial.agent_pnl, partial.value_added) == (-6.0, -12.0, 6.0)
    assert outcome(_decision(forecast_return=0.0), "1", after).hit is None  # a zero forecast calls no direction
    assert outcome(_decision(forecast_horizon=None), "forecast", after).note == "no forecast horizon"
    assert outcome(_decision(anchor_ts=None), "1", after).status == "pending"


def test_bad_filters_are_refused_naming_the_choices():
    with pytest.raises(BadInput, match="not one of 1, 5, 20, forecast"):
        ReviewFilter(horizon="7")
    with pytest.raises(BadInput, match="symbol filter"):
        ReviewFilter(symbol="  ")


def test_the_upkeep_queues_a_review_when_orders_moved_or_outcomes_wait_and_ingestion_at_once(history):
    from services.review.store import queue_after_ingest, refresh_if_due

    runtime, _made = history
    assert refresh_if_due(runtime.jobs) is not None  # four decided orders, none reviewed
    assert refresh_if_due(runtime.jobs) is None  # all reviewed; their outcomes wait, but one ran just now
    assert refresh_if_due(runtime.jobs, pending_every_s=0) is not None  # waiting outcomes, an hour later
    assert queue_after_ingest(runtime.jobs) is not None  # new candles: at once
    assert [j.actor for j in runtime.jobs.list(kind=JOB_KIND)] == ["ingest", "upkeep", "upkeep"]


def test_the_upkeep_queues_nothing_when_there_is_nothing_to_review(runtime):
    from services.review.store import refresh_if_due

    assert refresh_if_due(runtime.jobs) is None and runtime.jobs.list(kind=JOB_KIND) == []


def test_unreadable_candles_leave_the_outcomes_pending_saying_why(history):
    from services.market_data.datasets import DatasetRef

    runtime, made = history
    write_future(runtime)
    runtime.datasets.delete(DatasetRef.parse("sample/DOWN/1d"))
    job = runtime.jobs.get(runtime.jobs.submit(JOB_KIND, {}, actor="test"))
    assert job.status == "succeeded", job.error
    rows = {r.order_id: r for r in Review(runtime.engine).decisions(ReviewFilter(horizon="5"))}
    assert rows[made["A"]].outcome_status == "done"
    assert rows[made["B"]].outcome_status == "pending"
    assert rows[made["B"]].note.startswith("candles of sample/DOWN/1d unreadable: no dataset sample/DOWN/1d")


@pytest.fixture
def others(make_runtime):
    """The manual order M and the API proposal P of tests/support/review.py, without the graph's history."""
    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0)
    write_history(runtime)
    return runtime, decide_others(runtime)


def test_a_manual_order_and_an_api_proposal_review_to_the_numbers_worked_out_by_hand(others):
    runtime, made = others
    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    review = Review(runtime.engine)
    rows = {r.order_id: r for r in review.decisions(ReviewFilter(horizon="5"))}
    m, p = rows[made["M"]], rows[made["P"]]
    assert (m.source, m.proposer, m.decision, m.operator, m.executed_quantity, m.fill_price) == (
        "manual", "alice", "approved", "bob", 10, 100.0)
    assert (m.agent_pnl, m.actual_pnl, m.value_added, m.exit_price) == (20.0, 20.0, 0.0, 102.0)
    assert m.realised_return == pytest.approx(math.log(1.02)) and (m.hit, m.covered) == (None, None)
    assert (p.source, p.proposer, p.decision, p.operator, p.reason) == (
        API_SOURCE, PROPOSER, "rejected", "alice", "the platform is wrong about DOWN")
    assert (p.proposed["quantity"], p.agent_pnl, p.actual_pnl, p.value_added) == (10, -30.0, 0.0, 30.0)

    overall = _one(review, "5")[("overall", "")]
    assert (overall.decisions, overall.resolved, overall.pending) == (2, 2, 0)
    assert (overall.agent_pnl, overall.actual_pnl, overall.value_rejections) == (-10.0, 20.0, 30.0)
    assert (overall.forecasts, overall.hit_rate, overall.intervals, overall.coverage) == (0, None, 0, None)
    manual = _one(review, "5", source="manual")[("source", "manual")]
    assert (manual.decisions, manual.agent_pnl, manual.actual_pnl, manual.value_added) == (1, 20.0, 20.0, 0.0)
    api = _one(review, "5", source=API_SOURCE)[("source", API_SOURCE)]
    assert (api.decisions, api.agent_pnl, api.actual_pnl, api.value_rejections) == (1, -30.0, 0.0, 30.0)
    one, twenty = _one(review, "1")[("overall", "")], _one(review, "20")[("overall", "")]
    assert (one.agent_pnl, one.actual_pnl, twenty.agent_pnl, twenty.actual_pnl) == (0.0, 10.0, -10.0, 40.0)

    # no forecast: no forecast horizon, so nothing to aggregate there, and nothing waits for it
    assert _one(review, "forecast") == {}
    at_forecast = review.decisions(ReviewFilter(horizon="forecast"))
    assert {(r.outcome_status, r.note) for r in at_forecast} == {("n/a", "no forecast horizon")}
    assert refresh(runtime.engine, runtime.datasets) == {"decisions": 2, "reviewed": 0, "pending": 0, "written": 0}
    assert review.options().sources == (API_SOURCE, "manual")
    assert [r.order_id for r in review.decisions(ReviewFilter(source="manual"))] == [made["M"]]


def test_with_manual_and_api_orders_beside_the_graph_its_numbers_stay_and_only_forecasts_count_in_hit_rate(history):
    runtime, made = history
    decide_others(runtime)
    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    review = Review(runtime.engine)
    graph = _one(review, "5", source="agent-graph")[("source", "agent-graph")]
    assert (graph.decisions, graph.agent_pnl, graph.actual_pnl, graph.hits, graph.forecasts) == (4, -20.0, 5.0, 3, 4)
    overall = _one(review, "5")[("overall", "")]
    assert (overall.decisions, overall.agent_pnl, overall.actual_pnl) == (6, -30.0, 25.0)
    assert (overall.hits, overall.forecasts, overall.value_rejections) == (3, 4, 60.0)
    at_forecast = _one(review, "forecast")[("overall", "")]
    assert (at_forecast.decisions, at_forecast.covered, at_forecast.intervals) == (4, 2, 4)
    alice = _one(review, "5", operator="alice")[("operator", "alice")]
    assert (alice.decisions, alice.agent_pnl, alice.actual_pnl) == (3, -40.0, 5.0)
    assert {r.order_id for r in review.decisions(ReviewFilter(source="agent-graph"))} == set(made.values())


def test_bad_source_filters_are_refused():
    with pytest.raises(BadInput, match="source filter"):
        ReviewFilter(source="")


def _partly_filled(runtime, status: str):
    """Proposal A of the history approved and sent as a resting limit order, then filled 4 of 10 at 100 by the
    venue, which then reports ``status``."""
    from services.trading.execution.base import VenueOrder

    (order,) = runtime.orders.propose("run-partial", [Proposal(
        "p", "UP", "buy", 10, 100.0, order_type="limit", limit_price=50.0, dataset_ref="sample/UP/1d",
        checks=[Check("max order notional", True, 500.0, 1e6)],
        context={"forecast": {"expected_return": 0.01, "lower": -0.1, "upper": 0.1, "horizon": 5},
                 "data_until_ms": ANCHOR})])
    runtime.orders.approve(order.id, ALICE)
    sent = runtime.orders.submit(order.id)
    assert sent.status == "submitted", sent.last_error
    venue = runtime.orders.venue
    answers = iter([("partially_filled", "partially_filled"), (status, status)])

    def lookup(client_order_id, venue_order_id=None):
        ours, raw = next(answers)
        return VenueOrder(client_order_id, venue_order_id or "v", ours, 4.0, 100.0, 0.0, raw, sent.updated_at)

    venue.lookup = lookup
    return order


@pytest.mark.parametrize("final", ["cancelled", "failed"])
def test_a_partial_fill_is_scored_for_the_filled_part_once_the_order_is_final(make_runtime, final):
    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0)
    write_history(runtime)
    order = _partly_filled(runtime, final)
    write_future(runtime)
    assert runtime.orders.reconcile() == 1
    refresh(runtime.engine, runtime.datasets)
    (row,) = Review(runtime.engine).decisions(ReviewFilter())
    assert (row.status, row.outcome_status, row.note) == ("partially_filled", "pending",
                                                          "4 filled so far: scored once the order is final")
    assert runtime.orders.reconcile() == 1 and runtime.orders.get(order.id).status == final
    refresh(runtime.engine, runtime.datasets)
    (row,) = Review(runtime.engine).decisions(ReviewFilter())
    # 4 bought at 100, worth 102 five bars after the anchor; the proposal of 10 at the same fill would make 20
    assert (row.outcome_status, row.executed_quantity, row.actual_pnl, row.agent_pnl) == ("done", 4, 8.0, 20.0)
    assert row.value_added == -12.0


def test_two_reviews_racing_on_postgresql_both_succeed_and_write_each_row_once(make_runtime, postgres_url,
                                                                              monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from services.review import store

    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0, database_url=postgres_url)
    write_history(runtime)
    decide_history(runtime)
    write_future(runtime)
    both_read = threading.Barrier(2, timeout=30)
    computed = store._outcomes

    def after_both_read(*args):
        result = computed(*args)
        both_read.wait()  # neither writes before the other has read: both find nothing stored
        return result

    monkeypatch.setattr(store, "_outcomes", after_both_read)
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: refresh(runtime.engine, runtime.datasets), range(2)))
    assert [r["reviewed"] for r in reports] == [4, 4]
    monkeypatch.setattr(store, "_outcomes", computed)
    before = _stored(runtime.engine)
    assert refresh(runtime.engine, runtime.datasets)["written"] == 0 and _stored(runtime.engine) == before
    assert len(before["review_outcomes"]) == 16
    overall = _one(Review(runtime.engine), "5")[("overall", "")]
    assert (overall.decisions, overall.agent_pnl, overall.actual_pnl) == (4, -20.0, 5.0)


def test_an_order_naming_no_bar_with_no_candle_before_it_waits_saying_why(others):
    from sqlalchemy import update

    from services.core import clock
    from services.core.records import orders
    from tests.support.market import DAY, T0

    runtime, made = others
    write_future(runtime)
    with runtime.engine.begin() as connection:
        connection.execute(update(orders).where(orders.c.id == made["M"]).values(created_at=clock.from_ms(T0 - DAY)))
    refresh(runtime.engine, runtime.datasets)
    (row,) = Review(runtime.engine).decisions(ReviewFilter(source="manual"))
    assert (row.outcome_status, row.note) == (
        "pending", "no candle of sample/UP/1d opened in the 100 bars before the order was proposed")
