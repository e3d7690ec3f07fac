"""Orders: proposals, approvals, the state machine and exactly-once submission, every change audited.

Every state change is one transaction: a compare-and-set update (``WHERE status = expected AND version =
expected``) plus an append-only audit row. A transition that finds the order changed raises Conflict, so
two operators (or a double click) can never decide the same order twice. Submission takes an approved order
to ``submitting`` first; the venue is asked for the client order id before any retry, and orders left in
``submitting`` by a crash are reconciled with the venue, so an approved order is never lost or sent twice.

An order whose create may have reached the venue is never final until the venue has been asked: when the
console stops sending (the venue stayed unreachable for ``MAX_SUBMIT_ATTEMPTS``) the order goes to ``unknown``,
which reconciliation keeps asking about (``ExecutionVenue.recover``) until the venue answers; only the venue's
own "no such order" lets the console say it never received it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import Connection, Engine, Select, Update, bindparam, func, insert, select, true, update

from services.core import clock
from services.core.audit import audit_for_each, audit_params, audit_values, write_audit
from services.core.auth import LOCAL_OPERATOR, Actor, normalise_identity
from services.core.errors import BadInput, Conflict, NexusError
from services.core.numbers import exact
from services.core.records import audit_log, orders, risk_policies
from services.market_data.market_hours import open_by_symbol
from services.trading.context import OrderContext
from services.trading.execution.base import (
    ExecutionVenue,
    VenueError,
    VenueOrder,
    VenueOrderRequest,
    VenueRejected,
    VenueUnavailable,
    round_down_to_lot,
)
from services.trading.risk import (
    DEFAULT_POLICY,
    Book,
    Check,
    GateLimits,
    OrderIntent,
    RiskPolicy,
    check_bounds,
    evaluate,
    parse_gate,
    parse_policy,
)
from services.trading.terms import Terms, ensure_seen, finite_number

TERMINAL = frozenset({"filled", "rejected", "expired", "cancelled", "failed"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"approved", "rejected", "expired", "cancelled"}),
    "approved": frozenset({"submitting", "cancelled"}),
    "submitting": frozenset({"submitted", "partially_filled", "filled", "approved", "failed", "cancelled",
                             "unknown"}),
    # the console stopped sending without an answer: the venue may hold it; only the venue's word ends it
    "unknown": frozenset({"submitted", "partially_filled", "filled", "cancelled", "failed"}),
    "submitted": frozenset({"partially_filled", "filled", "cancelled", "failed"}),
    "partially_filled": frozenset({"partially_filled", "filled", "cancelled", "failed"}),
    **{state: frozenset() for state in TERMINAL},
}
OPEN_AT_VENUE = ("submitted", "partially_filled")
#: orders the venue may hold: they count against the daily cap
MAYBE_AT_VENUE = ("submitting", "unknown", *OPEN_AT_VENUE, "filled")
#: the source of an order a person entered on the ticket (four eyes always: another approver decides it)
MANUAL = "manual"
RECONCILE_AFTER_S = 60.0  # longer than a venue call with its retries can last
MAX_SUBMIT_ATTEMPTS = 8


class IllegalTransition(Conflict):
    """The state machine does not allow this move."""


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition unless ``current → target`` is allowed."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(f"an order cannot go from {current} to {target}")


def client_order_id(run_id: str, proposal_id: str) -> str:
    """Idempotency key at the venue: derived from (run, proposal), 27 characters, [a-z0-9-]."""
    return "tn-" + hashlib.sha256(f"{run_id}:{proposal_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Proposal:
    """An order the agent graph proposes, with what the approver needs to see."""

    proposal_id: str
    symbol: str
    side: str
    quantity: float
    reference_price: float
    order_type: str = "market"
    limit_price: float | None = None
    dataset_ref: str = ""
    checks: list[Check] = field(default_factory=list)
    context: dict = field(default_factory=dict)
    time_in_force: str | None = None


@dataclass(frozen=True)
class Order:
    """An order row."""

    id: str
    client_order_id: str
    run_id: str
    proposal_id: str
    symbol: str
    dataset_ref: str
    side: str
    order_type: str
    quantity: float
    limit_price: float | None
    reference_price: float
    notional: float
    status: str
    version: int
    approvals_needed: int
    approved_by: list
    checks: list
    context: dict
    proposed: dict
    venue: str
    venue_order_id: str | None
    filled_quantity: float
    average_price: float | None
    fee: float
    submit_attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    source: str = "agent-graph"  # who proposed it: the agent graph, an API client or a person (``MANUAL``)
    time_in_force: str | None = None  # day / gtc when the ticket chose one; None: the venue's default

    @cached_property
    def about(self) -> OrderContext:
        """The stored context (forecast, anomalies, weights, rationale, trace, proposer), typed, parsed once."""
        return OrderContext.model_validate(self.context)

    @property
    def entered_by(self) -> str | None:
        """Who entered a manual order on the ticket (None for the graph's and API proposals)."""
        return self.about.entered_by if self.source == MANUAL else None

    @property
    def checks_pass(self) -> bool:
        """True when no stored risk check fails."""
        return all(c.get("passed") for c in self.checks)

    @property
    def seconds_left(self) -> float:
        """Time before a pending proposal expires (negative once past)."""
        return (self.expires_at - clock.now()).total_seconds()


def _order(row) -> Order:
    return Order(**{k: row._mapping[k] for k in Order.__dataclass_fields__})


@dataclass(frozen=True)
class AuditEntry:
    """One audit row."""

    id: int
    subject: str
    run_id: str
    actor: str
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    reason: str
    checkpoint_id: str | None
    dataset_versions: dict | None
    venue_order_id: str | None
    details: dict


BookProvider = Callable[[], Book]
Quote = Callable[[str, "str | None"], "float | None"]


class Orders:
    """The order book of the console and the only path by which money moves."""

    def __init__(self, engine: Engine, venue: ExecutionVenue, book: BookProvider, quote: Quote | None = None):
        self.engine = engine
        self.venue = venue
        self.book = book
        self.quote = quote or (lambda _symbol: None)

    def _reading(self) -> Connection:
        """A connection for single-statement work: autocommit on PostgreSQL, where a transaction around one
        statement would cost a BEGIN and a COMMIT/ROLLBACK round trip each (a statement is atomic and sees one
        snapshot on its own); SQLite keeps its own transactions (BEGIN IMMEDIATE, in-process, no round trip)."""
        connection = self.engine.connect()
        if self.engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection

    # --- policy and kill switch ----------------------------------------------------------------------------
    def policy(self) -> tuple[RiskPolicy, GateLimits]:
        """The risk policy and gate limits in force (defaults until an admin changes them)."""
        with self._reading() as connection:
            return self._rules_on(connection)

    def policy_with_revision(self) -> tuple[RiskPolicy, GateLimits, int]:
        """The rules in force and their revision (0 for the defaults), read together: what an editor saw, to
        hand back as ``set_policy(..., seen_revision=)``."""
        with self._reading() as connection:
            row = connection.execute(_LATEST_POLICY).first()
        return (*self._parse_rules(row), row.id if row is not None else 0)

    @staticmethod
    def _rules_on(connection) -> tuple[RiskPolicy, GateLimits]:
        return Orders._parse_rules(connection.execute(_LATEST_POLICY).first())

    @staticmethod
    def _parse_rules(row) -> tuple[RiskPolicy, GateLimits]:
        if row is None or row.policy is None:
            return parse_policy(DEFAULT_POLICY), GateLimits()
        return parse_policy(row.policy), parse_gate(row.gate)

    def _order_and_rules(self, order_id: str) -> tuple[Order, tuple[RiskPolicy, GateLimits]]:
        """One order and the rules in force, read in one statement (one round trip per decision)."""
        with self._reading() as connection:
            row = connection.execute(_ORDER_AND_RULES, {"order_id": order_id}).first()
        if row is None:
            raise BadInput(f"no order {order_id}")
        return _order(row), self._parse_rules(row)

    @staticmethod
    def _order_on(connection, order_id: str) -> Order:
        row = connection.execute(select(orders).where(orders.c.id == order_id)).first()
        if row is None:
            raise BadInput(f"no order {order_id}")
        return _order(row)

    def set_policy(self, policy: dict, gate: dict, actor: Actor, reason: str,
                   seen_revision: int | None = None) -> tuple[RiskPolicy, GateLimits, int]:
        """Replace the policy (admin only, validated strictly, audited with the diff). With ``seen_revision``
        (from ``policy_with_revision``), refused when someone changed the rules since: a form read before another
        admin's change (or a kill switch pulled meanwhile) never silently undoes it. Returns the rules saved and
        their revision."""
        actor.require("admin", "change the risk policy")
        reason = _required_reason(reason, "say why the risk policy changes (a reason is required)")
        with self.engine.begin() as connection:
            latest = connection.execute(_LATEST_POLICY.with_for_update()).first()
            if seen_revision is not None and (latest.id if latest is not None else 0) != seen_revision:
                raise Conflict(f"the risk policy was changed by {latest.actor} at {latest.created_at:%Y-%m-%d %H:%M} "
                               f"UTC ({latest.reason}) since you read it; nothing was saved: reload it and apply "
                               "your change again")
            old_policy, old_gate = self._parse_rules(latest)
            check_bounds(policy, gate, (old_policy, old_gate))
            new_policy, new_gate = parse_policy(policy), parse_gate(gate)
            revision = connection.execute(insert(risk_policies).values(
                policy=new_policy.model_dump(exclude_none=True), gate=new_gate.model_dump(), actor=actor.name,
                reason=reason, created_at=clock.now()).returning(risk_policies.c.id)).scalar_one()
            self._audit(connection, "risk-policy", actor.name, "policy_change", None, None, reason, details={
                "before": {"policy": old_policy.model_dump(exclude_none=True), "gate": old_gate.model_dump()},
                "after": {"policy": new_policy.model_dump(exclude_none=True), "gate": new_gate.model_dump()}})
        return new_policy, new_gate, revision

    def set_kill_switch(self, on: bool, actor: Actor, reason: str) -> RiskPolicy:
        """Trigger (halt every submission at once) or re-arm the kill switch; admin only, reason required."""
        actor.require("admin", "operate the kill switch")
        reason = _required_reason(reason, "say why the kill switch changes (a reason is required)")
        policy, gate, revision = self.policy_with_revision()
        document = policy.model_dump(exclude_none=True)
        document["killSwitch"] = {"enabled": True, "triggered": on, "triggeredAt": clock.now().isoformat(),
                                  "reason": reason} if on else {"enabled": True, "triggered": False}
        self.set_policy(document, gate.model_dump(), actor, f"kill switch {'ON' if on else 'OFF'}: {reason}",
                        seen_revision=revision)
        return parse_policy(document)

    @staticmethod
    def _approvals_needed(notional: float, gate: GateLimits) -> int:
        """Two different approvers above the four-eyes notional (unless an admin turned four eyes off)."""
        return 2 if gate.is_on("four eyes") and notional > gate.fourEyesNotionalUsd else 1

    def kill_switch_on(self) -> bool:
        """True while every submission is halted."""
        policy, _ = self.policy()
        return policy.killSwitch.enabled and policy.killSwitch.triggered

    # --- proposals ------------------------------------------------------------------------------------------
    def propose(self, run_id: str, proposals: Iterable[Proposal], actor: str = "agent-graph",
                dataset_versions: dict | None = None, checkpoint_id: str | None = None,
                source: str = "agent-graph") -> list[Order]:
        """Record proposed orders as pending approval (idempotent: re-proposing a proposal returns it), marked with
        their ``source`` (the agent graph, or the API client that proposed them)."""
        _policy, gate = self.policy()
        proposals = [self._in_lots(p, source) for p in proposals]  # asked before the transaction: it may call the venue
        now = clock.now()
        created = []
        with self.engine.begin() as connection:
            for proposal in proposals:
                if proposal.side not in ("buy", "sell") or proposal.quantity <= 0 or proposal.reference_price <= 0:
                    raise BadInput(f"proposal {proposal.proposal_id}: side must be buy/sell and quantity, "
                                   "price positive")
                key = client_order_id(run_id, proposal.proposal_id)
                existing = connection.execute(select(orders).where(orders.c.client_order_id == key)).first()
                if existing is not None:
                    created.append(_order(existing))
                    continue
                notional = round(proposal.quantity * (proposal.limit_price or proposal.reference_price), 2)
                values = {
                    "id": uuid.uuid4().hex[:16], "client_order_id": key, "run_id": run_id,
                    "proposal_id": proposal.proposal_id, "symbol": proposal.symbol,
                    "dataset_ref": proposal.dataset_ref, "side": proposal.side, "order_type": proposal.order_type,
                    "quantity": proposal.quantity, "limit_price": proposal.limit_price,
                    "reference_price": proposal.reference_price, "notional": notional,
                    "status": "pending_approval", "version": 1,
                    "approvals_needed": self._approvals_needed(notional, gate), "approved_by": [],
                    "checks": [c.as_dict() for c in proposal.checks], "context": proposal.context,
                    "proposed": {"quantity": proposal.quantity, "limit_price": proposal.limit_price,
                                 "order_type": proposal.order_type, "reference_price": proposal.reference_price},
                    "venue": self.venue.name, "filled_quantity": 0.0, "fee": 0.0, "submit_attempts": 0,
                    "created_at": now, "expires_at": now + timedelta(minutes=gate.proposalTtlMinutes),
                    "updated_at": now, "source": source, "time_in_force": proposal.time_in_force,
                }
                connection.execute(insert(orders).values(**values))
                self._audit(connection, values["id"], actor, "proposed", None, "pending_approval",
                            "proposed by the agent graph" if source == "agent-graph"
                            else f"entered by {actor}" if source == MANUAL else f"proposed by {source}",
                            run_id=run_id, checkpoint_id=checkpoint_id, dataset_versions=dataset_versions,
                            details={"notional": notional, "checks_pass": all(c.passed for c in proposal.checks),
                                     "source": source})
                created.append(_order(connection.execute(select(orders).where(orders.c.id == values["id"])).one()))
        return created

    def _in_lots(self, proposal: Proposal, source: str) -> Proposal:
        """``proposal`` with the venue's lot rule in its context; an API proposal is rounded down to a lot (the
        graph's optimizer and the manual ticket have sized it already: a whole position closes exactly), and
        BadInput when that leaves less than one lot."""
        if proposal.quantity <= 0:
            return proposal  # refused in propose with the other bad terms
        try:
            lot = self.venue.lot_size(proposal.symbol)
        except VenueError as error:
            return replace(proposal, context={**proposal.context, "lot": (
                f"lot size unknown ({self.venue.name} did not say: {error}); the venue checks the quantity")})
        quantity = proposal.quantity
        if source not in ("agent-graph", MANUAL):
            quantity = round_down_to_lot(quantity, lot)
        if quantity <= 0:
            raise BadInput(f"proposal {proposal.proposal_id}: {exact(proposal.quantity)} {proposal.symbol} is less "
                           f"than one lot ({exact(lot)}) on {self.venue.name}; nothing was recorded")
        whole = "" if self.venue.fractional else ", whole units only"
        note = f"in lots of {exact(lot)} {proposal.symbol} on {self.venue.name}{whole}; quantities are rounded down"
        if quantity != proposal.quantity:
            note += f" (from {exact(proposal.quantity)})"
        return replace(proposal, quantity=quantity, context={**proposal.context, "lot": note})

    # --- decisions ------------------------------------------------------------------------------------------
    def recheck(self, order: Order, quantity: float | None = None, limit_price: float | None = None,
                rules: tuple[RiskPolicy, GateLimits] | None = None, book: Book | None = None) -> list[Check]:
        """The risk checks for this order now (current book, policy, optional edited values).

        ``rules`` and ``book`` let a caller checking many orders at once read the policy and the venue once.
        """
        policy, gate = rules or self.policy()
        price = limit_price or order.limit_price or order.reference_price
        intent = OrderIntent(order.symbol, order.side, quantity or order.quantity, price)
        book = book or self.book()
        anomaly = set(book.critical_anomaly)
        if any(c.get("name") == "anomaly gate" and not c.get("passed") for c in order.checks):
            anomaly.add(order.symbol)  # the run that proposed it saw a critical anomaly; that stands
        book = Book(book.equity, book.position_value, book.submitted_today_usd + self._approved_notional(order.id),
                    book.pending_other_usd, book.daily_pnl_usd, frozenset(anomaly),
                    open_by_symbol({order.symbol: order.dataset_ref}), _seen_sentiment(order))
        return evaluate(intent, book, policy, gate)

    def drift_pct(self, order: Order) -> float | None:
        """Re-quote vs the proposal's reference price, in percent (None when no quote is available)."""
        now = self.quote(order.symbol, order.dataset_ref or None)
        if not now:
            return None
        return (now - order.reference_price) / order.reference_price * 100

    def approve(self, order_id: str, actor: Actor, reason: str = "", seen: Terms | None = None) -> Order:
        """Approve a pending order (approver role). Re-checks risk and drift first; four eyes above the limit.

        ``seen``: the version and terms the operator saw; anything else is refused with Stale, nothing done.
        """
        actor.require("approver", "approve orders")
        order, rules = self._order_and_rules(order_id)
        self._ensure_decidable(order, seen)
        own = own_order(order, actor)
        if own:
            raise Conflict(f"{own}; nothing was done")
        policy, gate = rules
        if policy.killSwitch.enabled and policy.killSwitch.triggered:
            raise Conflict("the kill switch is on: no order can be approved until an admin re-arms it")
        failing = [c for c in self.recheck(order, rules=rules) if not c.passed]
        if failing:
            raise Conflict("approval refused, a risk check fails: " + "; ".join(
                f"{c.name} {c.value} > {c.limit}" if isinstance(c.value, float) else f"{c.name}: {c.value}"
                for c in failing))
        drift = self.drift_pct(order)
        if gate.drift_blocks(drift):
            raise Conflict(f"approval refused: price drifted {drift:+.2f}% since the proposal "
                           f"(bound {gate.maxDriftPct}%); reject it or wait for a new proposal")
        if actor.name in order.approved_by:
            raise Conflict(f"{actor.name} already approved this order; a second, different approver is needed")
        approvers = [*order.approved_by, actor.name]
        target = "approved" if len(approvers) >= order.approvals_needed else "pending_approval"
        return self._move(order, target, actor.name, "approve" if target == "approved" else "first_approval",
                          reason or "approved", approved_by=approvers,
                          details={"drift_pct": drift, "approvers": approvers, "needed": order.approvals_needed})

    def reject(self, order_id: str, actor: Actor, reason: str, seen: Terms | None = None) -> Order:
        """Reject a pending order; a reason is required (``seen`` as for approve)."""
        actor.require("approver", "reject orders")
        reason = _required_reason(reason, "a reason is required to reject an order")
        order = self.get(order_id)
        self._ensure_decidable(order, seen)
        return self._move(order, "rejected", actor.name, "reject", reason)

    def cancel(self, order_id: str, actor: Actor, reason: str, seen: Terms | None = None) -> Order:
        """Cancel an order that is not final (approver role, reason required, audited with who and why).

        Pending and approved orders end at once; one open at the venue is cancelled there (``venue.cancel``) and
        the venue's answer is recorded, so an order that filled first ends filled: Conflict says so after the fill
        is recorded. An order being sent (``submitting``, ``unknown``) waits for the venue's word; a final one is
        refused. VenueUnavailable leaves everything as it was.
        """
        actor.require("approver", "cancel orders")
        reason = _required_reason(reason, "say why the order is cancelled (a reason is required); nothing was done")
        order = self.get(order_id)
        ensure_seen(seen, order, order.status)
        if order.status in ("pending_approval", "approved"):
            return self._move(order, "cancelled", actor.name, "cancel", reason)
        if order.status in ("submitting", "unknown"):
            raise Conflict(f"order {order.id} is {order.status}: {self.venue.name} has not yet said whether it "
                           "holds it; cancel it once it has answered (nothing was done)")
        if order.status not in OPEN_AT_VENUE:
            raise Conflict(f"order {order.id} is already {order.status}: there is nothing to cancel")
        try:
            answer = self.venue.cancel(order.client_order_id)
        except VenueRejected as error:  # e.g. it filled between our look and the cancel: the venue's view decides
            answer = self.venue.lookup(order.client_order_id, order.venue_order_id)
            if answer is None or answer.is_open:
                raise Conflict(f"{self.venue.name} refused to cancel order {order.id}: {error}; nothing was "
                               "changed") from None
        settled = self._record_cancel(order, answer, actor.name, reason)
        if settled.status in OPEN_AT_VENUE:
            raise Conflict(f"{self.venue.name} has not cancelled order {order.id} yet (it says {settled.status}); "
                           "ask again in a moment")
        if settled.status != "cancelled":
            raise Conflict(f"order {order.id} is {settled.status} at {self.venue.name}: it filled before the cancel "
                           f"reached the venue ({exact(settled.filled_quantity)} at "
                           f"{exact(settled.average_price or 0)}); the fill is recorded, nothing was cancelled")
        return settled

    def _record_cancel(self, order: Order, answer: VenueOrder, actor: str, reason: str) -> Order:
        """The venue's answer to a cancel, recorded over whatever reconciliation wrote meanwhile."""
        for _ in range(3):
            try:
                return self._apply_venue(order, answer, actor, "cancel", f"cancel asked by {actor}: {reason}")
            except Conflict:
                order = self.get(order.id)  # moved meanwhile (a fill reconciled): apply the answer to it
                if order.status in TERMINAL:
                    return order
        return order

    def edit(self, order_id: str, actor: Actor, quantity: float | str | None = None,
             limit_price: float | str | None = None, reason: str = "", seen: Terms | None = None) -> Order:
        """Lower the quantity and/or set a limit price; re-checked by the risk gate, stored as a diff.

        Text, NaN or infinity for either number is refused with BadInput (``seen`` as for approve).
        """
        actor.require("approver", "edit orders")
        asked_quantity = finite_number(quantity, "quantity", allow_none=True)
        limit_price = finite_number(limit_price, "limit price", allow_none=True)
        order = self.get(order_id)
        self._ensure_decidable(order, seen)
        new_quantity = order.quantity if asked_quantity is None else asked_quantity
        if not 0 < new_quantity <= order.quantity:
            raise BadInput(f"the quantity can only go down, to more than 0 (now {exact(order.quantity)}); "
                           "nothing was changed")
        if limit_price is not None and limit_price <= 0:
            raise BadInput("a limit price must be positive")
        checks = self.recheck(order, new_quantity, limit_price)
        diff = {}
        if new_quantity != order.quantity:
            diff["quantity"] = [order.quantity, new_quantity]
        if limit_price is not None and limit_price != order.limit_price:
            diff["limit_price"] = [order.limit_price, limit_price]
            diff["order_type"] = [order.order_type, "limit"]
        if not diff:
            raise BadInput("nothing changed: give a lower quantity or a limit price")
        price = limit_price or order.limit_price or order.reference_price
        return self._move(
            order, "pending_approval", actor.name, "edit", reason or "edited", details={"diff": diff},
            quantity=new_quantity, limit_price=limit_price if limit_price is not None else order.limit_price,
            order_type="limit" if limit_price is not None else order.order_type,
            notional=round(new_quantity * price, 2), checks=[c.as_dict() for c in checks], approved_by=[])

    def expire_due(self) -> int:
        """Close pending proposals whose time ran out as expired; return how many."""
        with self.engine.connect() as connection:
            due = [_order(r) for r in connection.execute(select(orders).where(
                orders.c.status == "pending_approval", orders.c.expires_at < clock.now()))]
        expired = 0
        for order in due:
            try:
                self._move(order, "expired", "system", "expire", "no decision before the proposal expired")
                expired += 1
            except Conflict:
                pass  # decided meanwhile
        return expired

    def _ensure_decidable(self, order: Order, seen: Terms | None) -> None:
        ensure_seen(seen, order, order.status)
        if order.status != "pending_approval":
            raise Conflict(f"order {order.id} is already {order.status}")
        if order.seconds_left <= 0:
            with contextlib.suppress(Conflict):
                self._move(order, "expired", "system", "expire", "no decision before the proposal expired")
            raise Conflict(f"order {order.id} expired before it was decided")

    # --- submission -----------------------------------------------------------------------------------------
    def submit(self, order_id: str, actor: str = "executor") -> Order:
        """Send one approved order to the venue exactly once (safe to call repeatedly and concurrently)."""
        order, (policy, _gate) = self._order_and_rules(order_id)
        if policy.killSwitch.enabled and policy.killSwitch.triggered:
            return order
        if order.status != "approved":
            return order
        if order.next_attempt_at is not None and order.next_attempt_at > clock.now():
            return order
        try:
            order = self._move(order, "submitting", actor, "submit", f"sending to {self.venue.name}",
                               submit_attempts=order.submit_attempts + 1)
        except Conflict:
            return self.get(order_id)  # another executor took it
        return self._send(order, actor)

    @staticmethod
    def _request(order: Order) -> VenueOrderRequest:
        return VenueOrderRequest(
            client_order_id=order.client_order_id, symbol=order.symbol, side=order.side, type=order.order_type,
            quantity=order.quantity, limit_price=order.limit_price, reference_price=order.reference_price,
            dataset_ref=order.dataset_ref, time_in_force=order.time_in_force)

    def _send(self, order: Order, actor: str) -> Order:
        request = self._request(order)
        try:
            found = (self.venue.lookup(order.client_order_id, order.venue_order_id) if order.submit_attempts > 1
                     else None)
            result = found or self.venue.submit(request)
        except VenueUnavailable as error:
            return self._retry_later(order, actor, str(error))
        except VenueRejected as error:
            return self._move(order, "failed", actor, "venue_rejected", str(error), last_error=str(error))
        except NexusError as error:
            return self._move(order, "failed", actor, "venue_error", str(error), last_error=str(error))
        return self._apply_venue(order, result, actor)

    def _retry_later(self, order: Order, actor: str, problem: str) -> Order:
        if order.submit_attempts >= MAX_SUBMIT_ATTEMPTS:
            return self._move(order, "unknown", actor, "give_up", f"{problem}; stopped sending after "
                              f"{order.submit_attempts} attempts; whether {self.venue.name} holds it is unknown "
                              "until it answers, and reconciliation keeps asking", last_error=problem)
        delay = min(2 ** order.submit_attempts, 300)
        return self._move(order, "approved", actor, "venue_unavailable",
                          f"{problem}; still approved, next attempt in {delay} s", last_error=problem,
                          next_attempt_at=clock.now() + timedelta(seconds=delay))

    def _apply_venue(self, order: Order, result: VenueOrder, actor: str, action: str = "venue_update",
                     reason: str = "") -> Order:
        target = result.status if result.status in TRANSITIONS else "failed"
        if target == "rejected":
            target = "failed"
        changes = {"venue_order_id": result.venue_order_id, "filled_quantity": result.filled_quantity,
                   "average_price": result.average_price, "fee": result.fee or 0.0}
        if target == order.status and order.filled_quantity == result.filled_quantity:
            return order
        if target == order.status and target != "partially_filled":
            return order
        says = f"venue says {result.raw_status or result.status}"
        return self._move(order, target, actor, action, f"{reason}; {says}" if reason else says,
                          venue_order_id=result.venue_order_id, details={"raw_status": result.raw_status},
                          **{k: v for k, v in changes.items() if k != "venue_order_id"})

    def submit_approved(self, run_id: str | None = None, actor: str = "executor") -> list[Order]:
        """Submit every approved order (of one run, or all) whose next attempt is due."""
        query = select(orders.c.id).where(orders.c.status == "approved")
        if run_id:
            query = query.where(orders.c.run_id == run_id)
        with self.engine.connect() as connection:
            ids = [r.id for r in connection.execute(query.order_by(orders.c.created_at))]
        return [self.submit(order_id, actor) for order_id in ids]

    def reconcile(self, actor: str = "reconciler") -> int:
        """Ask the venue about orders whose create may have reached it (left submitting by a crash, or unknown
        after the console stopped sending) and open ones; return the changes made.

        Orders are asked about with ``venue.recover`` (Live Engine: the keyed create replayed; others: a lookup by
        client order id). While the kill switch is on, only a lookup that cannot place anything is made, and an
        order the lookup does not find is left as it is.
        """
        stale = clock.now() - timedelta(seconds=RECONCILE_AFTER_S)
        with self.engine.connect() as connection:
            rows = [_order(r) for r in connection.execute(select(orders).where(
                ((orders.c.status == "submitting") & (orders.c.updated_at < stale))
                | orders.c.status.in_(("unknown", *OPEN_AT_VENUE))))]
        halted = self.kill_switch_on()
        changed = 0
        for order in rows:
            asks = order.status in ("submitting", "unknown") and not halted
            try:
                found = (self.venue.recover(self._request(order)) if asks
                         else self.venue.lookup(order.client_order_id, order.venue_order_id))
            except NexusError:
                continue  # the venue cannot answer now: ask again on the next pass
            try:
                if found is not None:
                    updated = self._apply_venue(order, found, actor)
                elif asks:
                    updated = self._never_received(order, actor)
                else:
                    continue
            except Conflict:
                continue
            changed += updated.version != order.version
        return changed

    def _never_received(self, order: Order, actor: str) -> Order:
        """The venue said it has no order under this client order id: send it again, or, once the console has
        stopped sending, record that nothing was placed."""
        if order.status == "submitting":
            return self._move(order, "approved", actor, "reconcile",
                              f"{self.venue.name} says it never received it; it will be sent again")
        return self._move(order, "failed", actor, "reconcile", f"{self.venue.name} says it never received it; "
                          f"nothing was placed (the console stopped sending after {order.submit_attempts} attempts)")

    # --- reads ----------------------------------------------------------------------------------------------
    def get(self, order_id: str) -> Order:
        """One order; BadInput when unknown."""
        with self._reading() as connection:
            return self._order_on(connection, order_id)

    def list(self, status: str | Iterable[str] | None = None, run_id: str | None = None,
             symbol: str | None = None, limit: int = 500) -> list[Order]:
        """Orders, newest first, optionally filtered."""
        query = select(orders).order_by(orders.c.created_at.desc()).limit(limit)
        if isinstance(status, str):
            query = query.where(orders.c.status == status)
        elif status:
            query = query.where(orders.c.status.in_(list(status)))
        if run_id:
            query = query.where(orders.c.run_id == run_id)
        if symbol:
            query = query.where(orders.c.symbol == symbol)
        with self.engine.connect() as connection:
            return [_order(r) for r in connection.execute(query)]

    def pending_summary(self) -> tuple[int, float | None]:
        """How many orders wait for a decision, and the age in seconds of the oldest."""
        with self.engine.connect() as connection:
            count, oldest = connection.execute(select(func.count(), func.min(orders.c.created_at)).where(
                orders.c.status == "pending_approval")).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=clock.now().tzinfo)
        return count, None if oldest is None else (clock.now() - oldest).total_seconds()

    def audit(self, subject: str | None = None, actor: str | None = None, action: str | None = None,
              limit: int = 1000) -> list[AuditEntry]:
        """Audit rows, newest first, optionally filtered."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if subject:
            query = query.where(audit_log.c.subject == subject)
        if actor:
            query = query.where(audit_log.c.actor == normalise_identity(actor))
        if action:
            query = query.where(audit_log.c.action == action)
        with self.engine.connect() as connection:
            return [AuditEntry(**r._mapping) for r in connection.execute(query)]

    def submitted_notional_since(self, since: datetime) -> float:
        """Notional of orders sent to the venue since ``since`` (daily cap)."""
        with self._reading() as connection:
            value = connection.execute(select(func.coalesce(func.sum(orders.c.notional), 0.0)).where(
                orders.c.status.in_(MAYBE_AT_VENUE),
                orders.c.updated_at >= since)).scalar()
        return float(value or 0.0)

    def _approved_notional(self, exclude_id: str) -> float:
        with self._reading() as connection:
            value = connection.execute(select(func.coalesce(func.sum(orders.c.notional), 0.0)).where(
                orders.c.status == "approved", orders.c.id != exclude_id)).scalar()
        return float(value or 0.0)

    # --- the one way a row changes --------------------------------------------------------------------------
    def _move(self, order: Order, target: str, actor: str, action: str, reason: str,
              details: dict | None = None, venue_order_id: str | None = None, **changes) -> Order:
        """Compare-and-set ``order`` (status and version as read) to ``target`` plus its audit row, in one
        transaction; Conflict when someone else changed it first."""
        if target != order.status:  # same-state moves record a change within a state (an edit, a fill)
            check_transition(order.status, target)
        now = clock.now()
        values = {"status": target, "version": order.version + 1, "updated_at": now, **changes}
        if venue_order_id:
            values["venue_order_id"] = venue_order_id
        audit = audit_values(order.id, actor, action, order.status, target, reason, run_id=order.run_id,
                             venue_order_id=venue_order_id or order.venue_order_id, details=details or {})
        cas = {"cas_id": order.id, "cas_status": order.status, "cas_version": order.version}
        if self.engine.dialect.name == "postgresql":
            # the compare-and-set and its audit row as one statement in autocommit: one round trip, one
            # transaction (a data-modifying CTE: the audit INSERT sees only the row the UPDATE changed)
            bound = audit_params(audit)
            statement = _logged_move(tuple(values), tuple(k.removeprefix("audit_") for k in bound))
            with self._reading() as connection:
                row = connection.execute(statement, {**cas, **_move_params(values), **bound}).first()
        else:
            with self.engine.begin() as connection:
                row = connection.execute(_move_statement(tuple(values)), {**cas, **_move_params(values)}).first()
                if row is not None:
                    connection.execute(insert(audit_log).values(**audit))
        if row is None:
            with self._reading() as connection:
                current = connection.execute(select(orders.c.status).where(orders.c.id == order.id)).scalar()
            raise Conflict(f"order {order.id} was changed by someone else (now {current}); nothing was done")
        return _order(row)

    _audit = staticmethod(write_audit)


def _required_reason(reason: object, refusal: str) -> str:
    """``reason`` stripped; BadInput(``refusal``) when it is not text or blank (every decision says why)."""
    if not isinstance(reason, str) or not reason.strip():
        raise BadInput(refusal)
    return reason.strip()


def own_order(order: Order, actor: Actor) -> str:
    """Why ``actor`` may not approve ``order`` because they entered it by hand ('' when they may): four eyes
    always hold for manual orders (``Orders.approve`` refuses, the inbox disables its button with this)."""
    if order.source == MANUAL and actor.name == order.entered_by:
        hint = (f"; with no sign-in (local mode) approve it as another person from the CLI: `nexus orders approve "
                f"{order.id} --as NAME`") if actor.name == LOCAL_OPERATOR else ""
        return f"{actor.name} entered this order: four eyes, another approver must approve it{hint}"
    return ""


def _seen_sentiment(order: Order) -> dict[str, float]:
    """The news sentiment the proposing run saw for the order's symbol (it stands, like its anomaly gate)."""
    seen = next((c.get("value") for c in order.checks if c.get("name") == "sentiment shock"), None)
    return {order.symbol: float(seen)} if isinstance(seen, int | float) and not isinstance(seen, bool) else {}


