"""`nexus orders approve/reject` print the terms they decide on and bind the decision to them."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.main import app
from services.trading.terms import Terms
from tests.support.orders import ALICE, proposal, write_prices


def nexus(*args: str):
    return CliRunner().invoke(app, list(args))


def test_approve_prints_the_terms_it_sends(runtime):
    write_prices(runtime, "IBM", close=150.0)
    (order,) = runtime.orders.propose("run-1", [proposal(quantity=33.1315, price=150.0, symbol="IBM")])
    done = nexus("orders", "approve", order.id, "--as", "bob", "--version", "1")
    assert done.exit_code == 0, done.output
    assert f"approving {order.id} version 1: BUY 33.1315 IBM market on paper" in done.output
    assert runtime.orders.get(order.id).status == "filled"


def test_a_version_someone_else_changed_is_refused(runtime):
    write_prices(runtime, "IBM", close=150.0)
    (order,) = runtime.orders.propose("run-1", [proposal(quantity=33.1315, price=150.0, symbol="IBM")])
    runtime.orders.edit(order.id, ALICE, quantity=10, seen=Terms.of(order))
    for command in (["approve", order.id, "--as", "bob", "--version", "1"],
                    ["reject", order.id, "--as", "bob", "--version", "1", "--reason", "no"]):
        done = nexus("orders", *command)
        assert done.exit_code == 2, done.output
        assert "changed by someone else since you looked; nothing was done" in done.output
        assert "BUY 10 IBM" in done.output
    assert runtime.orders.get(order.id).status == "pending_approval"


def test_a_manual_order_is_entered_approved_by_someone_else_and_a_position_closed(runtime):
    write_prices(runtime, "IBM", close=150.0)
    done = nexus("orders", "new", "--symbol", "ibm", "--side", "buy", "--quantity", "10", "--as", "alice",
                 "--reason", "rebalance by hand")
    assert done.exit_code == 0, done.output
    assert "entered by alice: BUY 10 IBM market on paper" in done.output
    (order,) = runtime.orders.list()
    refused = nexus("orders", "approve", order.id, "--as", "alice")
    assert refused.exit_code == 2 and "alice entered this order: four eyes" in refused.output
    assert nexus("orders", "approve", order.id, "--as", "bob").exit_code == 0
    assert runtime.orders.get(order.id).status == "filled"
    assert "IBM" in nexus("positions", "list").output

    too_much = nexus("positions", "close", "IBM", "--quantity", "11", "--as", "alice")
    assert too_much.exit_code == 2 and "cannot close 11 IBM: 10 held" in too_much.output
    closing = nexus("positions", "close", "IBM", "--quantity", "4", "--as", "alice")
    assert closing.exit_code == 0 and "SELL 4 IBM market" in closing.output
    close_order = next(o for o in runtime.orders.list() if o.side == "sell")
    cancelled = nexus("orders", "cancel", close_order.id, "--as", "bob", "--reason", "wrong size")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    again = nexus("orders", "cancel", close_order.id, "--as", "bob", "--reason", "wrong size")
    assert again.exit_code == 2 and "already cancelled" in again.output


def test_bad_tickets_exit_2_and_record_nothing(runtime):
    write_prices(runtime, "IBM", close=150.0)
    for args, message in ((["--quantity", "nan"], "finite number"), (["--quantity", "ten"], "must be a number"),
                          (["--quantity", "1", "--type", "limit"], "needs a limit price"),
                          (["--notional", "1", "--symbol", "NOPE"], "unknown symbol NOPE")):
        symbol = [] if "--symbol" in args else ["--symbol", "IBM"]
        done = nexus("orders", "new", *symbol, "--side", "buy", *args, "--as", "alice")
        assert done.exit_code == 2 and message in done.output, done.output
    assert runtime.orders.list() == []
    ticket = ["orders", "new", "--symbol", "IBM", "--side", "buy", "--quantity", "1", "--ticket", "t-1",
              "--as", "alice"]
    assert nexus(*ticket).exit_code == 0 and nexus(*ticket).exit_code == 0  # the same ticket twice: one order
    assert len(runtime.orders.list()) == 1
