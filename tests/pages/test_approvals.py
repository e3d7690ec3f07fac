"""AppTest of the Approvals inbox and the Orders & Portfolio page."""

from __future__ import annotations

import pytest

from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.orders import proposal, write_prices


@pytest.fixture
def inbox(runtime):
    write_prices(runtime)
    orders = runtime.orders.propose("run-a", [proposal("a"), proposal("b", quantity=5)])
    return runtime, orders


def test_inbox_shows_each_proposal_with_checks_and_approve_sends_it(inbox, page_app):
    runtime, (first, second) = inbox
    at = page_app("approvals")
    at.run()
    assert not at.exception
    assert any("Run run-a" in s.value for s in at.subheader)
    assert any("BUY 10 TEST" in m.value for m in at.markdown)
    at.button(key=f"approve_{first.id}").click().run()
    assert not at.exception
    assert runtime.orders.get(first.id).status == "filled"  # the execute job ran (inline in tests)
    assert [o.id for o in runtime.orders.list(status="pending_approval")] == [second.id]


def test_reject_needs_a_reason(inbox, page_app):
    runtime, (first, _second) = inbox
    at = page_app("approvals")
    at.run()
    at.button(key=f"reject_{first.id}").click().run()
    assert any("reason is required" in e.value for e in at.error)
    assert runtime.orders.get(first.id).status == "pending_approval"
    at.text_input(key=f"reason_{first.id}").input("spread too wide").run()
    at.button(key=f"reject_{first.id}").click().run()
    assert runtime.orders.get(first.id).status == "rejected"
    assert runtime.orders.audit(subject=first.id)[0].reason == "spread too wide"


def test_edit_lowers_quantity(inbox, page_app):
    runtime, (first, _second) = inbox
    at = page_app("approvals")
    at.run()
    at.number_input(key=f"qty_{first.id}").set_value(4.0).run()
    at.button(key=f"save_{first.id}").click().run()
    assert not at.exception
    assert runtime.orders.get(first.id).quantity == 4.0


def test_approve_is_disabled_when_a_check_fails(runtime, page_app):
    write_prices(runtime)
    (order,) = runtime.orders.propose("run-b", [Proposal(
        "x", "TEST", "buy", 1, 100.0, dataset_ref="sample/TEST/1d",
        checks=[Check("anomaly gate", False, "critical anomaly", "no critical anomaly")])])
    at = page_app("approvals")
    at.run()
    assert at.button(key=f"approve_{order.id}").disabled


def test_bulk_approve_asks_for_confirmation_listing_the_orders(inbox, page_app):
    runtime, orders = inbox
    at = page_app("approvals")
    at.run()
    at.button(key="bulk_approve_run-a").click().run()
    assert not at.exception
    assert {o.status for o in runtime.orders.list()} == {"pending_approval"}  # nothing before confirming
    at.button(key="bulk_confirm_approve").click().run()
    assert {runtime.orders.get(o.id).status for o in orders} == {"filled"}


def test_orders_page_shows_fills_audit_and_portfolio(inbox, page_app):
    runtime, (first, _second) = inbox
    from services.core.auth import local_operator

    runtime.orders.approve(first.id, local_operator())
    runtime.orders.submit(first.id)
    at = page_app("orders")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "filled" in set(table["status"])
    assert any(m.label == "Equity" for m in at.metric)
    at.button(key="kill_toggle").click().run()
    assert any("reason" in e.value for e in at.error)
