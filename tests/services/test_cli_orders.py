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
