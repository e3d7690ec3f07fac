"""Wiring of the order path: the book the risk checks see, the execute job and the periodic upkeep."""

from __future__ import annotations

from datetime import datetime, time

from services import clock
from services.execution.base import ExecutionVenue
from services.jobs import JobContext, job_kind
from services.orders import Orders
from services.risk import Book


def start_of_day() -> datetime:
    """Midnight UTC today (the daily notional cap's window)."""
    return datetime.combine(clock.now().date(), time.min, tzinfo=clock.now().tzinfo)


def make_book(venue: ExecutionVenue, orders: Orders) -> Book:
    """Equity and positions from the venue, notional sent today from the records."""
    account = venue.account()
    positions = {p.symbol: p.quantity * p.current_price for p in account.positions}
    return Book(
        equity=account.equity,
        position_value=positions,
        submitted_today_usd=orders.submitted_notional_since(start_of_day()),
        daily_pnl_usd=min(account.pnl_total, 0.0),
    )


@job_kind("execute")
def execute_job(ctx: JobContext, run_id: str | None = None) -> dict:
    """Send the approved orders of a run (or all) to the venue, exactly once each."""
    from services.runtime import get_runtime

    runtime = get_runtime()
    ctx.progress(0.1, "sending approved orders", force=True)
    sent = runtime.orders.submit_approved(run_id)
    states = sorted({o.status for o in sent})
    runtime.after_decisions(run_id)
    return {"summary": f"{len(sent)} approved order(s) processed: {', '.join(states) or 'none'}",
            "orders": [o.id for o in sent]}


def upkeep() -> dict:
    """Expire old proposals, retry approved orders whose venue was down, reconcile with the venue."""
    from services.runtime import get_runtime

    orders = get_runtime().orders
    return {"expired": orders.expire_due(), "reconciled": orders.reconcile(),
            "submitted": len(orders.submit_approved())}
