"""The approvals inbox as data: pending orders grouped by run, each re-checked now, and what blocks a decision.

One read per refresh: the policy and the venue's book are read once for every line; the count the navigation
shows comes from the same query the inbox lists (pending and not yet expired).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from services.core import clock
from services.core.errors import BadInput, NexusError
from services.core.records import orders as orders_table
from services.trading.orders import AuditEntry, Order, Orders
from services.trading.risk import Check, GateLimits
from services.trading.terms import Terms


@dataclass(frozen=True)
class InboxLine:
    """One pending order with its checks now, its drift and why it cannot be approved ('' when it can)."""

    order: Order
    checks: list[Check]
    drift_pct: float | None
    blocked: str

    @property
    def terms(self) -> Terms:
        """The version and terms drawn for this line (what a decision on it binds to)."""
        return Terms.of(self.order)

    @property
    def passed(self) -> int:
        """How many checks pass."""
        return sum(c.passed for c in self.checks)

    @property
    def failing(self) -> list[Check]:
        """The checks that fail."""
        return [c for c in self.checks if not c.passed]

    @property
    def weight(self) -> tuple[float, float] | None:
        """Portfolio weight of the symbol (now, after this order), scaled to the order's current quantity."""
        weights = self.order.about.weights
        if weights is None:
            return None
        proposed = self.order.proposed.get("quantity") or self.order.quantity
        share = self.order.quantity / proposed if proposed else 1.0
        return weights.current, weights.current + (weights.target - weights.current) * share


@dataclass(frozen=True)
class RunGroup:
    """The pending orders of one run, with the run-level text once."""

    run_id: str
    lines: list[InboxLine]
    rationale: str
    trace_url: str | None
    bulk_blocked: str

    @property
    def proposed_at(self):
        """When the run's first pending proposal was made."""
        return min(line.order.created_at for line in self.lines)


@dataclass(frozen=True)
class Inbox:
    """Everything the inbox draws in one refresh."""

    groups: list[RunGroup]
    kill_switch: bool
    drift_bound: float | None  # None when an admin turned the drift check off
    book_problem: str

    @property
    def count(self) -> int:
        """How many orders wait for a decision."""
        return sum(len(g.lines) for g in self.groups)

    def line(self, order_id: str | None) -> InboxLine | None:
        """The line of ``order_id`` if it is still pending."""
        return next((line for g in self.groups for line in g.lines if line.order.id == order_id), None)


def pending_count(orders: Orders) -> int:
    """Orders waiting for a decision and not yet expired (what the navigation shows)."""
    with orders.engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(
            orders_table.c.status == "pending_approval", orders_table.c.expires_at > clock.now())).scalar() or 0)


def _blocked(checks: list[Check], drift: float | None, gate: GateLimits, kill_switch: bool) -> str:
    """Why approve is off for one order ('' when it is on): the same rules ``Orders.approve`` enforces."""
    if kill_switch:
        return "the kill switch is on"
    failing = [c.name for c in checks if not c.passed]
    if failing:
        return "a risk check fails: " + ", ".join(failing)
    if gate.drift_blocks(drift):
        return f"price drifted {drift:+.2f}% (bound ±{gate.drift_bound}%)"
    return ""


def _bulk_blocked(lines: list[InboxLine], kill_switch: bool) -> str:
    if kill_switch:
        return "Approve all is off while the kill switch is on."
    failing = [line.order.symbol for line in lines if line.failing]
    if failing:
        return "Approve all is off: a check fails for " + ", ".join(failing) + "; decide those one by one."
    drifted = [line.order.symbol for line in lines if line.blocked]
    if drifted:
        return "Approve all is off: " + ", ".join(drifted) + " cannot be approved now (price drift)."
    return ""


def read_inbox(orders: Orders) -> Inbox:
    """Expire what is due, then every pending order grouped by run (newest run first), re-checked now."""
    orders.expire_due()
    pending = orders.list(status="pending_approval")
    rules = policy, gate = orders.policy()
    kill_switch = policy.killSwitch.enabled and policy.killSwitch.triggered
    book, problem = None, ""
    if pending:
        try:
            book = orders.book()  # one venue read per refresh, not one per order
        except NexusError as error:
            problem = f"the venue did not answer ({error}); checks use the last known book"
    runs: dict[str, list[InboxLine]] = {}
    for order in pending:  # newest first
        checks = orders.recheck(order, rules=rules, book=book) if book is not None else \
            [Check(**c) for c in order.checks]
        drift = orders.drift_pct(order)
        runs.setdefault(order.run_id, []).append(
            InboxLine(order, checks, drift, _blocked(checks, drift, gate, kill_switch)))
    groups = []
    for run_id, lines in runs.items():
        about = lines[0].order.about
        groups.append(RunGroup(run_id, lines, about.rationale, about.trace_url, _bulk_blocked(lines, kill_switch)))
    return Inbox(groups, kill_switch, gate.drift_bound, problem)


def link_problem(orders: Orders, inbox: Inbox, order_id: str) -> str:
    """'' when the order a link points to (``/approvals?order=<id>``) waits in ``inbox``; else what became of it."""
    if inbox.line(order_id) is not None:
        return ""
    try:
        order = orders.get(order_id)
    except BadInput as error:
        return f"The link points to {error}; nothing to open."
    return (f"The linked order is no longer pending: it is {order.status} ({Terms.of(order).describe()}, last "
            f"changed {order.updated_at:%Y-%m-%d %H:%M:%S} UTC).")


@dataclass(frozen=True)
class SinceThen:
    """What became of an order after the version an outcome was about: its moves since (oldest first, each with
    who made it) and the order now."""

    moves: list[AuditEntry]
    order: Order


def since_then(orders: Orders, order_id: str, version: int) -> SinceThen | None:
    """None while ``order_id`` is still at ``version`` (or unknown); else its moves since and its state now.

    Each change of an order is one compare-and-set that adds one to its version and writes one audit row, so the
    moves since ``version`` are its newest ``order.version - version`` audit rows."""
    try:
        order = orders.get(order_id)
    except BadInput:
        return None
    if order.version <= version:
        return None
    moves = [e for e in orders.audit(subject=order_id, limit=order.version - version) if e.to_status]
    return SinceThen(moves[::-1], order)


def order_rationale(run_text: str, symbol: str) -> str:
    """The paragraphs of a run's rationale that speak about ``symbol`` ('' when none does)."""
    return "\n\n".join(p for p in run_text.split("\n\n") if symbol.lower() in p.lower())
