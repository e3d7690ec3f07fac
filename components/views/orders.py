"""Tables of orders, positions and the audit log for the pages and exports (no Streamlit)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pandas as pd

from services.trading.execution.base import Account
from services.trading.orders import AuditEntry, Order
from services.trading.terms import Terms

SENT_FIELDS = ("quantity", "limit_price", "order_type")


def orders_frame(orders: list[Order]) -> pd.DataFrame:
    """One row per order, lifecycle and fills."""
    return pd.DataFrame([{
        "id": o.id, "created": o.created_at, "symbol": o.symbol, "side": o.side, "type": o.order_type,
        "quantity": o.quantity, "limit": o.limit_price, "reference": o.reference_price, "notional": o.notional,
        "status": o.status, "filled": o.filled_quantity, "avg price": o.average_price, "fee": o.fee,
        "venue": o.venue, "venue order id": o.venue_order_id, "run": o.run_id, "updated": o.updated_at,
    } for o in orders])


def proposal_diff(order: Order) -> pd.DataFrame:
    """What the agent proposed next to what was (or will be) sent."""
    rows = [{"field": name, "proposed": order.proposed.get(name), "sent": getattr(order, name)}
            for name in SENT_FIELDS]
    for row in rows:
        row["changed"] = row["proposed"] != row["sent"]
    return pd.DataFrame(rows).astype({"proposed": str, "sent": str})


def audit_frame(entries: list[AuditEntry]) -> pd.DataFrame:
    """The audit log as a table (details as JSON text)."""
    rows = []
    for entry in entries:
        row = asdict(entry)
        row["details"] = json.dumps(row["details"], default=str, sort_keys=True)
        row["dataset_versions"] = json.dumps(row["dataset_versions"], default=str) if row["dataset_versions"] else ""
        rows.append(row)
    return pd.DataFrame(rows)


def audit_export(entries: list[AuditEntry], fmt: str) -> bytes:
    """The audit log as CSV or JSON bytes for a download."""
    if fmt == "json":
        return json.dumps([asdict(e) for e in entries], default=str, indent=1).encode()
    return audit_frame(entries).to_csv(index=False).encode()


def positions_frame(account: Account) -> pd.DataFrame:
    """Positions with market value and unrealized P&L."""
    return pd.DataFrame([{
        "symbol": p.symbol, "quantity": p.quantity, "avg price": p.avg_price, "price": p.current_price,
        "market value": p.quantity * p.current_price, "unrealized P&L": p.unrealized_pnl,
    } for p in account.positions])


def ticket_symbols(catalog: list[str], account: Account | None) -> list[str]:
    """The symbols a ticket offers: every symbol of the catalog and every one the venue holds, once, sorted."""
    held = [p.symbol for p in account.positions] if account is not None else []
    return sorted({*catalog, *held})


def filed_text(order: Order) -> str:
    """What the ticket says once it filed a manual order."""
    failing = [c["name"] for c in order.checks if not c["passed"]]
    text = (f"Order {order.id} entered: {Terms.of(order).describe()}. It waits in Approvals for an approver other "
            f"than {order.entered_by}.")
    return text + (f" A risk check fails now ({', '.join(failing)}): it cannot be approved until it passes."
                   if failing else "")


def origin_text(order: Order) -> str:
    """Who proposed the order: the agent graph, an API client, or the person who entered it by hand."""
    if order.entered_by:
        return f"manual, entered by {order.entered_by}"
    return "the agent graph" if order.source == "agent-graph" else f"{order.source} (API)"
