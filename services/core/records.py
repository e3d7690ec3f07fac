"""Every table of the records database, on the one ``metadata`` Alembic migrates."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from services.core.db import JsonDoc, UtcDateTime, metadata

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

orders = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("client_order_id", String(32), nullable=False, unique=True),  # idempotency key at the venue
    Column("run_id", String(64), nullable=False),
    Column("proposal_id", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("dataset_ref", String(120), nullable=False, default=""),
    Column("side", String(4), nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("limit_price", Float),
    Column("reference_price", Float, nullable=False),
    Column("notional", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("approvals_needed", Integer, nullable=False, default=1),
    Column("approved_by", JsonDoc, nullable=False, default=list),
    Column("checks", JsonDoc, nullable=False, default=list),
    Column("context", JsonDoc, nullable=False, default=dict),  # forecast, anomalies, weights, rationale, trace link
    Column("proposed", JsonDoc, nullable=False, default=dict),  # the order as the agent proposed it
    Column("venue", String(20), nullable=False, default=""),
    Column("venue_order_id", String(64)),
    Column("filled_quantity", Float, nullable=False, default=0.0),
    Column("average_price", Float),
    Column("fee", Float, nullable=False, default=0.0),
    Column("submit_attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime()),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_orders_status", "status"),
    Index("ix_orders_run", "run_id"),
)

audit_log = Table(  # append-only: every decision and state change, with who, when and why
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(64), nullable=False),  # an order id, "risk-policy" or "kill-switch"
    Column("run_id", String(64), nullable=False, default=""),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(40), nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("reason", Text, nullable=False, default=""),
    Column("checkpoint_id", String(64)),
    Column("dataset_versions", JsonDoc),
    Column("venue_order_id", String(64)),
    Column("details", JsonDoc, nullable=False, default=dict),
    Index("ix_audit_log_subject", "subject"),
    Index("ix_audit_log_at", "at"),
)

risk_policies = Table(
    "risk_policies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy", JsonDoc, nullable=False),
    Column("gate", JsonDoc, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# --- paper venue: the embedded simulated account (services.trading.execution.paper) -----------------------------
paper_accounts = Table(
    "paper_accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("cash", Float, nullable=False),
    Column("initial_cash", Float, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

paper_orders = Table(
    "paper_orders",
    metadata,
    Column("id", String(40), primary_key=True),  # the venue order id
    Column("account_id", String(40), ForeignKey("paper_accounts.id"), nullable=False),
    Column("client_order_id", String(32), nullable=False, unique=True),  # the idempotency key
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),  # buy sell
    Column("type", String(6), nullable=False),  # market limit
    Column("quantity", Float, nullable=False),
    Column("limit_price", Float),
    Column("reference_price", Float),
    Column("dataset_ref", String(120)),  # the dataset the order is priced from (fills of a resting limit order)
    Column("status", String(20), nullable=False),  # submitted filled cancelled
    Column("filled_quantity", Float, nullable=False, default=0.0),
    Column("average_price", Float),
    Column("fee", Float, nullable=False, default=0.0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_paper_orders_account_status", "account_id", "status"),
)

paper_fills = Table(
    "paper_fills",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", String(40), ForeignKey("paper_orders.id"), nullable=False, index=True),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("quote", Float, nullable=False),  # the market price the fill was made against
    Column("price", Float, nullable=False),  # after slippage (and capped at the limit)
    Column("fee", Float, nullable=False),
    Column("realized_pnl", Float, nullable=False),  # of a sell, against the average price; 0 for a buy
    Column("filled_at", UtcDateTime(), nullable=False),
)

paper_positions = Table(
    "paper_positions",
    metadata,
    Column("account_id", String(40), ForeignKey("paper_accounts.id"), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("quantity", Float, nullable=False),  # 0 once closed; the row keeps the realized P&L
    Column("avg_price", Float, nullable=False),
    Column("realized_pnl", Float, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
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

# --- the agent graph: one row per run, written as the graph streams (services.agents.runs) ----------------
graph_runs = Table(
    "graph_runs",
    metadata,
    Column("id", String(64), primary_key=True),  # a UUID: the LangGraph thread id and the LangSmith root run id
    Column("status", String(24), nullable=False),  # queued running awaiting_approval completed failed cancelled
    Column("actor", String(200), nullable=False),
    Column("params", JsonDoc, nullable=False, default=dict),  # horizon, lookback, window, llm
    Column("universe", JsonDoc, nullable=False, default=list),  # dataset refs
    Column("dataset_versions", JsonDoc, nullable=False, default=dict),  # ref -> manifest ETag
    Column("steps", JsonDoc, nullable=False, default=dict),  # node -> {status, started_at, seconds, message}
    Column("results", JsonDoc, nullable=False, default=dict),  # node -> what it computed
    Column("rationale", JsonDoc, nullable=False, default=dict),  # node -> {summary, llm, note}
    Column("llm_usage", JsonDoc, nullable=False, default=dict),  # calls, input/output/total tokens, model
    Column("traces", JsonDoc, nullable=False, default=list),  # [{run_id, url, segment}] one per graph invocation
    Column("trace_url", Text),
    Column("outcome", Text),  # the final word of a finished run
    Column("error", Text),
    Column("job_id", String(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Index("ix_graph_runs_created", "created_at"),
    Index("ix_graph_runs_status", "status"),
)


# --- access tokens: personal credentials of the CLI (production) and the HTTP API (services.core.tokens) ---------
access_tokens = Table(
    "access_tokens",
    metadata,
    Column("id", String(16), primary_key=True),  # public part of the token (tnx_<id>_<secret>)
    Column("owner", String(200), nullable=False),  # normalised e-mail of the person it acts for
    Column("label", String(200), nullable=False, default=""),
    Column("roles", JsonDoc, nullable=False),
    Column("scopes", JsonDoc, nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),  # SHA-256 of the whole token; never the token
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("revoked_by", String(200)),
    Index("ix_access_tokens_owner", "owner"),
)


# --- shared by every replica: secrets obtained at run time, and leases that elect one worker for a chore ----------
runtime_secrets = Table(  # services.core.secrets: each value encrypted with NEXUS_SECRETS_KEY, never in clear
    "runtime_secrets",
    metadata,
    Column("name", String(80), primary_key=True),  # e.g. lona_agent_token
    Column("ciphertext", Text, nullable=False),  # Fernet token (AES-128-CBC + HMAC-SHA256)
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

leases = Table(  # services.core.leases: one holder at a time until expires_at; renewed while the holder lives
    "leases",
    metadata,
    Column("name", String(80), primary_key=True),  # e.g. upkeep
    Column("holder", String(80), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
