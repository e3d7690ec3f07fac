"""``nexus orders``, ``nexus positions`` and ``nexus killswitch``: headless order tickets and decisions, every one
with who and why."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Annotated

import typer

from cli.support import acting, reports_errors, runtime
from services.core.auth import Actor
from services.trading.manual import Ticket, close_position, enter_order
from services.trading.orders import Order, Orders
from services.trading.terms import Terms

app = typer.Typer(help="Orders: list, show, new, approve, reject, cancel.", no_args_is_help=True)
positions_app = typer.Typer(help="Positions at the execution venue: list, close.", no_args_is_help=True)
As = Annotated[str, typer.Option("--as", help="who decides, in local mode (recorded in the audit log); "
                                             "with NEXUS_TOKEN the token's owner decides")]
TicketId = Annotated[str | None, typer.Option("--ticket", help="the ticket's id: the same id files one order "
                                              "however often the command runs (default: a new one)")]
Quantity = Annotated[str | None, typer.Option(help="units to trade, in whole lots of the venue")]
OrderType = Annotated[str, typer.Option("--type", help="market or limit")]
LimitPrice = Annotated[str | None, typer.Option(help="limit price (limit orders)")]
Required = Annotated[str, typer.Option(help="why (required)")]
Version = Annotated[int | None, typer.Option("--version", help="decide only if the order is still at this version "
                                             "(as printed by `nexus orders show`)")]


def _line(order: Order) -> str:
    return (f"{order.id}  {order.status:17} {order.side:4} {order.quantity:>12g} {order.symbol:10} "
            f"{order.notional:>12,.2f}  run {order.run_id}")


@app.command("list")
@reports_errors
def list_orders(status: Annotated[str | None, typer.Option(help="only this status")] = None,
                run: Annotated[str | None, typer.Option(help="only this run id")] = None) -> None:
    """List orders, newest first."""
    for order in runtime().orders.list(status=status, run_id=run):
        typer.echo(_line(order))


@app.command("show")
@reports_errors
def show(order_id: str) -> None:
    """An order with its checks and audit trail."""
    orders = runtime().orders
    order = orders.get(order_id)
    typer.echo(_line(order))
    typer.echo(f"  version {order.version}: {Terms.of(order).describe()}")
    typer.echo(f"  client order id {order.client_order_id} · venue {order.venue} {order.venue_order_id or ''}")
    typer.echo(f"  filled {order.filled_quantity:g} @ {order.average_price or 0:g}, fee {order.fee:g}")
    for check in order.checks:
        typer.echo(f"  check {'pass' if check['passed'] else 'FAIL'}  {check['name']}: {check['value']} "
                   f"(limit {check['limit']})")
    for entry in reversed(orders.audit(subject=order_id)):
        typer.echo(f"  {entry.at:%Y-%m-%d %H:%M:%S} {entry.actor:20} {entry.action:18} "
                   f"{entry.from_status or '':>16} → {entry.to_status or '':16} {entry.reason}")


def _seen(orders: Orders, order_id: str, version: int | None, verb: str) -> Terms:
    """The terms this command decides on, printed first; with ``--version`` they must be that version's."""
    seen = Terms.of(orders.get(order_id))
    if version is not None and version != seen.version:
        seen = dataclasses.replace(seen, version=version)  # the service refuses it with the current terms
    typer.echo(f"{verb} {order_id} version {seen.version}: {seen.describe()}")
    return seen


@app.command("approve")
@reports_errors
def approve(order_id: str, as_: As = "", reason: Annotated[str, typer.Option(help="why")] = "",
            version: Version = None) -> None:
    """Approve an order; once approved it is sent to the venue at once."""
    rt, actor = runtime(), acting(as_)
    seen = _seen(rt.orders, order_id, version, "approving")
    order = rt.orders.approve(order_id, actor, reason, seen=seen)
    if order.status == "approved":
        order = rt.orders.submit(order_id, actor=actor.name)
        rt.after_decisions(order.run_id)
    typer.echo(_line(order))


