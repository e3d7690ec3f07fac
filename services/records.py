"""Every table of the records database, on the one ``metadata`` Alembic migrates."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text

from services.db import JsonDoc, UtcDateTime, metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("status", String(20), nullable=False),  # queued running succeeded failed cancelled
    Column("title", String(200), nullable=False, default=""),
    Column("actor", String(200), nullable=False),
    Column("params", JsonDoc, nullable=False, default=dict),
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", Text, nullable=False, default=""),
    Column("metrics", JsonDoc, nullable=False, default=dict),
    Column("result", JsonDoc),
    Column("error", Text),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("heartbeat_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Index("ix_jobs_status_created", "status", "created_at"),
    Index("ix_jobs_kind_created", "kind", "created_at"),
)
