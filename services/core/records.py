"""Every table of the records database, on the one ``metadata`` Alembic migrates."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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

from services.core.db import EmbeddingVector, JsonDoc, UtcDateTime, metadata

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
    Column("source", String(64), nullable=False, server_default="agent-graph"),  # who proposed it (graph or API client)
    Column("time_in_force", String(8)),  # day / gtc on a venue that takes one (manual tickets); None: the venue's
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


# --- the knowledge base (services.knowledge): upstream's kb_* tables, plus one embedding per item --------------
def _kb_item(name: str, *columns, indexes: tuple = ()) -> Table:
    """A kb_* table: uuid id, the columns of upstream's schema, the SHA-256 of its source payload, schema_version."""
    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),
        *columns,
        # where the item came from (e.g. "backtest:<report id>", "order:<id>"): one item per source
        Column("source_key", String(200), nullable=False, unique=True),
        Column("fingerprint", String(64), nullable=False),  # SHA-256 of the source payload: unchanged → no write
        Column("schema_version", String(8), nullable=False, default="1.0"),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
        *indexes,
    )


kb_patterns = _kb_item(
    "kb_patterns",
    Column("name", String(200), nullable=False),
    Column("pattern_type", String(40), nullable=False),
    Column("description", Text, nullable=False),
    Column("suitable_regimes", JsonDoc, nullable=False, default=list),
    Column("assets", JsonDoc, nullable=False, default=list),
    Column("timeframes", JsonDoc, nullable=False, default=list),
    Column("confidence_score", Float, CheckConstraint("confidence_score >= 0 AND confidence_score <= 1"),
           nullable=False),
    Column("source_ref", String(200), nullable=False, default=""),
    Column("created_by", String(200), nullable=False),
    indexes=(Index("ix_kb_patterns_type", "pattern_type"),),
)

kb_market_regimes = _kb_item(
    "kb_market_regimes",
    Column("asset", String(32), nullable=False),
    Column("dataset_ref", String(120), nullable=False),
    Column("regime", String(40), nullable=False),  # low_vol medium_vol high_vol
    Column("volatility", Float, nullable=False),  # annualised volatility of log returns over the span
    Column("indicators", JsonDoc, nullable=False, default=dict),
    Column("start_at", UtcDateTime(), nullable=False),
    Column("end_at", UtcDateTime(), nullable=False),
    Column("notes", Text, nullable=False, default=""),
    indexes=(Index("ix_kb_market_regimes_asset_start", "asset", "start_at"),),
)

kb_lessons_learned = _kb_item(
    "kb_lessons_learned",
    Column("strategy_id", String(100)),
    Column("backtest_id", String(100)),
    Column("deployment_id", String(100)),
    Column("run_id", String(64)),
    Column("order_id", String(32)),
    Column("category", String(40), nullable=False),  # backtest_completed backtest_failure order_decided anomaly
    Column("title", String(300), nullable=False),
    Column("lesson", Text, nullable=False),
    Column("assets", JsonDoc, nullable=False, default=list),
    Column("tags", JsonDoc, nullable=False, default=list),
    Column("metadata", JsonDoc, nullable=False, default=dict),
    indexes=(Index("ix_kb_lessons_category_created", "category", "created_at"),),
)

