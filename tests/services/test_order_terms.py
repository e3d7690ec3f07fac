"""Decisions bind to what the operator saw (version and exact terms); bad numbers in an edit change nothing."""

from __future__ import annotations

import dataclasses

import pytest

from services.core.errors import BadInput
from services.core.numbers import computed, exact
from services.trading.terms import STALE, Stale, Terms
from tests.support.orders import ALICE, BOB, proposal, write_prices


@pytest.fixture
def ibm(runtime):
    write_prices(runtime, "IBM", close=150.0)
    (order,) = runtime.orders.propose("run-1", [proposal(quantity=33.1315, price=150.0, symbol="IBM")])
    return runtime, order


def test_approving_terms_someone_else_changed_is_refused_with_the_new_terms(ibm):
    runtime, order = ibm
    seen_by_bob = Terms.of(order)  # Bob's card: BUY 33.1315 IBM
    runtime.orders.edit(order.id, ALICE, quantity=10, seen=Terms.of(order))
    with pytest.raises(Stale, match=STALE) as refused:
        runtime.orders.approve(order.id, BOB, seen=seen_by_bob)
    assert "BUY 10 IBM market on paper" in str(refused.value)
    assert refused.value.current.quantity == 10
    after = runtime.orders.get(order.id)
    assert (after.status, after.quantity, after.approved_by) == ("pending_approval", 10, [])
    assert [a.action for a in runtime.orders.audit(subject=order.id)] == ["edit", "proposed"]


@pytest.mark.parametrize("decision", ["reject", "edit"])
def test_reject_and_edit_are_bound_too(ibm, decision):
    runtime, order = ibm
    seen = Terms.of(order)
    runtime.orders.edit(order.id, ALICE, limit_price=149.5, seen=seen)
    with pytest.raises(Stale, match=r"limit 149\.5"):
        if decision == "reject":
            runtime.orders.reject(order.id, BOB, "too big", seen=seen)
        else:
            runtime.orders.edit(order.id, BOB, quantity=5, seen=seen)
    assert runtime.orders.get(order.id).quantity == 33.1315


def test_same_version_other_terms_is_refused(ibm):
    runtime, order = ibm
    forged = dataclasses.replace(Terms.of(order), quantity=1.0)
    with pytest.raises(Stale):
        runtime.orders.approve(order.id, ALICE, seen=forged)
    assert runtime.orders.get(order.id).status == "pending_approval"


def test_a_second_click_on_a_decided_order_says_what_it_is_now(ibm):
    runtime, order = ibm
    seen = Terms.of(order)
    assert runtime.orders.approve(order.id, ALICE, seen=seen).status == "approved"
    with pytest.raises(Stale, match=r"now approved: BUY 33\.1315 IBM"):
        runtime.orders.approve(order.id, ALICE, seen=seen)


@pytest.mark.parametrize(("quantity", "limit", "problem"), [
    ("abc", None, "quantity must be a number"), (float("nan"), None, "quantity must be a finite number"),
    (None, float("nan"), "limit price must be a finite number"), (None, float("inf"), "limit price must be a finite"),
    (None, "inf", "limit price must be a finite"), (None, "x1", "limit price must be a number"),
    (float("-inf"), None, "quantity must be a finite"), (50, None, "only go down"),
])
def test_bad_numbers_in_an_edit_are_refused_and_nothing_changes(ibm, quantity, limit, problem):
    runtime, order = ibm
    with pytest.raises(BadInput, match=problem):
        runtime.orders.edit(order.id, ALICE, quantity=quantity, limit_price=limit, seen=Terms.of(order))
    assert runtime.orders.get(order.id) == order
    assert len(runtime.orders.audit(subject=order.id)) == 1


@pytest.mark.parametrize(("value", "shown"), [
    (806.19, "806.19"), (43250.0, "43,250"), (337.3982, "337.3982"), (33.1315, "33.1315"), (0.00001, "0.00001"),
    (1234567.5, "1,234,567.5"), (None, "–"), (-2.0, "-2"),
])
def test_numbers_are_shown_exactly_as_stored(value, shown):
    assert exact(value) == shown
    assert exact(43250.0, grouping=False) == "43250"


@pytest.mark.parametrize(("value", "shown"), [(203.01145499999998, "203.011455"), (0.1 + 0.2, "0.3"),
                                              (65432.12, "65,432.12"), (0.000123456789, "0.000123456789")])
def test_computed_prices_drop_the_float_noise_of_their_arithmetic(value, shown):
    """An average fill price is quote × (1 + slippage): the operator reads 203.011455, not 203.01145499999998."""
    assert computed(value) == shown
