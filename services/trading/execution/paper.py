"""The embedded paper venue: fills at the latest stored price plus slippage and fee; the account lives in the DB.

Market orders fill at once at ``quote(symbol)`` moved against the trader by the slippage; the fee is a share
of the notional. A limit order fills when the quote crosses its limit (buy: quote ≤ limit, sell: quote ≥
limit) at the slipped quote capped at the limit, else it rests as ``submitted`` and is re-checked by
``lookup`` and ``poll_open``. The account is long-only: a sell beyond the quantity held (less what open
sells already reserve) is refused, and so is a buy beyond the cash (less what open limit buys reserve).
A refused order is not stored, so submitting its id again is evaluated afresh.

Every change is one transaction that first locks the account row, so concurrent submits from several
processes cannot spend the same cash twice. ``client_order_id`` is UNIQUE: of two concurrent submits of
one id, the second fails on the constraint and returns the first one's order.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from services.core import clock, db
from services.core.errors import NexusError, ServiceUnavailable, StorageUnavailable
from services.core.records import paper_accounts, paper_fills, paper_orders, paper_positions
from services.trading.execution.base import (
    FRACTIONAL_LOT,
    Account,
    ExecutionVenue,
    Position,
    VenueOrder,
    VenueOrderRequest,
    VenueRejected,
    VenueUnavailable,
    refuse_reuse,
)

log = logging.getLogger(__name__)

#: the paper account's id (one simulated account per records database)
ACCOUNT = "default"
#: quantities and cash within this of each other are equal (float sums of fills)
_EPSILON = 1e-9

#: latest price of a symbol, from the named dataset when one is given (the order's); raises a NexusError
#: (e.g. DatasetNotFound) when there is none
Quote = Callable[[str, "str | None"], float]


class PaperVenue(ExecutionVenue):
    """The simulated account in the records database (SQLite or PostgreSQL)."""

    name = "paper"
    mode = "PAPER"

    def __init__(self, engine: Engine, quote: Quote, *, slippage_bps: float, fee_bps: float, initial_cash: float):
        """Open the account, creating it with ``initial_cash`` on first use (later values do not reset it)."""
        self.engine = engine
        self._quote = quote
        self._slippage = slippage_bps / 10_000
        self._fee_rate = fee_bps / 10_000
        now = clock.now()
        try:
            with engine.begin() as connection:
                connection.execute(paper_accounts.insert().values(
                    id=ACCOUNT, cash=initial_cash, initial_cash=initial_cash, created_at=now, updated_at=now))
        except IntegrityError:
            pass  # the account exists already (made earlier, or just now by another process)

    # --- ExecutionVenue --------------------------------------------------------------------------------
    def submit(self, request: VenueOrderRequest) -> VenueOrder:
        """Fill a market order at once; fill a limit order if its limit is crossed, else let it rest.

        The id of an order already placed returns that order; VenueConflict if it was a different order.
        """
        existing = self._read(request.client_order_id)
        if existing is not None:
            refuse_reuse(request, _as_request(existing), self.name)
            return self._refreshed(existing)
        quote = self._price(request.symbol, request.dataset_ref or None)
        now = clock.now()
        order_id = f"paper-{uuid.uuid4().hex[:24]}"
        try:
            with self.engine.begin() as connection:
                connection.execute(paper_orders.insert().values(
                    id=order_id, account_id=ACCOUNT, client_order_id=request.client_order_id,
                    symbol=request.symbol, side=request.side, type=request.type, quantity=request.quantity,
                    limit_price=request.limit_price, reference_price=request.reference_price,
                    dataset_ref=request.dataset_ref or None, status="submitted",
                    filled_quantity=0.0, average_price=None, fee=0.0, created_at=now, updated_at=now))
                cash = self._lock_account(connection)
                self._check_funds(connection, order_id, request, quote, cash)
                if _crosses(request.side, request.limit_price, quote):
                    self._fill(connection, order_id, quote, now)
        except IntegrityError:  # a concurrent submit of this client order id committed first
            return self.submit(request)  # answered as any id already placed
        return _to_venue_order(self._read(request.client_order_id))

    def lookup(self, client_order_id: str, venue_order_id: str | None = None) -> VenueOrder | None:
        """The order (a resting limit order is filled first when its limit is now crossed), or None."""
        order = self._read(client_order_id)
        return None if order is None else self._refreshed(order)

    def _cancel_open(self, order: VenueOrder) -> VenueOrder:
        """Cancel the resting limit order unless a fill took it first."""
        with self.engine.begin() as connection:
            self._lock_account(connection)
            connection.execute(
                update(paper_orders)
                .where(paper_orders.c.id == order.venue_order_id, paper_orders.c.status == "submitted")
                .values(status="cancelled", updated_at=clock.now())
            )
        return _to_venue_order(self._read(order.client_order_id))

    def account(self) -> Account:
        """Cash, positions at the latest quote, realized P&L (before fees) and total P&L (after fees).

        Raises VenueRejected (VenueUnavailable) when a held symbol has no price (cannot be priced now).
        """
        with self.engine.connect() as connection:
            account = connection.execute(select(paper_accounts).where(paper_accounts.c.id == ACCOUNT)).one()
            rows = connection.execute(
                select(paper_positions)
                .where(paper_positions.c.account_id == ACCOUNT)
                .order_by(paper_positions.c.symbol)
            ).all()
        positions = []
        for row in rows:
            if row.quantity > _EPSILON:
                price = self._price(row.symbol)
                positions.append(Position(row.symbol, row.quantity, row.avg_price, price,
                                          (price - row.avg_price) * row.quantity))
        equity = account.cash + sum(p.quantity * p.current_price for p in positions)
        return Account(cash=account.cash, equity=equity, pnl_total=equity - account.initial_cash,
                       positions=tuple(positions), mode=self.mode, venue=self.name,
                       realized_pnl=sum(row.realized_pnl for row in rows))

    def _venue_lot(self, symbol: str) -> float:
        """The paper venue takes any quantity to 8 decimals."""
        return FRACTIONAL_LOT

    def ping(self) -> None:
        """Check the records database answers."""
        try:
            db.ping(self.engine)
        except OperationalError as error:
            raise VenueUnavailable(f"the paper venue's records database is unreachable ({type(error).__name__})",
                                   code="PAPER_DATABASE_UNAVAILABLE") from None

    # --- paper only ------------------------------------------------------------------------------------
    def poll_open(self) -> list[VenueOrder]:
        """Fill every resting limit order whose limit the latest quote crosses; return the orders filled."""
        with self.engine.connect() as connection:
            resting = connection.execute(
                select(paper_orders)
                .where(paper_orders.c.account_id == ACCOUNT, paper_orders.c.status == "submitted")
                .order_by(paper_orders.c.created_at)
            ).all()
        priced_from = {(row.symbol, row.dataset_ref) for row in resting}
        quotes = {key: self._quote_or_none(*key) for key in priced_from}
        filled = [row.client_order_id for row in resting
                  if self._fill_if_crossed(row, quotes[(row.symbol, row.dataset_ref)])]
        return [_to_venue_order(self._read(client_order_id)) for client_order_id in filled]

    # --- internals -------------------------------------------------------------------------------------
    def _read(self, client_order_id: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(paper_orders).where(paper_orders.c.client_order_id == client_order_id)
            ).first()

    def _refreshed(self, order: Any) -> VenueOrder:
        quote = self._quote_or_none(order.symbol, order.dataset_ref) if order.status == "submitted" else None
        if self._fill_if_crossed(order, quote):
            order = self._read(order.client_order_id)
        return _to_venue_order(order)

    def _price(self, symbol: str, dataset_ref: str | None = None) -> float:
        try:
            price = float(self._quote(symbol, dataset_ref))
        except (StorageUnavailable, ServiceUnavailable) as error:
            raise VenueUnavailable(f"the paper venue cannot price {symbol} right now: {error}",
                                   code="PAPER_QUOTE_UNAVAILABLE") from error
        except NexusError as error:
            raise VenueRejected(f"the paper venue has no price for {symbol}: {error}",
                                code="PAPER_NO_QUOTE") from error
        if not (math.isfinite(price) and price > 0):
            raise VenueRejected(f"the paper venue's price for {symbol} is {price}, not a positive number",
                                code="PAPER_NO_QUOTE")
        return price

    def _quote_or_none(self, symbol: str, dataset_ref: str | None) -> float | None:
        # a resting order without a price simply does not fill now, as on a venue without a market
        try:
            return self._price(symbol, dataset_ref)
        except (VenueRejected, VenueUnavailable) as error:
            log.warning("resting paper orders in %s not checked: %s", symbol, error)
            return None

    def _fill_if_crossed(self, order: Any, quote: float | None) -> bool:
        if quote is None or not _crosses(order.side, order.limit_price, quote):
            return False
        with self.engine.begin() as connection:
            self._lock_account(connection)
            still_resting = connection.execute(
                select(paper_orders.c.id).where(paper_orders.c.id == order.id, paper_orders.c.status == "submitted")
            ).first()
            if still_resting is None:  # cancelled or filled by someone else meanwhile
                return False
            self._fill(connection, order.id, quote, clock.now())
        return True

    def _lock_account(self, connection: Connection) -> float:
        """Take the account row for this transaction and return its cash.

        PostgreSQL: FOR NO KEY UPDATE, which the FOR KEY SHARE lock of a concurrent order insert (its foreign
        key) does not block, so insert-then-lock transactions queue instead of deadlocking. SQLite: the
        BEGIN IMMEDIATE of every transaction already serialises them.
        """
        return connection.execute(
            select(paper_accounts.c.cash).where(paper_accounts.c.id == ACCOUNT).with_for_update(key_share=True)
        ).scalar_one()

    def _check_funds(self, connection: Connection, order_id: str, request: VenueOrderRequest, quote: float,
                     cash: float) -> None:
        others_open = and_(paper_orders.c.account_id == ACCOUNT, paper_orders.c.status == "submitted",
                           paper_orders.c.side == request.side, paper_orders.c.id != order_id)
        if request.side == "buy":
            reserved = connection.execute(
                select(func.coalesce(func.sum(paper_orders.c.quantity * paper_orders.c.limit_price), 0.0))
                .where(others_open)
            ).scalar_one() * (1 + self._fee_rate)
            price = request.limit_price if request.limit_price is not None else quote * (1 + self._slippage)
            needed = request.quantity * price * (1 + self._fee_rate)
            available = cash - reserved
            if needed > available + _EPSILON:
                raise VenueRejected(
                    f"the paper account has {available:,.2f} cash available ({reserved:,.2f} reserved by open buy "
                    f"orders) and this buy needs {needed:,.2f} with fees; reduce the quantity",
                    code="INSUFFICIENT_CASH", status_code=403)
            return
        held = connection.execute(
            select(paper_positions.c.quantity)
            .where(paper_positions.c.account_id == ACCOUNT, paper_positions.c.symbol == request.symbol)
        ).scalar() or 0.0
        reserved = connection.execute(
            select(func.coalesce(func.sum(paper_orders.c.quantity), 0.0))
            .where(others_open, paper_orders.c.symbol == request.symbol)
        ).scalar_one()
        if request.quantity > held - reserved + _EPSILON:
            raise VenueRejected(
                f"the paper account holds {held:g} {request.symbol} ({reserved:g} reserved by open sell orders) "
                f"and cannot sell {request.quantity:g}: it is long-only",
                code="INSUFFICIENT_POSITION", status_code=403)

    def _fill(self, connection: Connection, order_id: str, quote: float, now: datetime) -> None:
        order = connection.execute(select(paper_orders).where(paper_orders.c.id == order_id)).one()
        quantity = order.quantity
        if order.side == "buy":
            price = quote * (1 + self._slippage)
            price = min(price, order.limit_price) if order.limit_price is not None else price
        else:
            price = quote * (1 - self._slippage)
            price = max(price, order.limit_price) if order.limit_price is not None else price
        notional = price * quantity
        fee = notional * self._fee_rate
        position = connection.execute(
            select(paper_positions)
            .where(paper_positions.c.account_id == ACCOUNT, paper_positions.c.symbol == order.symbol)
        ).first()
        held, avg_price, realized = (position.quantity, position.avg_price, position.realized_pnl) if position \
            else (0.0, 0.0, 0.0)
        if order.side == "buy":
            pnl = 0.0
            new_quantity = held + quantity
            avg_price = (held * avg_price + quantity * price) / new_quantity
            cash_change = -(notional + fee)
        else:
            pnl = (price - avg_price) * quantity
            new_quantity = held - quantity
            if new_quantity <= _EPSILON:  # closed: drop float dust
                new_quantity, avg_price = 0.0, 0.0
            cash_change = notional - fee
        values = dict(quantity=new_quantity, avg_price=avg_price, realized_pnl=realized + pnl, updated_at=now)
        if position is None:
            connection.execute(paper_positions.insert().values(account_id=ACCOUNT, symbol=order.symbol, **values))
        else:
            connection.execute(
                update(paper_positions)
                .where(paper_positions.c.account_id == ACCOUNT, paper_positions.c.symbol == order.symbol)
                .values(**values)
            )
        connection.execute(
            update(paper_accounts).where(paper_accounts.c.id == ACCOUNT)
            .values(cash=paper_accounts.c.cash + cash_change, updated_at=now)
        )
        connection.execute(paper_fills.insert().values(
            order_id=order_id, symbol=order.symbol, side=order.side, quantity=quantity, quote=quote, price=price,
            fee=fee, realized_pnl=pnl, filled_at=now))
        connection.execute(
            update(paper_orders).where(paper_orders.c.id == order_id)
            .values(status="filled", filled_quantity=quantity, average_price=price, fee=fee, updated_at=now)
        )


def _crosses(side: str, limit_price: float | None, quote: float) -> bool:
    """A market order always fills; a limit buy when the quote is at or below it, a limit sell at or above."""
    if limit_price is None:
        return True
    return quote <= limit_price if side == "buy" else quote >= limit_price


def _as_request(order: Any) -> VenueOrderRequest:
    return VenueOrderRequest(order.client_order_id, order.symbol, order.side, order.type, order.quantity,
                             order.limit_price)


def _to_venue_order(order: Any) -> VenueOrder:
    return VenueOrder(
        client_order_id=order.client_order_id,
        venue_order_id=order.id,
        status=order.status,
        filled_quantity=order.filled_quantity,
        average_price=order.average_price,
        fee=order.fee,
        raw_status=order.status,
        updated_at=order.updated_at,
    )