@app.command("reject")
@reports_errors
def reject(order_id: str, reason: Required, as_: As = "", version: Version = None) -> None:
    """Reject an order with a reason."""
    _end(order_id, as_, version, "rejecting", lambda orders, actor, seen: orders.reject(order_id, actor, reason,
                                                                                        seen=seen))


def _end(order_id: str, as_: str, version: int | None, verb: str,
         end: Callable[[Orders, Actor, Terms], Order]) -> None:
    """Print the terms ``end`` decides on, end the order with them, let its run resume, print the result."""
    rt, actor = runtime(), acting(as_)
    order = end(rt.orders, actor, _seen(rt.orders, order_id, version, verb))
    rt.after_decisions(order.run_id)
    typer.echo(_line(order))


def _filed(order: Order) -> None:
    typer.echo(_line(order))
    typer.echo(f"  entered by {order.entered_by}: {Terms.of(order).describe()}; waits in the Approvals inbox for "
               f"an approver other than {order.entered_by}")
    for check in order.checks:
        if not check["passed"]:
            typer.echo(f"  check FAIL  {check['name']}: {check['value']} (limit {check['limit']})")


@app.command("new")
@reports_errors
def new(symbol: Annotated[str, typer.Option(help="market id, from the catalog or held at the venue")],
        side: Annotated[str, typer.Option(help="buy or sell")],
        quantity: Quantity = None,
        notional: Annotated[str | None, typer.Option(help="USD to trade instead of a quantity (whole lots, "
                                                          "rounded down)")] = None,
        order_type: OrderType = "market", limit_price: LimitPrice = None,
        tif: Annotated[str | None, typer.Option(help="time in force (day or gtc) where the venue has one")] = None,
        reason: Annotated[str, typer.Option(help="why (the approver reads it)")] = "",
        as_: As = "", ticket: TicketId = None) -> None:
    """Enter a manual order: it waits for an approver other than you (four eyes), like every proposal."""
    rt, actor = runtime(), acting(as_)
    order = enter_order(rt.orders, rt.prices, actor, Ticket(
        ticket or uuid.uuid4().hex[:16], symbol, side, quantity=quantity, notional=notional, order_type=order_type,
        limit_price=limit_price, time_in_force=tif, reason=reason))
    _filed(order)


@app.command("cancel")
@reports_errors
def cancel(order_id: str, reason: Required, as_: As = "", version: Version = None) -> None:
    """Cancel an order that is not final (approvers): at once, or at the venue when it is open there."""
    _end(order_id, as_, version, "cancelling", lambda orders, actor, seen: orders.cancel(order_id, actor, reason,
                                                                                         seen=seen))


@positions_app.command("list")
@reports_errors
def positions() -> None:
    """Positions at the execution venue."""
    account = runtime().venue.account()
    for p in account.positions:
        typer.echo(f"{p.symbol:10} {p.quantity:>14g} avg {p.avg_price:>12,.4f} now {p.current_price:>12,.4f} "
                   f"P&L {p.unrealized_pnl:>12,.2f}")
    if not account.positions:
        typer.echo(f"no open positions at {account.venue}")


@positions_app.command("close")
@reports_errors
def close(symbol: str, quantity: Annotated[str | None, typer.Option(help="how much to close (default: all)")] = None,
          order_type: OrderType = "market", limit_price: LimitPrice = None,
          reason: Annotated[str, typer.Option(help="why (the approver reads it)")] = "", as_: As = "",
          ticket: TicketId = None) -> None:
    """Close a position, all or part: a manual order waiting for an approver other than you."""
    rt, actor = runtime(), acting(as_)
    order = close_position(rt.orders, rt.prices, actor, symbol, ticket or uuid.uuid4().hex[:16], quantity=quantity,
                           order_type=order_type, limit_price=limit_price, reason=reason)
    _filed(order)


def killswitch(state: Annotated[str, typer.Argument(help="on or off")], reason: Required, as_: As = "") -> None:
    """Halt every submission at once (on) or re-arm (off); admin only."""
    if state not in ("on", "off"):
        raise typer.BadParameter("say on or off")
    runtime().orders.set_kill_switch(state == "on", acting(as_), reason)
    typer.echo(f"kill switch {state.upper()}")
