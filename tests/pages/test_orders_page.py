"""AppTest of the Orders & Portfolio page's order ticket, close position and cancel."""

from __future__ import annotations

from services.core.auth import local_operator
from services.trading.manual import Ticket, enter_order
from tests.support.orders import ALICE, BOB, write_prices


def test_the_ticket_files_a_manual_order_for_someone_else_to_approve(runtime, page_app):
    write_prices(runtime, "TEST", close=100.0)
    at = page_app("orders")
    at.run()
    assert not at.exception
    at.selectbox(key="ticket_symbol").select("TEST")
    at.text_input(key="ticket_amount").input("abc")
    at.button(key="ticket_enter").click().run()
    assert any("must be a number" in e.value for e in at.error) and runtime.orders.list() == []
    at.text_input(key="ticket_amount").input("5")
    at.text_input(key="ticket_reason").input("hedge")
    at.button(key="ticket_enter").click().run()
    assert not at.exception
    (order,) = runtime.orders.list()
    assert (order.status, order.quantity, order.entered_by) == ("pending_approval", 5, "local-operator")
    assert any("waits in Approvals for an approver other than local-operator" in s.value for s in at.success)


def test_cancel_and_close_position_from_the_page(runtime, page_app):
    write_prices(runtime, "TEST", close=100.0)
    bought = enter_order(runtime.orders, runtime.prices, BOB, Ticket("t-buy", "TEST", "buy", quantity=10))
    runtime.orders.approve(bought.id, ALICE)
    runtime.orders.submit(bought.id)
    pending = enter_order(runtime.orders, runtime.prices, BOB, Ticket("t-2", "TEST", "buy", quantity=1))
    at = page_app("orders")
    at.run()
    next(s for s in at.selectbox if s.label == "Order detail").select(pending.id).run()
    at.button(key=f"cancel_{pending.id}").click().run()
    assert any("a reason is required" in e.value for e in at.error)
    at.text_input(key=f"cancel_reason_{pending.id}").input("not needed")
    at.button(key=f"cancel_{pending.id}").click().run()
    assert runtime.orders.get(pending.id).status == "cancelled"
    at.text_input(key="close_quantity").input("4")
    at.button(key="close_enter").click().run()
    assert not at.exception
    closing = next(o for o in runtime.orders.list(status="pending_approval"))
    assert (closing.side, closing.quantity, closing.entered_by) == ("sell", 4, "local-operator")


def test_the_inbox_will_not_let_you_approve_what_you_entered(runtime, page_app):
    write_prices(runtime, "TEST", close=100.0)
    mine = enter_order(runtime.orders, runtime.prices, local_operator(), Ticket("t-own", "TEST", "buy", quantity=2))
    at = page_app("approvals")
    at.run()
    assert not at.exception
    assert at.button(key=f"approve_{mine.id}").disabled
    assert any("local-operator entered this order: four eyes" in c.value for c in at.caption)
    assert any("Manual order, entered by local-operator" in c.value for c in at.caption)
