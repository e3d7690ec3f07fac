"""What an operator saw when deciding an order: the version and the exact terms, and the refusal when they moved.

A decision (approve, reject, edit) carries the ``Terms`` drawn on the operator's screen or printed by the CLI.
The order book compares them with the stored order inside the same compare-and-set that records the decision,
so nobody approves terms they never saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from services.core.errors import BadInput, Conflict
from services.core.numbers import exact

STALE = "changed by someone else since you looked; nothing was done"


class _HasTerms(Protocol):
    version: int
    side: str
    quantity: float
    symbol: str
    order_type: str
    limit_price: float | None
    venue: str


@dataclass(frozen=True)
class Terms:
    """The version and the terms of an order as an operator saw them."""

    version: int
    side: str
    quantity: float
    symbol: str
    order_type: str
    limit_price: float | None
    venue: str

    @classmethod
    def of(cls, order: _HasTerms) -> Terms:
        """The terms of ``order`` as it is now."""
        return cls(order.version, order.side, order.quantity, order.symbol, order.order_type, order.limit_price,
                   order.venue)

    def describe(self) -> str:
        """``BUY 10 IBM market on paper`` / ``SELL 2.5 BTCUSDT limit 43,250 on live-engine`` (numbers as stored)."""
        price = f" {exact(self.limit_price)}" if self.limit_price is not None else ""
        return f"{self.side.upper()} {exact(self.quantity)} {self.symbol} {self.order_type}{price} on {self.venue}"


class Stale(Conflict):
    """The order is no longer what the operator saw; ``current`` holds its terms now and ``status`` its state."""

    def __init__(self, current: Terms, status: str):
        self.current = current
        self.status = status
        now = f"now {status}: {current.describe()}" if status != "pending_approval" else f"now {current.describe()}"
        super().__init__(f"{STALE} ({now}, version {current.version})")


def ensure_seen(seen: Terms | None, order: _HasTerms, status: str) -> None:
    """Raise Stale unless ``seen`` (when given) is exactly the order's version and terms now."""
    if seen is not None and seen != Terms.of(order):
        raise Stale(Terms.of(order), status)


def finite_number(value: object, name: str, *, allow_none: bool = False) -> float | None:
    """``value`` as a finite float; BadInput naming ``name`` for text, NaN, infinity or nothing."""
    if value is None and allow_none:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadInput(f"the {name} must be a number (got {value!r}); nothing was changed") from None
    if not math.isfinite(number):
        raise BadInput(f"the {name} must be a finite number (got {value!r}); nothing was changed")
    return number
