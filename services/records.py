"""Every table of the records database, on the one ``metadata`` Alembic migrates."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Float, Index, Integer, String, Table, Text, UniqueConstraint

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

# Lona: which of our data versions became which Lona symbol, and what we submitted and ran there
lona_symbols = Table(
    "lona_symbols",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(100), nullable=False),  # Lona symbols are private to one Lona user
    Column("dataset_ref", String(120), nullable=False),
    Column("dataset_version", String(200), nullable=False),  # ETag of the dataset's manifest
    Column("first_ts", BigInteger, nullable=False),  # candles uploaded: first and last open time (Unix ms)
    Column("last_ts", BigInteger, nullable=False),
    Column("candles", Integer, nullable=False),
    Column("symbol_id", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("agent_id", "dataset_ref", "dataset_version", "first_ts", "last_ts", name="uq_lona_symbols_data"),
    Index("ix_lona_symbols_symbol_id", "symbol_id"),
)

lona_strategies = Table(
    "lona_strategies",
    metadata,
    Column("id", String(100), primary_key=True),  # Lona's strategy id
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("origin", String(20), nullable=False),  # generated | uploaded
    Column("provider", String(40)),
    Column("model", String(100)),
    Column("actor", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_lona_strategies_created", "created_at"),
)

lona_backtests = Table(
    "lona_backtests",
    metadata,
    Column("report_id", String(100), primary_key=True),
    Column("strategy_id", String(100), nullable=False),
    Column("symbol_ids", JsonDoc, nullable=False, default=list),
    Column("datasets", JsonDoc, nullable=False, default=list),  # [{ref, version, first_ts, last_ts}] when ours
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("initial_cash", Float, nullable=False),
    Column("commission", Float, nullable=False),
    Column("status", String(20), nullable=False),  # Lona's: PENDING EXECUTING PROCESSING COMPLETED FAILED
    Column("progress", Float),
    Column("total_stats", JsonDoc),
    Column("full_report", JsonDoc),
    Column("error", Text),
    Column("category", String(30)),  # TIMEOUT_ERROR DATA_ERROR CODE_ERROR EXECUTION_ERROR
    Column("stderr", Text),  # the runner's output snippet of a failed run
    Column("actor", String(200), nullable=False),
    Column("job_id", String(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_lona_backtests_created", "created_at"),
    Index("ix_lona_backtests_strategy", "strategy_id"),
)
