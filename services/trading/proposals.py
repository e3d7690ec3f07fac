"""Orders proposed from outside the console (the Agent Platform, a Lona signal) through the HTTP API.

They pass the same risk gate as the agent graph's (every check, as if the earlier orders of the batch were
filled), at the console's own latest stored price, and land in the same Approvals inbox marked with their
source. Nothing is ever sent without a human decision: they start ``pending_approval`` like every proposal.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Engine

from services.agents.gate import check_orders
from services.core.audit import write_audit
from services.core.errors import BadInput
from services.core.tokens import AccessToken
from services.market_data.datasets import DatasetRef
from services.market_data.market_hours import open_by_symbol
from services.trading.orders import Order, Orders, Proposal
from services.trading.risk import Book, Check

MAX_ORDERS = 50
_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


@dataclass(frozen=True)
class ExternalOrder:
    """One order as a proposer sends it."""

    symbol: str
    side: str
    quantity: float
    order_type: str = "market"
    limit_price: float | None = None
    proposal_id: str | None = None
    rationale: str = ""


@dataclass(frozen=True)
class ExternalBatch:
    """A proposer's batch: who sends it, why, and the orders."""

    source: str
    rationale: str
    orders: list[ExternalOrder]


def _finite_positive(value: float | None, what: str) -> None:
    if value is None or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise BadInput(f"{what} must be a finite number above 0")


def _checked(batch: ExternalBatch) -> list[ExternalOrder]:
    if not _SOURCE_RE.match(batch.source or ""):
        raise BadInput("source must name the proposer in lower case (agent-platform, lona-signal; max 40)")
    if not (batch.rationale or "").strip():
        raise BadInput("say why these orders are proposed (rationale); the approver reads it")
    if not 1 <= len(batch.orders) <= MAX_ORDERS:
        raise BadInput(f"propose between 1 and {MAX_ORDERS} orders per request")
    out = []
    for index, order in enumerate(batch.orders, 1):
        where = f"order {index}"
        if order.side not in ("buy", "sell"):
            raise BadInput(f"{where}: side must be buy or sell")
        if order.order_type not in ("market", "limit"):
            raise BadInput(f"{where}: order_type must be market or limit")
        _finite_positive(order.quantity, f"{where}: quantity")
        if order.order_type == "limit":
            _finite_positive(order.limit_price, f"{where}: limit_price (required for a limit order)")
        elif order.limit_price is not None:
            raise BadInput(f"{where}: a market order has no limit_price (send order_type limit)")
        proposal_id = order.proposal_id or f"{order.symbol}-{order.side}-{index}"
        if not _ID_RE.match(proposal_id):
            raise BadInput(f"{where}: proposal_id may use letters, digits and . _ : - (max 64)")
        out.append(replace(order, symbol=order.symbol.strip().upper(), proposal_id=proposal_id))
    if len({o.proposal_id for o in out}) != len(out):
        raise BadInput("two orders share a proposal_id; give each its own")
    return out


def gate_orders(orders: Orders, book: Callable[[], Book], refs: dict[str, str],
                items: list[tuple[str, str, float, float, float | None]]) -> list[list[Check]]:
    """The risk gate's checks of each (symbol, side, quantity, reference price, limit price), in turn, as if the
    earlier ones were filled, with the market hours of the datasets in ``refs`` (symbol → dataset): the graph's
    gate, for orders proposed from outside it (the API, the manual ticket)."""
    policy, gate = orders.policy()
    gated = check_orders([{"symbol": symbol, "side": side, "quantity": quantity, "reference_price": price,
                           "limit_price": limit} for symbol, side, quantity, price, limit in items],
                         replace(book(), market_open=open_by_symbol(refs)), policy, gate, set())
    return [[Check(**c) for c in g["checks"]] for g in gated]


def propose_external(engine: Engine, orders: Orders, book: Callable[[], Book], quote: Callable[[str], float | None],
                     dataset_for: Callable[[str], DatasetRef | None], token: AccessToken, batch: ExternalBatch,
                     batch_id: str | None = None) -> tuple[str, list[Order]]:
    """Gate and record ``batch`` as pending proposals for ``token``'s owner (the ``orders:propose`` scope);
    return the run id they are filed under and the orders. The same ``batch_id`` files the same orders again."""
    token.require_scope("orders:propose")
    checked = _checked(batch)
    refs, prices = {}, {}
    for order in checked:
        ref = dataset_for(order.symbol)
        price = quote(order.symbol)
        if ref is None or price is None:
            raise BadInput(f"no stored price for {order.symbol}: the console gates orders at its own prices; "
                           f"ingest or import a dataset of {order.symbol} first")
        refs[order.symbol], prices[order.symbol] = str(ref), price
    checks = gate_orders(orders, book, refs, [(o.symbol, o.side, float(o.quantity), prices[o.symbol], o.limit_price)
                                              for o in checked])
    run_id = f"api-{batch.source}-{batch_id or uuid.uuid4().hex[:12]}"[:64]
    proposals = [
        Proposal(proposal_id=o.proposal_id, symbol=o.symbol, side=o.side, quantity=float(o.quantity),
                 reference_price=prices[o.symbol], order_type=o.order_type, limit_price=o.limit_price,
                 dataset_ref=refs[o.symbol], checks=g,
                 context={"source": batch.source, "rationale": "\n\n".join(
                     t for t in (batch.rationale.strip(), o.rationale.strip()) if t), "proposer": token.owner,
                     "token": token.id})
        for o, g in zip(checked, checks, strict=True)
    ]
    created = orders.propose(run_id, proposals, actor=token.owner, source=batch.source)
    with engine.begin() as connection:
        write_audit(connection, f"proposal:{hashlib.sha256(run_id.encode()).hexdigest()[:12]}", token.owner,
                    "api_proposal", None, "pending_approval", batch.rationale.strip()[:500], run_id=run_id,
                    details={"source": batch.source, "token": token.id, "orders": [o.id for o in created]})
    return run_id, created


def proposed_order(orders: Orders, token: AccessToken, order_id: str) -> Order:
    """An order ``token``'s owner proposed through the API (the ``orders:propose`` scope); others are not theirs
    to follow and read as unknown."""
    token.require_scope("orders:propose")
    try:
        order = orders.get(order_id)
    except BadInput:
        order = None
    if order is None or order.source == "agent-graph" or order.about.proposer != token.owner:
        raise NotYours(f"no order {order_id[:40]} among those proposed by {token.owner}")
    return order


class NotYours(BadInput):
    """The order does not exist or another proposer filed it."""
