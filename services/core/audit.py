"""The append-only audit log: every decision and state change with who, when and why (the database refuses
UPDATE and DELETE on it). Orders, the risk policy, the kill switch and access tokens all write through here."""

from __future__ import annotations

from sqlalchemy import Connection, Insert, Select, bindparam, insert, select

from services.core import clock
from services.core.records import audit_log


def audit_values(subject: str, actor: str, action: str, from_status: str | None, to_status: str | None,
                 reason: str, run_id: str = "", checkpoint_id: str | None = None,
                 dataset_versions: dict | None = None, venue_order_id: str | None = None,
                 details: dict | None = None) -> dict:
    """The column values of one audit row, stamped now."""
    return {"subject": subject, "run_id": run_id, "actor": actor, "at": clock.now(), "action": action,
            "from_status": from_status, "to_status": to_status, "reason": reason, "checkpoint_id": checkpoint_id,
            "dataset_versions": dataset_versions, "venue_order_id": venue_order_id, "details": details or {}}


def write_audit(connection: Connection, subject: str, actor: str, action: str, from_status: str | None,
                to_status: str | None, reason: str, run_id: str = "", checkpoint_id: str | None = None,
                dataset_versions: dict | None = None, venue_order_id: str | None = None,
                details: dict | None = None) -> None:
    """Append one audit row inside the caller's transaction (so the change and its record commit together)."""
    connection.execute(insert(audit_log).values(**audit_values(
        subject, actor, action, from_status, to_status, reason, run_id, checkpoint_id, dataset_versions,
        venue_order_id, details)))


def audit_for_each(rows: Select, columns: tuple[str, ...]) -> Insert:
    """An INSERT of one audit row per row of ``rows`` (none when ``rows`` is empty), its ``columns`` bound as
    ``audit_<column>`` (see ``audit_params``): with a data-modifying CTE on PostgreSQL, a change and its audit
    row become one statement, one round trip, one transaction."""
    return insert(audit_log).from_select(list(columns), select(
        *(bindparam(f"audit_{c}", type_=audit_log.c[c].type) for c in columns)).select_from(rows.subquery()))


def audit_params(values: dict) -> dict:
    """The bound values of ``audit_for_each`` for the audit row ``values``: columns left NULL are not named, so
    they stay SQL NULL (not JSON null)."""
    return {f"audit_{k}": v for k, v in values.items() if v is not None}