#: the risk policy row in force (none: the defaults)
_LATEST_POLICY = select(risk_policies).order_by(risk_policies.c.id.desc()).limit(1)
_LATEST_RULES = _LATEST_POLICY.subquery()
#: an order and the risk policy in force beside it (NULLs until an admin sets one)
_ORDER_AND_RULES = select(orders, _LATEST_RULES.c.policy, _LATEST_RULES.c.gate).outerjoin(
    _LATEST_RULES, true()).where(orders.c.id == bindparam("order_id"))


@functools.cache
def _move_statement(columns: tuple[str, ...]) -> Update:
    """The compare-and-set of ``_move`` setting ``columns`` (bound as ``set_<column>``), returning the new row;
    built once per set of columns (building it costs more than running it)."""
    return update(orders).where(
        orders.c.id == bindparam("cas_id"), orders.c.status == bindparam("cas_status"),
        orders.c.version == bindparam("cas_version"),
    ).values({c: bindparam(f"set_{c}", type_=orders.c[c].type) for c in columns}).returning(*orders.c)


@functools.cache
def _logged_move(columns: tuple[str, ...], audit_columns: tuple[str, ...]) -> Select:
    """``_move_statement`` and its audit row in one statement (PostgreSQL)."""
    moved = _move_statement(columns).cte("moved")
    return select(moved).add_cte(audit_for_each(select(moved.c.id), audit_columns).cte("logged"))


def _move_params(values: dict) -> dict:
    return {f"set_{k}": v for k, v in values.items()}
