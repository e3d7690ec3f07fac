"""The execution-venue interface: what the order service asks of a venue and the errors it gets back."""

from __future__ import annotations

import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from services.core import clock
from services.core.errors import BadInput, NexusError
from services.core.http_retry import RetryPolicy

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]
OrderStatus = Literal["submitted", "partially_filled", "filled", "cancelled", "rejected", "failed"]
Mode = Literal["PAPER", "LIVE"]

#: statuses of an order the venue may still fill or cancel
OPEN_STATUSES: tuple[OrderStatus, ...] = ("submitted", "partially_filled")
#: lot size of venues that take any quantity (8 decimals: the finest crypto unit we trade)
FRACTIONAL_LOT = 1e-8
#: every time in force the console knows (a venue takes a subset, ``ExecutionVenue.times_in_force``)
TIMES_IN_FORCE = ("day", "gtc")
_CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")


@dataclass(frozen=True)
class VenueOrderRequest:
    """An order as sent to a venue.

    ``client_order_id`` is our idempotency key at the venue: at most 32 characters of ``[A-Za-z0-9-]`` so
    every venue accepts it. A limit order needs ``limit_price``; a market order must not have one.
    ``reference_price`` is the price the proposal was made at (kept for drift, never used to fill).
    ``dataset_ref`` is the dataset the proposal was priced from: a venue that fills from stored candles (paper)
    fills from it, whichever process sends the order.
    """

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: float
    limit_price: float | None = None
    reference_price: float | None = None
    dataset_ref: str = ""
    #: ``day`` or ``gtc`` on a venue that takes one (``ExecutionVenue.times_in_force``); None: the venue's default
    time_in_force: str | None = None

    def __post_init__(self) -> None:
        if not _CLIENT_ORDER_ID.match(self.client_order_id):
            raise BadInput(f"client order id '{self.client_order_id}' must be 1-32 characters of A-Z, a-z, 0-9 and -")
        if not self.symbol or self.symbol != self.symbol.strip():
            raise BadInput(f"symbol '{self.symbol}' must be a venue market id such as BTCUSDT or AAPL")
        if self.side not in ("buy", "sell"):
            raise BadInput(f"side '{self.side}' must be buy or sell")
        if self.type not in ("market", "limit"):
            raise BadInput(f"order type '{self.type}' must be market or limit")
        if not (math.isfinite(self.quantity) and self.quantity > 0):
            raise BadInput(f"quantity {self.quantity} must be a positive number")
        if self.type == "limit" and not (self.limit_price is not None and self.limit_price > 0):
            raise BadInput("a limit order needs a positive limit price")
        if self.type == "market" and self.limit_price is not None:
            raise BadInput("a market order must not carry a limit price; send a limit order instead")
        if self.time_in_force not in (None, *TIMES_IN_FORCE):
            raise BadInput(f"time in force '{self.time_in_force}' must be one of {', '.join(TIMES_IN_FORCE)}")


@dataclass(frozen=True)
class VenueOrder:
    """A venue's view of one order, in our status vocabulary (``raw_status`` is the venue's own word).

    ``average_price`` and ``fee`` are None when the venue does not report them.
    """

    client_order_id: str
    venue_order_id: str
    status: OrderStatus
    filled_quantity: float
    average_price: float | None
    fee: float | None
    raw_status: str
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        """True while the venue may still fill or cancel it."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Position:
    """A holding (negative quantity: short) valued at the venue's latest price."""

    symbol: str
    quantity: float
    avg_price: float
    current_price: float
    unrealized_pnl: float


@dataclass(frozen=True)
class Account:
    """Cash, equity and P&L of the account a venue trades for.

    ``pnl_total`` is the venue's total P&L (net of fees where the venue charges them); ``realized_pnl`` is
    None when the venue does not report it.
    """

    cash: float
    equity: float
    pnl_total: float
    positions: tuple[Position, ...]
    mode: Mode
    venue: str
    realized_pnl: float | None = None


class VenueError(NexusError):
    """Base of the venue errors: ``code`` is the venue-facing error code, ``status_code`` the HTTP status."""

    def __init__(self, message: str, code: str, status_code: int | None = None):
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class VenueUnavailable(VenueError):
    """The venue could not be reached, timed out, failed (5xx) or answered garbage, after retries.

    Whether an order was placed is unknown: keep it approved, ask ``lookup`` and submit again later.
    """


class VenueRejected(VenueError):
    """The venue refused the request for a business reason (4xx); nothing was placed."""


class VenueConflict(VenueError):
    """The client order id was already used at the venue for a different order (409); nothing new was placed."""


