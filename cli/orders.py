"""``nexus orders`` and ``nexus killswitch``: headless order decisions, every one with who and why."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.support import acting, reports_errors, runtime
from services.trading.orders import Order

app = typer.Typer(help="Orders: list, show, approve, reject.", no_args_is_help=True)
As = Annotated[str, typer.Option("--as", help="who decides, in local mode (recorded in the audit log); "
                                             "with NEXUS_TOKEN the token's owner decides")]


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
    typer.echo(f"  client order id {order.client_order_id} · venue {order.venue} {order.venue_order_id or ''}")
    typer.echo(f"  filled {order.filled_quantity:g} @ {order.average_price or 0:g}, fee {order.fee:g}")
    for check in order.checks:
        typer.echo(f"  check {'pass' if check['passed'] else 'FAIL'}  {check['name']}: {check['value']} "
                   f"(limit {check['limit']})")
    for entry in reversed(orders.audit(subject=order_id)):
        typer.echo(f"  {entry.at:%Y-%m-%d %H:%M:%S} {entry.actor:20} {entry.action:18} "
                   f"{entry.from_status or '':>16} → {entry.to_status or '':16} {entry.reason}")


@app.command("approve")
@reports_errors
def approve(order_id: str, as_: As = "", reason: Annotated[str, typer.Option(help="why")] = "") -> None:
    """Approve an order; once approved it is sent to the venue at once."""
    rt, actor = runtime(), acting(as_)
    order = rt.orders.approve(order_id, actor, reason)
    if order.status == "approved":
        order = rt.orders.submit(order_id, actor=actor.name)
        rt.after_decisions(order.run_id)
    typer.echo(_line(order))


@app.command("reject")
@reports_errors
def reject(order_id: str, reason: Annotated[str, typer.Option(help="why (required)")], as_: As = "") -> None:
    """Reject an order with a reason."""
    rt = runtime()
    order = rt.orders.reject(order_id, acting(as_), reason)
    rt.after_decisions(order.run_id)
    typer.echo(_line(order))


def killswitch(state: Annotated[str, typer.Argument(help="on or off")],
               reason: Annotated[str, typer.Option(help="why (required)")], as_: As = "") -> None:
    """Halt every submission at once (on) or re-arm (off); admin only."""
    if state not in ("on", "off"):
        raise typer.BadParameter("say on or off")
    runtime().orders.set_kill_switch(state == "on", acting(as_), reason)
    typer.echo(f"kill switch {state.upper()}")
