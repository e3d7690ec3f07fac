"""Bad input to the risk policy: no reason, Infinity, NaN, text; a check an admin wants off is an explicit switch."""

from __future__ import annotations

import json

import pytest

from services.core.auth import local_operator
from services.core.errors import BadInput
from services.trading.risk import OFF_DETAIL
from tests.support.orders import proposal, write_prices

ADMIN = local_operator("ada")


@pytest.fixture
def paper(runtime):
    write_prices(runtime)
    return runtime


def _documents(runtime) -> tuple[dict, dict]:
    policy, gate = runtime.orders.policy()
    return policy.model_dump(exclude_none=True), gate.model_dump()


@pytest.mark.parametrize("reason", [None, "", "   ", 42])
def test_a_policy_change_without_a_reason_is_a_clear_error(runtime, reason):
    policy, gate = _documents(runtime)
    with pytest.raises(BadInput, match="reason is required"):
        runtime.orders.set_policy(policy, gate, ADMIN, reason)
    with pytest.raises(BadInput, match="reason is required"):
        runtime.orders.set_kill_switch(True, ADMIN, reason)
    assert not runtime.orders.audit(subject="risk-policy") and not runtime.orders.kill_switch_on()


@pytest.mark.parametrize("where, name", [("limits", "maxNotionalUsd"), ("limits", "maxDailyLossUsd"),
                                         ("gate", "dailyNotionalCapUsd"), ("gate", "fourEyesNotionalUsd"),
                                         ("gate", "maxDriftPct")])
@pytest.mark.parametrize("value", [float("inf"), float("nan"), "Infinity", "abc", None])
def test_limits_of_infinity_nan_or_text_are_refused_and_nothing_changes(runtime, where, name, value):
    policy, gate = _documents(runtime)
    before = runtime.orders.policy()
    if where == "limits":
        policy["limits"][name] = value
    else:
        gate[name] = value
    with pytest.raises(BadInput, match=rf"invalid .*{name}.*nothing was changed"):
        runtime.orders.set_policy(policy, gate, ADMIN, "try to switch a check off")
    assert runtime.orders.policy() == before
    assert not runtime.orders.audit(subject="risk-policy")


def test_infinity_from_the_json_editor_points_at_the_explicit_switch(runtime):
    policy, gate = _documents(runtime)
    policy = json.loads(json.dumps(policy).replace("1000000.0", "Infinity"))  # what json.loads makes of it
    with pytest.raises(BadInput, match=r"finite number.*checksOff"):
        runtime.orders.set_policy(policy, gate, ADMIN, "no notional limit")


def test_unknown_or_repeated_checks_cannot_be_switched_off(runtime):
    policy, gate = _documents(runtime)
    for wrong in (["kill switch"], ["anomaly gate"], ["max order notional", "max order notional"], "four eyes"):
        with pytest.raises(BadInput, match="checksOff"):
            runtime.orders.set_policy(policy, {**gate, "checksOff": wrong}, ADMIN, "x")
    assert not runtime.orders.audit(subject="risk-policy")


def test_a_check_turned_off_is_an_explicit_audited_switch(paper):
    orders = paper.orders
    policy, gate = _documents(paper)
    policy["limits"].update(maxNotionalUsd=500.0, maxPositionNotionalUsd=500.0)
    orders.set_policy(policy, gate, ADMIN, "small orders only")
    (small,) = orders.propose("run-1", [proposal("a", quantity=10)])  # 1,000 USD > 500
    failing = {c.name for c in orders.recheck(small) if not c.passed}
    assert {"max order notional", "max position notional"} <= failing

    orders.set_policy(policy, {**gate, "checksOff": ["max order notional", "max position notional"]}, ADMIN,
                      "desk review: notional limits handled upstream")
    checks = {c.name: c for c in orders.recheck(small)}
    assert checks["max order notional"].passed and checks["max order notional"].detail == OFF_DETAIL
    assert checks["max order notional"].limit == 500.0  # the limit stays visible; only the switch is off
    change = orders.audit(subject="risk-policy")[0]
    assert change.reason == "desk review: notional limits handled upstream"
    assert change.details["before"]["gate"]["checksOff"] == []
    assert change.details["after"]["gate"]["checksOff"] == ["max order notional", "max position notional"]
    assert orders.approve(small.id, ADMIN).status == "approved"