class ExecutionVenue(ABC):
    """Where approved orders go. One implementation per venue, chosen by ``EXECUTION_VENUE``.

    ``submit`` is idempotent on the client order id: submitting an id again returns the order the venue
    already has and never places a second one.
    """

    #: venue name shown in the console (``paper``, ``live-engine``, ``alpaca-paper``)
    name: ClassVar[str]
    #: PAPER or LIVE, for the banner on every page
    mode: ClassVar[Mode]
    #: times in force the venue takes (empty: it has none, a limit order rests until filled or cancelled)
    times_in_force: ClassVar[tuple[str, ...]] = ()
    #: whether fractions of a unit may be sent (the venue's setting, e.g. ALPACA_FRACTIONAL; set by open_venue)
    fractional: bool = True

    @abstractmethod
    def submit(self, request: VenueOrderRequest) -> VenueOrder:
        """Place the order (or return the one already placed under its client order id).

        Raises VenueRejected (refused, nothing placed), VenueConflict (the id was used for another order) or
        VenueUnavailable (outcome unknown: keep the order approved and ``lookup`` before sending it again).
        """

    @abstractmethod
    def lookup(self, client_order_id: str, venue_order_id: str | None = None) -> VenueOrder | None:
        """The venue's current view of the order, or None when the venue has never seen the id.

        ``venue_order_id`` is the venue's own id when the console has it (a venue that reads orders by its own
        id uses it; a fresh client after a restart knows nothing else).
        """

    def recover(self, request: VenueOrderRequest) -> VenueOrder | None:
        """Ask the venue about an order whose create may have reached it (an answer was lost, the console crashed
        or gave up): the venue's current view of it, or None only when the venue says it never received it.

        Raises VenueUnavailable while the venue cannot answer. By default a lookup of the client order id (the
        venue's answer "no such id" is authoritative); a venue whose lookup cannot tell overrides it.
        """
        return self.lookup(request.client_order_id)

    def cancel(self, client_order_id: str) -> VenueOrder:
        """Cancel an open order; an order that is already finished is returned unchanged.

        Raises VenueRejected when the venue does not know the id.
        """
        order = self.lookup(client_order_id)
        if order is None:
            raise VenueRejected(f"the {self.name} venue has no order '{client_order_id}' to cancel",
                                code="ORDER_NOT_FOUND", status_code=404)
        return self._cancel_open(order) if order.is_open else order

    @abstractmethod
    def _cancel_open(self, order: VenueOrder) -> VenueOrder:
        """Cancel ``order``, open when looked up a moment ago; return the venue's view of it afterwards."""

    @abstractmethod
    def account(self) -> Account:
        """Cash, equity, P&L and positions."""

    @abstractmethod
    def _venue_lot(self, symbol: str) -> float:
        """Smallest quantity step the venue itself accepts for ``symbol``."""

    def lot_size(self, symbol: str) -> float:
        """The quantity step every order for ``symbol`` is sent in: the venue's own lot, at least one whole unit
        while the venue's setting allows no fractions (``fractional``)."""
        size = self._venue_lot(symbol)
        return size if self.fractional else float(max(1, math.ceil(size)))

    @abstractmethod
    def ping(self) -> None:
        """Raise VenueUnavailable (or VenueRejected on bad credentials) unless the venue answers."""

    def close(self) -> None:  # noqa: B027 - venues without connections keep this no-op
        """Release connections."""

    def __enter__(self) -> ExecutionVenue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def submit_exactly_once(
    send: Callable[[], VenueOrder],
    find: Callable[[], VenueOrder | None],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> VenueOrder:
    """Send an order, retrying on VenueUnavailable, but ask the venue (``find``) before every resend.

    A timeout or a dropped connection leaves it unknown whether the venue placed the order, so a retry
    first looks the client order id up and returns what it finds; only an id the venue does not know is
    sent again. ``send`` and ``find`` make one attempt each; ``policy`` bounds and spaces the attempts.
    Raises the last VenueUnavailable when every attempt failed.
    """
    failures = 0
    while True:
        try:
            if failures:
                found = find()
                if found is not None:
                    return found
            return send()
        except VenueUnavailable:
            failures += 1
            if failures >= policy.attempts:
                raise
            sleep(policy.delay(failures - 1))


def round_down_to_lot(quantity: float, lot: float) -> float:
    """``quantity`` rounded down to a whole number of ``lot`` steps (in decimal, so 33.1315 stays 33.1315)."""
    step = Decimal(repr(float(lot)))
    return float(Decimal(repr(float(quantity))) // step * step)


def refuse_reuse(request: VenueOrderRequest, placed: VenueOrderRequest, venue: str) -> None:
    """Raise VenueConflict when ``placed``, the order the venue has under the request's id, is another order."""
    def terms(order: VenueOrderRequest) -> tuple:
        return order.symbol, order.side, order.type, order.quantity, order.limit_price

    if terms(request) != terms(placed):
        raise VenueConflict(
            f"the {venue} venue already has order '{request.client_order_id}' as {placed.side} {placed.quantity:g} "
            f"{placed.symbol} {placed.type}; the same client order id cannot place a different order",
            code="IDEMPOTENCY_KEY_CONFLICT", status_code=409)


def reported_time(text: object) -> datetime:
    """An ISO 8601 time a venue reported, as aware UTC; now when it sent none we can read."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return clock.now()  # when we saw the order is the best we know
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
