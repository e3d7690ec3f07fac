"""The append-only audit log: every decision and state change with who, when and why (the database refuses
UPDATE and DELETE on it). Orders, the risk policy, the kill switch and access tokens all write through here."""

from __future__ import annotations

from sqlalchemy import Connection, insert

from services.core import clock
from services.core.records import audit_log


def write_audit(connection: Connection, subject: str, actor: str, action: str, from_status: str | None,
                to_status: str | None, reason: str, run_id: str = "", checkpoint_id: str | None = None,
                dataset_versions: dict | None = None, venue_order_id: str | None = None,
                details: dict | None = None) -> None:
    """Append one audit row inside the caller's transaction (so the change and its record commit together)."""
    connection.execute(insert(audit_log).values(
        subject=subject, run_id=run_id, actor=actor, at=clock.now(), action=action, from_status=from_status,
        to_status=to_status, reason=reason, checkpoint_id=checkpoint_id, dataset_versions=dataset_versions,
        venue_order_id=venue_order_id, details=details or {}))
