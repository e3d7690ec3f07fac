"""The one place that maps a venue's order status to ours (UPSTREAM.md §2.5 for the Live Engine)."""

from __future__ import annotations

from typing import Literal

from services.trading.execution.base import OrderStatus

#: a venue status meaning "still working": ours is submitted or partially_filled, by the filled quantity
_WORKING = "working"
_Mapped = OrderStatus | Literal["working"]

LIVE_ENGINE: dict[str, _Mapped] = {
    "pending": _WORKING,
    "queued": _WORKING,
    "open": _WORKING,
    "working": _WORKING,
    "partially_filled": _WORKING,
    "executed": "filled",
    "filled": "filled",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "rejected": "failed",
    "error": "failed",
    "failed": "failed",
}

# https://docs.alpaca.markets/docs/orders-at-alpaca#order-lifecycle
ALPACA: dict[str, _Mapped] = {
    "new": _WORKING,
    "accepted": _WORKING,
    "pending_new": _WORKING,
    "accepted_for_bidding": _WORKING,
    "pending_review": _WORKING,
    "held": _WORKING,
    "partially_filled": _WORKING,
    "pending_cancel": _WORKING,
    "pending_replace": _WORKING,
    "done_for_day": _WORKING,
    "calculated": _WORKING,
    "stopped": _WORKING,
    "suspended": _WORKING,
    "filled": "filled",
    "canceled": "cancelled",
    "expired": "cancelled",
    "replaced": "cancelled",  # we never replace; the order under our client id is no longer live
    "rejected": "failed",
}

_TABLES = {"live-engine": LIVE_ENGINE, "alpaca-paper": ALPACA}


def order_status(venue: str, raw_status: str | None, filled_quantity: float = 0.0) -> OrderStatus:
    """Our status for ``raw_status`` reported by ``venue``; a status we do not know maps to ``failed``.

    A working order is ``partially_filled`` once anything is filled (or the venue says so), else ``submitted``.
    """
    raw = (raw_status or "").strip().lower()
    mapped = _TABLES[venue].get(raw, "failed")
    if mapped == _WORKING:
        return "partially_filled" if filled_quantity > 0 or raw == "partially_filled" else "submitted"
    return mapped
