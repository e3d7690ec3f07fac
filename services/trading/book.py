"""Wiring of the order path: the book the risk checks see, the execute job and the periodic upkeep."""

from __future__ import annotations

import threading
import time as monotonic
from collections.abc import Callable
from datetime import datetime, time

from services.core import clock
from services.jobs.queue import JobContext
from services.trading.execution.base import Account, ExecutionVenue
from services.trading.orders import Orders
from services.trading.risk import Book


def start_of_day() -> datetime:
    """Midnight UTC today (the daily notional cap's window)."""
    return datetime.combine(clock.now().date(), time.min, tzinfo=clock.now().tzinfo)


class RecentAccount:
    """The venue's account read at most once per ``ttl_s`` seconds: approving a batch re-checks every order
    against equity and positions without one venue round trip per approval. What this console sent or approved
    meanwhile comes from the records (always fresh), and fills arrive at the venue's pace anyway."""

    def __init__(self, venue: ExecutionVenue, ttl_s: float = 1.0):
        self.venue = venue
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._read: tuple[float, Account] | None = None

    def __call__(self) -> Account:
        """The account, re-read from the venue once the last read is older than ``ttl_s``."""
        with self._lock:
            if self._read is not None and monotonic.monotonic() - self._read[0] < self.ttl_s:
                return self._read[1]
        account = self.venue.account()
        with self._lock:
            self._read = (monotonic.monotonic(), account)
        return account


def make_book(venue: ExecutionVenue, orders: Orders, account: Callable[[], Account] | None = None) -> Book:
    """Equity and positions from the venue (or ``account``, e.g. a RecentAccount), notional sent today from the
    records."""
    account = (account or venue.account)()
    positions = {p.symbol: p.quantity * p.current_price for p in account.positions}
    return Book(
        equity=account.equity,
        position_value=positions,
        submitted_today_usd=orders.submitted_notional_since(start_of_day()),
        daily_pnl_usd=min(account.pnl_total, 0.0),
    )


EXECUTE_KIND = "execute"


def execute_job(ctx: JobContext, orders: Orders, run_id: str | None = None) -> dict:
    """Job body: send the approved orders of a run (or all) to the venue, exactly once each."""
    ctx.progress(0.1, "sending approved orders", force=True)
    sent = orders.submit_approved(run_id)
    states = sorted({o.status for o in sent})
    return {"summary": f"{len(sent)} approved order(s) processed: {', '.join(states) or 'none'}",
            "orders": [o.id for o in sent]}


def upkeep(orders: Orders) -> dict:
    """Expire old proposals, retry approved orders whose venue was down, reconcile with the venue."""
    return {"expired": orders.expire_due(), "reconciled": orders.reconcile(),
            "submitted": len(orders.submit_approved())}
