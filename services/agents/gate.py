"""The risk gate step: every deterministic check on every proposed order, as if the earlier ones were filled."""

from __future__ import annotations

from dataclasses import replace

from services.trading.risk import Book, GateLimits, OrderIntent, RiskPolicy, evaluate


def check_orders(orders: list[dict], book: Book, policy: RiskPolicy, gate: GateLimits,
                 excluded: set[str]) -> list[dict]:
    """Each order with its checks (name, passed, value, limit, detail) and whether all pass.

    Orders are checked in turn against the book the earlier ones would leave (positions and the day's
    notional grow), so a run cannot slip past the caps by splitting its buying into several orders.
    """
    book = replace(book, critical_anomaly=frozenset(book.critical_anomaly | excluded))
    checked = []
    for order in orders:
        price = order.get("limit_price") or order["reference_price"]
        intent = OrderIntent(order["symbol"], order["side"], order["quantity"], price)
        checks = evaluate(intent, book, policy, gate)
        checked.append({**order, "checks": [c.as_dict() for c in checks], "passed": all(c.passed for c in checks)})
        notional = order["quantity"] * price
        signed = notional if order["side"] == "buy" else -notional
        positions = {**book.position_value, order["symbol"]: book.position_value.get(order["symbol"], 0.0) + signed}
        book = replace(book, position_value=positions, pending_other_usd=book.pending_other_usd + notional)
    return checked
