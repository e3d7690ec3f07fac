"""Orders: the state machine, decisions, four eyes, kill switch, expiry, exactly-once submission, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text, update

from services.core import clock
from services.core.auth import Actor
from services.core.errors import BadInput, Conflict, PermissionDenied
from services.core.http_retry import RetryPolicy
from services.core.records import orders as orders_table
from services.trading.execution.live_engine import LiveEngineVenue
from services.trading.orders import TRANSITIONS, IllegalTransition, Proposal, check_transition, client_order_id
from services.trading.risk import Check
from services.trading.terms import Terms
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine
from tests.support.orders import ALICE, BOB, proposal, write_prices

VIEWER = Actor("vera", frozenset({"viewer"}))


@pytest.fixture
def paper(runtime):
    write_prices(runtime)
    return runtime


def test_every_transition_not_in_the_table_is_illegal():
    states = list(TRANSITIONS)
    for current in states:
        for target in states:
            if target in TRANSITIONS[current]:
                check_transition(current, target)
            else:
                with pytest.raises(IllegalTransition):
                    check_transition(current, target)
    assert all(not TRANSITIONS[s] for s in ("filled", "rejected", "expired", "cancelled", "failed"))


def test_client_order_id_is_stable_short_and_safe():
    key = client_order_id("run-1", "p1")
    assert key == client_order_id("run-1", "p1") != client_order_id("run-1", "p2")
    assert len(key) <= 32 and key.replace("-", "").isalnum()


def test_propose_approve_submit_fills_on_paper(paper):
    orders = paper.orders
    (order,) = orders.propose("run-1", [proposal()])
    assert order.status == "pending_approval" and order.notional == 1000.0
    assert orders.propose("run-1", [proposal()])[0].id == order.id  # idempotent
    approved = orders.approve(order.id, ALICE, "looks right")
    assert approved.status == "approved"
    sent = orders.submit(order.id)
    assert sent.status == "filled" and sent.filled_quantity == 10
    assert sent.average_price == pytest.approx(100 * 1.0005)
    trail = [(a.action, a.from_status, a.to_status, a.actor) for a in orders.audit(subject=order.id)][::-1]
    assert trail == [("proposed", None, "pending_approval", "agent-graph"),
                     ("approve", "pending_approval", "approved", "alice"),
                     ("submit", "approved", "submitting", "executor"),
                     ("venue_update", "submitting", "filled", "executor")]
    assert orders.submit(order.id).version == sent.version  # a second call sends nothing


def test_double_click_and_second_operator_get_a_conflict(paper):
    (order,) = paper.orders.propose("run-1", [proposal()])
    paper.orders.approve(order.id, ALICE, seen=Terms.of(order))
    with pytest.raises(Conflict):
        paper.orders.approve(order.id, ALICE, seen=Terms.of(order))
    with pytest.raises(Conflict, match="already approved"):
        paper.orders.approve(order.id, BOB)
    with pytest.raises(Conflict):
        paper.orders.reject(order.id, BOB, "too late")


def test_reject_needs_a_reason_and_roles_are_enforced(paper):
    (order,) = paper.orders.propose("run-1", [proposal()])
    with pytest.raises(BadInput, match="reason is required"):
        paper.orders.reject(order.id, ALICE, "  ")
    with pytest.raises(PermissionDenied, match="approver role"):
        paper.orders.approve(order.id, VIEWER)
    rejected = paper.orders.reject(order.id, ALICE, "not now")
    assert rejected.status == "rejected"
    assert paper.orders.audit(subject=order.id)[0].reason == "not now"


def test_four_eyes_above_the_notional_limit(paper):
    policy, gate = paper.orders.policy()
    paper.orders.set_policy(policy.model_dump(exclude_none=True), {**gate.model_dump(), "maxPositionWeight": 1.0},
                            ALICE, "allow a large test position")
    (order,) = paper.orders.propose("run-1", [proposal(quantity=600)])  # 60,000 USD > 50,000
    assert order.approvals_needed == 2
    first = paper.orders.approve(order.id, ALICE)
    assert first.status == "pending_approval" and first.approved_by == ["alice"]
    with pytest.raises(Conflict, match="second, different approver"):
        paper.orders.approve(order.id, ALICE)
    assert paper.orders.approve(order.id, BOB).status == "approved"


def test_approve_after_expiry_closes_it_as_expired(paper):
    (order,) = paper.orders.propose("run-1", [proposal()])
    with paper.engine.begin() as connection:
        connection.execute(update(orders_table).where(orders_table.c.id == order.id).values(
            expires_at=clock.now() - timedelta(seconds=1)))
    with pytest.raises(Conflict, match="expired"):
        paper.orders.approve(order.id, ALICE)
    assert paper.orders.get(order.id).status == "expired"


def test_expire_due(paper):
    paper.orders.propose("run-1", [proposal("a"), proposal("b")])
    with paper.engine.begin() as connection:
        connection.execute(update(orders_table).values(expires_at=clock.now() - timedelta(seconds=1)))
    assert paper.orders.expire_due() == 2
    assert {o.status for o in paper.orders.list()} == {"expired"}


def test_kill_switch_blocks_approval_and_submission(paper):
    (first, second) = paper.orders.propose("run-1", [proposal("a"), proposal("b")])
    paper.orders.approve(first.id, ALICE)
    with pytest.raises(PermissionDenied):
        paper.orders.set_kill_switch(True, VIEWER, "no")
    paper.orders.set_kill_switch(True, ALICE, "market halt")
    with pytest.raises(Conflict, match="kill switch"):
        paper.orders.approve(second.id, ALICE)
    assert paper.orders.submit(first.id).status == "approved"  # nothing sent while it is on
    assert paper.orders.submit_approved() and paper.orders.get(first.id).status == "approved"
    paper.orders.set_kill_switch(False, ALICE, "resumed")
    assert paper.orders.submit(first.id).status == "filled"
    actions = [a.action for a in paper.orders.audit(subject="risk-policy")]
    assert actions == ["policy_change", "policy_change"]


def test_a_failing_check_or_drift_refuses_approval(paper):
    (order,) = paper.orders.propose("run-1", [proposal(quantity=300)])  # 30% of 100k equity > 25% weight
    with pytest.raises(Conflict, match="max position weight"):
        paper.orders.approve(order.id, ALICE)
    (moved,) = paper.orders.propose("run-2", [proposal(price=90.0)])  # stored close 100: +11% drift
    with pytest.raises(Conflict, match="drifted"):
        paper.orders.approve(moved.id, ALICE)


def test_anomaly_seen_by_the_run_stands(paper):
    checks = [Check("anomaly gate", False, "critical anomaly", "no critical anomaly")]
    (order,) = paper.orders.propose("run-1", [proposal(checks=checks)])
    with pytest.raises(Conflict, match="anomaly gate"):
        paper.orders.approve(order.id, ALICE)


def test_edit_lowers_quantity_rechecks_and_stores_the_diff(paper):
    (order,) = paper.orders.propose("run-1", [proposal(quantity=300)])
    with pytest.raises(BadInput, match="only go down"):
        paper.orders.edit(order.id, ALICE, quantity=400)
    edited = paper.orders.edit(order.id, ALICE, quantity=100, limit_price=101.0)
    assert (edited.quantity, edited.limit_price, edited.order_type, edited.notional) == (100, 101.0, "limit", 10100.0)
    assert all(c["passed"] for c in edited.checks)
    assert paper.orders.audit(subject=order.id)[0].details["diff"] == {
        "quantity": [300.0, 100.0], "limit_price": [None, 101.0], "order_type": ["market", "limit"]}
    assert edited.proposed["quantity"] == 300
    paper.orders.approve(order.id, ALICE)
    assert paper.orders.submit(order.id).status == "filled"  # limit 101 crosses the stored 100


def test_audit_log_is_append_only(paper):
    (order,) = paper.orders.propose("run-1", [proposal()])
    with pytest.raises(Exception, match="append-only"), paper.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    with pytest.raises(Exception, match="append-only"), paper.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log"))
    assert paper.orders.audit(subject=order.id)[0].actor == "agent-graph"


@pytest.fixture
def live(make_runtime):
    with FakeLiveEngine() as fake:
        runtime = make_runtime(execution_venue="live-engine", live_engine_url=fake.url,
                               live_engine_service_api_key=SERVICE_KEY, live_engine_timeout_seconds=0.5)
        runtime.venue = LiveEngineVenue(runtime.settings, policy=RetryPolicy(attempts=2, base_delay_s=0.01))
        yield runtime, fake


def small(pid: str) -> Proposal:
    return proposal(pid, quantity=0.01, price=3000.0, symbol="ETHUSDT")


def test_venue_down_keeps_the_order_approved_then_sends_it_once(live):
    runtime, fake = live
    (order,) = runtime.orders.propose("run-1", [small("a")])
    runtime.orders.approve(order.id, ALICE)
    fake.fail_next(20, 503)
    waiting = runtime.orders.submit(order.id)
    assert waiting.status == "approved" and waiting.next_attempt_at > clock.now()
    assert "next attempt" in runtime.orders.audit(subject=order.id)[0].reason
    fake.heal()
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).values(next_attempt_at=clock.now()))
    sent = runtime.orders.submit(order.id)
    assert sent.status in ("submitted", "filled") and fake.creations == 1


def test_crash_between_submitting_and_the_answer_is_reconciled_without_a_second_send(live):
    runtime, fake = live
    (order,) = runtime.orders.propose("run-1", [small("a")])
    runtime.orders.approve(order.id, ALICE)
    fake.drop_next(1, method="POST")  # the engine creates the order, the answer never arrives
    fake.fail_next(20, 503, method="GET")  # and the engine is briefly unreachable for lookups
    runtime.orders.submit(order.id)
    assert fake.creations == 1
    # the executor "crashed" with the order in submitting: make it look old, then reconcile at restart
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).values(
            status="submitting", updated_at=clock.now() - timedelta(minutes=5), next_attempt_at=None))
    fake.heal()
    assert runtime.orders.reconcile() == 1
    assert runtime.orders.get(order.id).status in ("submitted", "filled")
    runtime.orders.submit_approved()
    assert fake.creations == 1


def test_the_inbox_blocks_approve_on_drift_only_while_the_gate_checks_it(paper):
    from services.trading.inbox import read_inbox

    (moved,) = paper.orders.propose("run-1", [proposal(price=90.0)])  # stored close 100: +11% drift
    (line,) = read_inbox(paper.orders).groups[0].lines
    assert line.blocked.startswith("price drifted +11.11%")
    policy, gate = paper.orders.policy()
    paper.orders.set_policy(policy.model_dump(exclude_none=True), {**gate.model_dump(), "checksOff": ["price drift"]},
                            ALICE, "drift is expected today")
    inbox = read_inbox(paper.orders)
    assert inbox.groups[0].lines[0].blocked == "" and inbox.groups[0].bulk_blocked == ""
    assert inbox.drift_bound is None  # the detail view says drift does not block
    assert paper.orders.approve(moved.id, ALICE).status == "approved"  # the service agrees with the button


def test_an_orders_context_reads_as_typed_models(paper):
    from services.trading.context import ContextAnomaly, Weight

    context = {"forecast": {"expected_return": 0.012, "lower": -0.01, "upper": 0.03, "horizon": 5,
                            "beats_naive": False, "added_later": "ignored"},
               "anomalies": [{"time": "2026-01-02", "kind": "jump", "severity": "warning", "score": 4.2,
                              "detail": "close jumped"}],
               "weights": {"current": 0.05, "target": 0.1}, "rationale": "TEST looks cheap.", "trace_url": None,
               "data_until_ms": 1_700_000_000_000}
    (order,) = paper.orders.propose("run-1", [Proposal("c", "TEST", "buy", 1, 100.0, dataset_ref="sample/TEST/1d",
                                                       context=context)])
    about = paper.orders.get(order.id).about
    assert about.forecast.beats_naive is False and about.forecast.horizon == 5
    assert about.anomalies == (ContextAnomaly(time="2026-01-02", kind="jump", severity="warning", score=4.2,
                                              detail="close jumped"),)
    assert about.weights == Weight(current=0.05, target=0.1)
    assert about.rationale == "TEST looks cheap." and about.data_until_ms == 1_700_000_000_000
    bare = paper.orders.propose("run-2", [proposal("d")])[0].about  # what a proposer did not give is empty
    assert bare.anomalies == () and bare.weights is None and bare.rationale == "" and bare.proposer is None


def test_since_then_lists_the_moves_after_a_version_and_the_order_now(runtime):
    from services.trading.inbox import since_then

    write_prices(runtime, "IBM", close=100.0)
    [order] = runtime.orders.propose("run-s", [Proposal("s1", "IBM", "buy", 4, 100.0, dataset_ref="sample/IBM/1d")])
    assert since_then(runtime.orders, order.id, order.version) is None
    assert since_then(runtime.orders, "no-such-order", 1) is None
    edited = runtime.orders.edit(order.id, ALICE, quantity=3, seen=Terms.of(order))
    runtime.orders.reject(edited.id, BOB, "too late in the day", seen=Terms.of(edited))
    since = since_then(runtime.orders, order.id, edited.version)
    assert [(m.action, m.actor) for m in since.moves] == [("reject", "bob")]
    assert since.order.status == "rejected"
    assert [m.action for m in since_then(runtime.orders, order.id, order.version).moves] == ["edit", "reject"]