kb_macro_events = _kb_item(
    "kb_macro_events",
    Column("title", String(300), nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("impact", String(10), nullable=False),  # low medium high
    Column("assets", JsonDoc, nullable=False, default=list),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("source_url", Text, nullable=False, default=""),
    indexes=(Index("ix_kb_macro_events_impact_occurred", "impact", "occurred_at"),),
)

kb_correlations = _kb_item(
    "kb_correlations",
    Column("source_asset", String(32), nullable=False),
    Column("target_asset", String(32), nullable=False),
    Column("correlation", Float, CheckConstraint("correlation >= -1 AND correlation <= 1"), nullable=False),
    Column("window", Integer, nullable=False),  # candles of log returns the coefficient was computed on
    Column("interval", String(8), nullable=False),
    Column("computed_at", UtcDateTime(), nullable=False),
    indexes=(Index("ix_kb_correlations_pair", "source_asset", "target_asset"),),
)

# the search document of every item: what the vector index (pgvector HNSW / sqlite-vec) ranks
kb_embeddings = Table(
    "kb_embeddings",
    metadata,
    Column("rowid", Integer, primary_key=True, autoincrement=True),  # a new one on every change (sqlite-vec sync)
    Column("kind", String(20), nullable=False),  # pattern regime lesson event correlation
    Column("item_id", String(36), nullable=False),
    Column("title", String(300), nullable=False),
    Column("summary", Text, nullable=False),
    Column("assets", JsonDoc, nullable=False, default=list),
    Column("evidence", JsonDoc, nullable=False, default=dict),
    Column("embedding", EmbeddingVector(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("kind", "item_id", name="uq_kb_embeddings_item"),
)

# --- the HTTP API: answers kept per Idempotency-Key (services.core.idempotency) ---------------------------------
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("scope", String(200), primary_key=True),  # whose key it is (a token's owner) and for which endpoint
    Column("key", String(200), primary_key=True),
    Column("request_sha256", String(64), nullable=False),  # of the canonical request body
    Column("response", JsonDoc),  # None while the first request is still being processed
    Column("created_at", UtcDateTime(), nullable=False),
)

# --- notifications to approvers (services.notifications): one row per event and channel, claimed by CAS -------
notification_outbox = Table(
    "notification_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_key", String(200), nullable=False),  # e.g. waiting:<run>, expiring:<order>, failed:<order>
    Column("channel", String(32), nullable=False),  # stable id of a configured channel (hash of its URL)
    Column("kind", String(20), nullable=False),
    Column("title", String(250), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending sending sent dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_at", UtcDateTime()),
    Column("sent_at", UtcDateTime()),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("event_key", "channel", name="uq_notification_event_channel"),
    Index("ix_notification_due", "status", "next_attempt_at"),
)

notification_cursor = Table(  # how far the audit log has been turned into events
    "notification_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_audit_id", BigInteger, nullable=False, default=0),
)

# --- news: items from Alpaca News and RSS/Atom feeds, each stored once, scored by the sentiment model --------------
news_items = Table(
    "news_items",
    metadata,
    Column("id", String(255), primary_key=True),  # "<source>:<source's id>", else "sha256:<hex of url + title>"
    Column("source", String(200), nullable=False),  # "alpaca" or "feed:<host>"
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("url", Text, nullable=False, default=""),
    Column("symbols", JsonDoc, nullable=False, default=list),  # only the tickers the source gave
    Column("published_at", UtcDateTime()),  # None when the source gave no date
    Column("fetched_at", UtcDateTime(), nullable=False),
    Column("sentiment_score", Float, nullable=False),
    Column("sentiment_label", String(8), nullable=False),
    Column("model_version", String(64), nullable=False),
    Index("ix_news_items_published", "published_at"),
    Index("ix_news_items_source_published", "source", "published_at"),
)

news_symbols = Table(  # one row per (item, ticker): what window(symbol, start, end) reads
    "news_symbols",
    metadata,
    Column("item_id", String(255), ForeignKey("news_items.id", ondelete="CASCADE"), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("published_at", UtcDateTime()),
    Index("ix_news_symbols_symbol_published", "symbol", "published_at"),
)

news_cursors = Table(  # how far each (source, symbol) has been fetched: one contiguous covered range
    "news_cursors",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("covered_from", UtcDateTime(), nullable=False),
    Column("covered_to", UtcDateTime(), nullable=False),
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

# --- decision review (services.review): what the graph proposed, what people did, what the market did after -------
review_decisions = Table(  # one row per decided order (any source), rewritten while the order moves on
    "review_decisions",
    metadata,
    Column("order_id", String(32), primary_key=True),
    Column("order_version", Integer, nullable=False),  # the order row this was read from (unchanged: not re-read)
    Column("run_id", String(64), nullable=False),
    Column("source", String(64), nullable=False, server_default="agent-graph"),  # the order's: graph, manual, API
    Column("proposer", String(200), nullable=False, server_default=""),  # who entered / proposed it ("": the graph)
    Column("proposed_at", UtcDateTime()),  # when the order was proposed (bar 0 of an order naming no bar)
    Column("symbol", String(32), nullable=False),
    Column("dataset_ref", String(120), nullable=False),
    Column("side", String(4), nullable=False),
    Column("status", String(20), nullable=False),  # the order's status when read
    Column("decision", String(12), nullable=False),  # approved edited rejected expired cancelled
    Column("operator", String(200), nullable=False, default=""),  # who decided ("" when it expired)
    Column("reason", Text, nullable=False, default=""),
    Column("decided_at", UtcDateTime(), nullable=False),
    Column("proposed", JsonDoc, nullable=False),  # the terms the graph proposed
    Column("final", JsonDoc, nullable=False),  # the terms after the operator's edits
    Column("edits", JsonDoc, nullable=False, default=list),  # [{by, at, reason, diff}] in order
    Column("reference_price", Float, nullable=False),
    Column("anchor_ts", BigInteger),  # open time of the last bar the run saw (else the last one opened when the
    # order was proposed; Unix ms): bar 0 of the outcomes
    Column("forecast_return", Float),  # expected log return over the forecast horizon
    Column("forecast_lower", Float),  # its 90 % interval
    Column("forecast_upper", Float),
    Column("forecast_horizon", Integer),  # bars
    Column("executed_quantity", Float, nullable=False, default=0.0),
    Column("fill_price", Float),
    Column("fee", Float, nullable=False, default=0.0),
    Column("settled", Boolean, nullable=False),  # False while an approved order may still fill
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_review_decisions_run", "run_id"),
    Index("ix_review_decisions_symbol", "symbol"),
    Index("ix_review_decisions_operator", "operator"),
    Index("ix_review_decisions_source", "source"),
)

review_outcomes = Table(  # one row per decided order and horizon: pending until the stored candles reach it
    "review_outcomes",
    metadata,
    Column("order_id", String(32), ForeignKey("review_decisions.order_id", ondelete="CASCADE"), primary_key=True),
    Column("horizon", String(8), primary_key=True),  # "1" "5" "20" (bars) or "forecast" (the forecast's own)
    Column("bars", Integer),
    Column("status", String(8), nullable=False),  # pending done n/a (no such horizon: no forecast)
    Column("note", Text, nullable=False, default=""),  # why it is pending (or n/a)
    Column("exit_ts", BigInteger),  # open time of the bar whose close is the outcome
    Column("exit_price", Float),
    Column("realised_return", Float),  # log return from the anchor bar's close
    Column("hit", Boolean),  # the forecast's sign was right (None: no forecast, or a zero forecast)
    Column("covered", Boolean),  # the realised return fell in the 90 % interval (forecast horizon only)
    Column("agent_pnl", Float),  # agent alone: as proposed, executed
    Column("actual_pnl", Float),  # agent + operator: what happened (0 for what was not executed)
    Column("value_added", Float),  # actual - agent
    Column("updated_at", UtcDateTime(), nullable=False),
)

review_aggregates = Table(  # per scope (overall, run, symbol, operator, source) and horizon, rebuilt by each review
    "review_aggregates",
    metadata,
    Column("scope", String(10), primary_key=True),  # overall run symbol operator source
    Column("key", String(200), primary_key=True),  # "" for overall
    Column("horizon", String(8), primary_key=True),
    Column("decisions", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("counts", JsonDoc, nullable=False, default=dict),  # decision -> how many
    Column("forecasts", Integer, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("hit_rate", Float),
    Column("agent_pnl", Float, nullable=False),
    Column("actual_pnl", Float, nullable=False),
    Column("value_edits", Float, nullable=False),
    Column("value_rejections", Float, nullable=False),
    Column("value_expiries", Float, nullable=False),
    Column("value_other", Float, nullable=False),  # approved orders that did not fill
    Column("intervals", Integer, nullable=False),
    Column("covered", Integer, nullable=False),
    Column("coverage", Float),
    Column("updated_at", UtcDateTime(), nullable=False),
)
