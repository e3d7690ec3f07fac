"""Orders a person enters by hand: the order ticket and "close position" (Orders & Portfolio, ``nexus orders new``,
``nexus positions close``).

A manual order is a proposal by a person. It is checked like the API's proposals (``proposals.gate_orders``, the
graph's risk gate at the console's own latest price), filed pending in the same Approvals inbox with source
``manual`` and who entered it, and needs an approver other than that person (``Orders.approve`` refuses them,
whatever the notional). Quantities follow the venue's lot rule (``ExecutionVenue.lot_size``): a quantity off the
lot is refused naming the nearest one below, a notional becomes whole lots (rounded down). The ticket id drawn
with the ticket makes a double click file one order: the same id files nothing new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.core.auth import Actor
from services.core.errors import BadInput, Conflict
from services.core.numbers import exact
from services.market_data.quotes import LatestPrices
from services.trading.execution.base import Position, round_down_to_lot
from services.trading.orders import MANUAL, Order, Orders, Proposal
from services.trading.proposals import gate_orders
from services.trading.terms import Terms, finite_number

_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9./:_-]{0,31}$")
_TICKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$")
#: states of an order that may still trade (its quantity is spoken for)
NOT_FINAL = ("pending_approval", "approved", "submitting", "unknown", "submitted", "partially_filled")
_EPSILON = 1e-9


@dataclass(frozen=True)
class Ticket:
    """An order ticket as the operator filled it in (numbers as typed: text, NaN and the like are refused).

    Exactly one of ``quantity`` and ``notional`` (USD, turned into whole lots at the limit or latest price).
    ``ticket_id`` is drawn with the ticket: submitting the same ticket twice files one order.
    """

    ticket_id: str
    symbol: str
    side: str
    quantity: object = None
    notional: object = None
    order_type: str = "market"
    limit_price: object = None
    time_in_force: str | None = None
    reason: str = ""


def enter_order(orders: Orders, prices: LatestPrices, actor: Actor, ticket: Ticket) -> Order:
    """File ``ticket`` as a manual order pending approval by someone else (trader role); BadInput naming the
    field for any bad term, and nothing is recorded."""
    actor.require("trader", "enter orders")
    return _file(orders, prices, actor, ticket, whole_position=None)


def close_position(orders: Orders, prices: LatestPrices, actor: Actor, symbol: str, ticket_id: str,
                   quantity: object = None, order_type: str = "market", limit_price: object = None,
                   reason: str = "") -> Order:
    """File the order that closes the venue's position in ``symbol``, all of it (``quantity`` None) or part, as a
    manual order (trader role). More than is held, less what other orders not final yet already sell, is refused."""
    actor.require("trader", "close positions")
    symbol = _symbol(symbol)
    position = _position(orders, symbol)
    if position is None or abs(position.quantity) <= _EPSILON:
        raise BadInput(f"{orders.venue.name} holds no {symbol}: there is no position to close")
    side = "sell" if position.quantity > 0 else "buy"
    held = abs(position.quantity)
    reserved = sum(o.quantity - o.filled_quantity for o in orders.list(status=NOT_FINAL, symbol=symbol)
                   if o.side == side)
    free = held - reserved
    spoken = f" ({exact(reserved)} already in orders not final yet)" if reserved > _EPSILON else ""
    if free <= _EPSILON:
        raise BadInput(f"all {exact(held)} {symbol} held are already being closed{spoken}; nothing was recorded")
    wanted = free if quantity is None else _positive(quantity, "quantity")
    if wanted > free + _EPSILON:
        raise BadInput(f"cannot close {exact(wanted)} {symbol}: {exact(held)} held{spoken}, at most {exact(free)} "
                       "can be closed; nothing was recorded")
    ticket = Ticket(ticket_id, symbol, side, quantity=wanted, order_type=order_type, limit_price=limit_price,
                    reason=reason or f"close {'all' if quantity is None else 'part'} of the {symbol} position")
    return _file(orders, prices, actor, ticket, whole_position=position if wanted >= free - _EPSILON else None)


def _file(orders: Orders, prices: LatestPrices, actor: Actor, ticket: Ticket, whole_position: Position | None) -> Order:
    """Validate, price, lot-check and gate the ticket, then file it (idempotent on the ticket id)."""
    if not _TICKET_RE.match(ticket.ticket_id or ""):
        raise BadInput("the ticket id must be 1-41 letters, digits and . _ : - (draw a new ticket)")
    symbol = _symbol(ticket.symbol)
    if ticket.side not in ("buy", "sell"):
        raise BadInput(f"side must be buy or sell (got {ticket.side!r}); nothing was recorded")
    if ticket.order_type not in ("market", "limit"):
        raise BadInput(f"order type must be market or limit (got {ticket.order_type!r}); nothing was recorded")
    limit = _limit(ticket)
    venue = orders.venue
    if ticket.time_in_force is not None and ticket.time_in_force not in venue.times_in_force:
        raise BadInput(f"{venue.name} takes no time in force; leave it empty" if not venue.times_in_force else
                       f"time in force must be one of {', '.join(venue.times_in_force)} on {venue.name}")
    dataset, price = _price(orders, prices, symbol, whole_position)
    quantity = _quantity(ticket, venue.lot_size(symbol), limit or price, symbol, venue.name,
                         exact_quantity=whole_position is not None)
    (checks,) = gate_orders(orders, orders.book, {symbol: dataset}, [(symbol, ticket.side, quantity, price, limit)])
    context = {"source": MANUAL, "entered_by": actor.name,
               "rationale": ticket.reason.strip() or f"entered by {actor.name} on the order ticket"}
    if ticket.notional is not None:
        context["rationale"] += f"\n\nasked for {exact(float(ticket.notional))} USD of {symbol}"
    proposal = Proposal("ticket", symbol, ticket.side, quantity, price, order_type=ticket.order_type,
                        limit_price=limit, dataset_ref=dataset, checks=checks, context=context,
                        time_in_force=ticket.time_in_force)
    (order,) = orders.propose(f"manual-{ticket.ticket_id}", [proposal], actor=actor.name, source=MANUAL)
    filed = order.side, order.symbol, *(order.proposed.get(k) for k in ("quantity", "order_type", "limit_price"))
    if filed != (ticket.side, symbol, quantity, ticket.order_type, limit) or order.entered_by != actor.name:
        raise Conflict(f"this ticket was already filed as order {order.id} ({Terms.of(order).describe()}); draw a "
                       "new ticket for another order; nothing new was recorded")
    return order


def _symbol(text: str) -> str:
    symbol = (text or "").strip().upper()
    if not _SYMBOL_RE.match(symbol):
        raise BadInput(f"symbol {text!r} must be a market id such as AAPL or BTCUSDT; nothing was recorded")
    return symbol


def _positive(value: object, name: str) -> float:
    number = finite_number(value, name)
    if number <= 0:
        raise BadInput(f"the {name} must be above 0 (got {value!r}); nothing was recorded")
    return number


def _limit(ticket: Ticket) -> float | None:
    given = ticket.limit_price not in (None, "")
    if ticket.order_type == "limit":
        if not given:
            raise BadInput("a limit order needs a limit price; nothing was recorded")
        return _positive(ticket.limit_price, "limit price")
    if given:
        raise BadInput("a market order has no limit price (choose limit, or clear the price); nothing was recorded")
    return None


def _position(orders: Orders, symbol: str) -> Position | None:
    return next((p for p in orders.venue.account().positions if p.symbol == symbol), None)


def _price(orders: Orders, prices: LatestPrices, symbol: str, held: Position | None) -> tuple[str, float]:
    """The dataset and latest stored price the order is gated at; for a symbol only the venue holds, its price."""
    ref = prices.dataset_for(symbol)
    price = prices.quote(symbol) if ref is not None else None
    if price is not None:
        return str(ref), price
    held = held or _position(orders, symbol)
    if held is not None and held.current_price > 0:
        return "", held.current_price
    raise BadInput(f"unknown symbol {symbol}: no dataset in the catalog prices it and {orders.venue.name} holds "
                   "none; pick a symbol from the catalog (or ingest its candles first); nothing was recorded")


def _quantity(ticket: Ticket, lot: float, price: float, symbol: str, venue: str, exact_quantity: bool) -> float:
    """The ticket's quantity in whole lots: given (and on the lot, unless it closes a whole position) or from the
    notional (rounded down)."""
    given = ticket.quantity not in (None, ""), ticket.notional not in (None, "")
    if given[0] == given[1]:
        raise BadInput("give either a quantity or a notional (USD), not both and not neither; nothing was recorded")
    if given[0]:
        quantity = _positive(ticket.quantity, "quantity")
        if exact_quantity:
            return quantity
        on_lot = round_down_to_lot(quantity, lot)
        if on_lot != quantity:
            nearest = f"use {exact(on_lot)}" if on_lot > 0 else f"the least is {exact(lot)}"
            raise BadInput(f"{exact(quantity)} {symbol} is not a whole number of lots of {exact(lot)} on {venue} "
                           f"({nearest}); nothing was recorded")
        return quantity
    notional = _positive(ticket.notional, "notional")
    quantity = round_down_to_lot(notional / price, lot)
    if quantity <= 0:
        raise BadInput(f"{exact(notional)} USD buys less than one lot of {symbol} on {venue} (one lot of "
                       f"{exact(lot)} at {exact(price)} costs {exact(lot * price)}); nothing was recorded")
    return quantity