def test_four_eyes_off_is_a_switch_not_an_infinite_notional(paper):
    orders = paper.orders
    policy, gate = _documents(paper)
    gate.update(maxPositionWeight=1.0)
    orders.set_policy(policy, gate, ADMIN, "large test position")
    (big,) = orders.propose("run-1", [proposal("a", quantity=600)])
    assert big.approvals_needed == 2
    orders.set_policy(policy, {**gate, "checksOff": ["four eyes"]}, ADMIN, "single desk tonight")
    (other,) = orders.propose("run-1", [proposal("b", quantity=600)])
    assert other.approvals_needed == 1


def test_price_drift_off_lets_a_drifted_order_be_approved(paper):
    orders = paper.orders
    (order,) = orders.propose("run-1", [proposal("a", price=90.0)])  # the stored price is 100: +11 % drift
    with pytest.raises(Exception, match="drifted"):
        orders.approve(order.id, ADMIN)
    policy, gate = _documents(paper)
    orders.set_policy(policy, {**gate, "checksOff": ["price drift"]}, ADMIN, "stale reference prices today")
    assert orders.approve(order.id, ADMIN).status == "approved"


def test_tightening_the_order_cap_below_the_position_cap_says_to_lower_the_position_cap_first(runtime):
    policy, gate = _documents(runtime)  # order cap 1,000,000 USD, position cap 250,000 USD
    policy["limits"]["maxNotionalUsd"] = 200_000.0
    with pytest.raises(BadInput, match=r"lower the position cap \(maxPositionNotionalUsd\) to at most 200,000 USD "
                                       r"first.*nothing was changed"):
        runtime.orders.set_policy(policy, gate, ADMIN, "tighter")
    policy["limits"]["maxPositionNotionalUsd"] = 200_000.0  # both in the same change: consistent
    runtime.orders.set_policy(policy, gate, ADMIN, "tighter")
    assert runtime.orders.policy()[0].limits.maxNotionalUsd == 200_000.0


def test_raising_the_position_cap_above_the_order_cap_says_to_raise_the_order_cap_first(runtime):
    policy, gate = _documents(runtime)
    policy["limits"]["maxPositionNotionalUsd"] = 2_000_000.0
    with pytest.raises(BadInput, match=r"raise the order cap \(maxNotionalUsd\) to at least 2,000,000 USD first"):
        runtime.orders.set_policy(policy, gate, ADMIN, "bigger")
    assert not runtime.orders.audit(subject="risk-policy")


def test_a_position_weight_above_the_gross_exposure_is_refused_naming_both(runtime):
    policy, gate = _documents(runtime)  # weight 0.25, gross 1.0
    gate["maxGrossExposure"] = 0.2
    with pytest.raises(BadInput, match=r"lower the max position weight \(maxPositionWeight\) to at most 0.2 × "
                                       r"equity first"):
        runtime.orders.set_policy(policy, gate, ADMIN, "less exposure")
    assert not runtime.orders.audit(subject="risk-policy")


def test_a_save_from_a_policy_read_before_someone_elses_change_is_refused_and_theirs_stands(runtime):
    from services.core.errors import Conflict

    policy, gate, seen = runtime.orders.policy_with_revision()  # admin B opens the form
    a_policy = policy.model_dump(exclude_none=True)
    a_policy["limits"]["maxNotionalUsd"] = 312_345.0
    runtime.orders.set_policy(a_policy, gate.model_dump(), local_operator("alice"), "tighter",
                              seen_revision=seen)  # admin A saves first
    b_policy = policy.model_dump(exclude_none=True)
    b_policy["limits"]["maxDailyLossUsd"] = 999.0
    with pytest.raises(Conflict, match=r"changed by alice .* since you read it; nothing was saved"):
        runtime.orders.set_policy(b_policy, gate.model_dump(), ADMIN, "mine", seen_revision=seen)
    now, _gate, revision = runtime.orders.policy_with_revision()
    assert now.limits.maxNotionalUsd == 312_345.0 and revision != seen
    assert [e.actor for e in runtime.orders.audit(subject="risk-policy")] == ["alice"]


def test_a_kill_switch_pulled_after_the_form_was_read_is_not_undone_by_saving_it(runtime):
    from services.core.errors import Conflict

    policy, gate, seen = runtime.orders.policy_with_revision()
    runtime.orders.set_kill_switch(True, local_operator("alice"), "venue misbehaving")
    with pytest.raises(Conflict, match="changed by alice"):
        runtime.orders.set_policy(policy.model_dump(exclude_none=True), gate.model_dump(), ADMIN, "old form",
                                  seen_revision=seen)
    assert runtime.orders.kill_switch_on()
