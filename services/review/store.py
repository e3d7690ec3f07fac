"""The decision review in the records database: the worker's job that follows every decided order, whatever its
source (the agent graph, a person on the order ticket, an API client), through the stored candles, and the reads
of the Review page and ``nexus review``.

The job (``decision_review``) reads the orders and their audit trail, the candles after each order's anchor bar,
and writes ``review_decisions``, ``review_outcomes`` (one per horizon, pending until the candles reach it) and
``review_aggregates`` (overall, per run, per symbol, per operator, per source). Only rows whose content changed
are written, as upserts in key order, so a second run with nothing new writes nothing and gives the same rows,
and two runs racing on two workers both succeed (the same key written twice is one row, not a conflict). Pages
and the CLI only read them.

The graph's orders name the bar their run saw last (``data_until_ms``); an order that names none (manual, API)
is anchored at the last candle of its dataset opened when it was proposed, at most ``ANCHOR_LOOKBACK_BARS``
before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    case,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from services.core import clock
from services.core.errors import BadInput, NexusError
from services.core.records import audit_log, orders, review_aggregates, review_decisions, review_outcomes
from services.jobs.queue import JobContext, Jobs
from services.market_data.datasets import DatasetRef, Datasets
from services.market_data.ohlcv import approx_interval_ms
from services.review.outcomes import (
    GRAPH_SOURCE,
    HORIZON_LABELS,
    HORIZONS,
    Aggregate,
    Candles,
    Decision,
    Outcome,
    aggregate,
    outcome,
)
from services.trading.context import OrderContext
from services.trading.orders import MANUAL, TERMINAL

JOB_KIND = "decision_review"
#: the upkeep queues a review this long after the last one when orders were decided or moved on since
REVIEW_EVERY_S = 5 * 60
#: and this long after it while outcomes wait for candles (ingestion jobs queue one as soon as they store some)
PENDING_EVERY_S = 60 * 60
_TITLE = "review decisions against outcomes"
#: an order naming no bar it was made on is anchored at a candle opened at most this many bars before it
ANCHOR_LOOKBACK_BARS = 100
#: the scopes a filter or a per-scope listing can name
SCOPES = ("run", "symbol", "operator", "source")
#: where a pending order can end without being approved: the decision is named after it
_NOT_APPROVED = frozenset({"rejected", "expired", "cancelled"})
_DECISION_COLUMNS = tuple(c.name for c in review_decisions.c if c.name != "updated_at")
_OUTCOME_COLUMNS = tuple(c.name for c in review_outcomes.c if c.name != "updated_at")
_AGGREGATE_COLUMNS = tuple(c.name for c in review_aggregates.c if c.name != "updated_at")


class ReviewServices(Protocol):
    """What the review job uses: the records database and the stored candles."""

    @property
    def engine(self) -> Engine: ...

    @property
    def datasets(self) -> Datasets: ...


# --- the job ------------------------------------------------------------------------------------------------------
def review_job(ctx: JobContext, services: ReviewServices) -> dict:
    """Job body: bring the review up to date with the orders and the stored candles."""
    report = refresh(services.engine, services.datasets, ctx)
    return {"summary": f"decision review: {report['decisions']} decision(s), {report['pending']} outcome(s) "
                       f"pending, {report['written']} row(s) written", **report}


def refresh_if_due(jobs: Jobs, every_s: float = REVIEW_EVERY_S, pending_every_s: float = PENDING_EVERY_S) -> str | None:
    """Upkeep: queue a review when a decided order changed since its review (at most every ``every_s``), or,
    while outcomes wait, every ``pending_every_s`` (candles may come from imports or other components; ingestion
    jobs queue one themselves); never while one is queued or running. The new job's id, or None."""
    if _orders_moved(jobs.engine):
        return jobs.submit_if_due(JOB_KIND, every_s, actor="upkeep", title=_TITLE)
    with jobs.engine.connect() as connection:
        waiting = connection.execute(select(review_outcomes.c.order_id).where(
            review_outcomes.c.status == "pending").limit(1)).first()
    return jobs.submit_if_due(JOB_KIND, pending_every_s, actor="upkeep", title=_TITLE) if waiting else None


def _orders_moved(engine: Engine) -> bool:
    """True when a decided order has no review row, or one read from an older version of it."""
    joined = orders.outerjoin(review_decisions, review_decisions.c.order_id == orders.c.id)
    query = select(orders.c.id).select_from(joined).where(
        orders.c.status != "pending_approval",
        or_(review_decisions.c.order_id.is_(None), review_decisions.c.order_version != orders.c.version)).limit(1)
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def queue_after_ingest(jobs: Jobs) -> str | None:
    """New candles were stored: queue a review unless one is already waiting to run."""
    return jobs.submit_if_due(JOB_KIND, 0.0, actor="ingest", title=_TITLE)


def refresh(engine: Engine, datasets: Datasets, ctx: JobContext | None = None) -> dict[str, int]:
    """Recompute what changed (orders that moved on, outcomes still pending) and write only changed rows."""
    with engine.connect() as connection:
        known = {r.order_id: r.order_version for r in connection.execute(
            select(review_decisions.c.order_id, review_decisions.c.order_version))}
        o = review_outcomes.c
        finished = {r.order_id for r in connection.execute(select(o.order_id).group_by(o.order_id).having(
            func.count() == len(HORIZONS), func.sum(case((o.status == "pending", 1), else_=0)) == 0))}
        decided = connection.execute(select(orders.c.id, orders.c.version).where(
            orders.c.status != "pending_approval")).all()
        due_ids = [r.id for r in decided if known.get(r.id) != r.version or r.id not in finished]
        due = _chunked(connection, select(orders).order_by(orders.c.id), orders.c.id, due_ids)
        trails: dict[str, list[Mapping]] = {}
        for row in _chunked(connection, select(audit_log).order_by(audit_log.c.id), audit_log.c.subject, due_ids):
            trails.setdefault(row["subject"], []).append(row)
    decisions = [_decision_row(row, trails.get(row["id"], [])) for row in due]
    outcomes = _outcomes(datasets, decisions, ctx)
    reviewed = ("order_id", [d["order_id"] for d in decisions])
    with engine.begin() as connection:  # a decision and its outcomes change together
        written = _sync(connection, review_decisions, ("order_id",), decisions, _DECISION_COLUMNS, reviewed)
        written += _sync(connection, review_outcomes, ("order_id", "horizon"), outcomes, _OUTCOME_COLUMNS, reviewed)
    written += _rebuild_aggregates(engine)
    with engine.connect() as connection:
        pending = connection.execute(select(review_outcomes.c.order_id).where(
            review_outcomes.c.status == "pending")).all()
    return {"decisions": len(decided), "reviewed": len(decisions), "pending": len(pending), "written": written}


def _chunked(connection: Connection, query: Select, column: ColumnElement, values: list) -> list[Mapping]:
    """The rows of ``query`` whose ``column`` is among ``values``, one statement per 500 values."""
    rows: list[Mapping] = []
    for start in range(0, len(values), 500):
        rows += connection.execute(query.where(column.in_(values[start:start + 500]))).mappings().all()
    return rows


def _decision_row(order: Mapping, trail: list[Mapping]) -> dict[str, Any]:
    """What the graph, a person or an API client proposed, what people did (from the audit trail) and how it was
    executed."""
    deciding = [a for a in trail if a["from_status"] == "pending_approval"]
    closing = next((a for a in reversed(deciding) if a["to_status"] != "pending_approval"), None)
    edits = [{"by": a["actor"], "at": a["at"].isoformat(), "reason": a["reason"],
              "diff": (a["details"] or {}).get("diff", {})} for a in deciding if a["action"] == "edit"]
    if closing is not None and closing["to_status"] in _NOT_APPROVED:
        decision = closing["to_status"]
    else:
        decision = "edited" if edits else "approved"
    people = [a for a in deciding if a["actor"] != "system"]
    operator = "" if decision == "expired" or not people else people[-1]["actor"]
    about = OrderContext.model_validate(order["context"] or {})
    forecast = about.forecast
    settled = decision not in ("approved", "edited") or order["status"] in TERMINAL
    source = order["source"] or GRAPH_SOURCE
    proposer = about.entered_by if source == MANUAL else about.proposer if source != GRAPH_SOURCE else ""
    return {
        "order_id": order["id"], "order_version": order["version"], "run_id": order["run_id"],
        "source": source, "proposer": proposer or "", "proposed_at": order["created_at"],
        "symbol": order["symbol"], "dataset_ref": order["dataset_ref"], "side": order["side"],
        "status": order["status"], "decision": decision, "operator": operator,
        "reason": closing["reason"] if closing is not None else "",
        "decided_at": closing["at"] if closing is not None else order["updated_at"],
        "proposed": dict(order["proposed"] or {}),
        "final": {"quantity": order["quantity"], "limit_price": order["limit_price"],
                  "order_type": order["order_type"]},
        "edits": edits, "reference_price": order["reference_price"], "anchor_ts": about.data_until_ms,
        "forecast_return": forecast.expected_return if forecast else None,
        "forecast_lower": forecast.lower if forecast else None,
        "forecast_upper": forecast.upper if forecast else None,
        "forecast_horizon": forecast.horizon if forecast else None,
        "executed_quantity": order["filled_quantity"] or 0.0, "fill_price": order["average_price"],
        "fee": order["fee"] or 0.0, "settled": settled,
    }


def _as_decision(row: Mapping) -> Decision:
    """The computation's view of a ``review_decisions`` row."""
    proposed = row["proposed"] or {}
    return Decision(
        order_id=row["order_id"], run_id=row["run_id"], symbol=row["symbol"], side=row["side"],
        decision=row["decision"], operator=row["operator"],
        proposed_quantity=float(proposed.get("quantity") or 0.0), reference_price=row["reference_price"],
        anchor_ts=row["anchor_ts"], executed_quantity=row["executed_quantity"], fill_price=row["fill_price"],
        fee=row["fee"], settled=row["settled"], forecast_return=row["forecast_return"],
        forecast_lower=row["forecast_lower"], forecast_upper=row["forecast_upper"],
        forecast_horizon=row["forecast_horizon"], source=row["source"])


def _outcomes(datasets: Datasets, decisions: list[dict], ctx: JobContext | None) -> list[dict[str, Any]]:
    """Every horizon of every decision, the candles of each dataset read once (from its earliest bar 0). A decision
    whose order names no bar it was made on gets its anchor here (written into its row)."""
    by_dataset: dict[str, list[dict]] = {}
    for row in decisions:
        by_dataset.setdefault(row["dataset_ref"], []).append(row)
    result = []
    for number, (ref, rows) in enumerate(sorted(by_dataset.items())):
        if ctx is not None:
            ctx.check_cancelled()
            ctx.progress(number / max(1, len(by_dataset)), f"reviewing the decisions on {ref}")
        frame, problem = _candles(datasets, ref, rows)
        for row in rows:
            after, note = None, problem
            if frame is not None:
                if row["anchor_ts"] is None:
                    row["anchor_ts"], note = _bar_at(frame, ref, row["proposed_at"])
                if row["anchor_ts"] is not None:
                    later = frame[frame["timestamp"] > row["anchor_ts"]]
                    base = frame.loc[frame["timestamp"] == row["anchor_ts"], "close"]
                    after = Candles(later["timestamp"].to_numpy(), later["close"].to_numpy(),
                                    float(base.iloc[0]) if len(base) else None)
            decision = _as_decision(row)
            for horizon in HORIZONS:
                item = outcome(decision, horizon, after, note)
                result.append({"order_id": decision.order_id, **{f.name: getattr(item, f.name)
                                                                 for f in fields(Outcome)}})
    return result


def _lookback_start(ref: str, proposed_at: Any) -> int:
    """The earliest candle that may anchor an order of ``ref`` proposed at ``proposed_at``."""
    return clock.to_ms(proposed_at) - ANCHOR_LOOKBACK_BARS * approx_interval_ms(DatasetRef.parse(ref).interval)


def _candles(datasets: Datasets, ref: str, rows: list[dict]) -> tuple[Any, str]:
    """The candles of ``ref`` from the earliest bar 0 of ``rows`` (None when none is needed or readable) and the
    problem that left them unread."""
    if not ref:
        return None, "the order names no dataset of candles"
    try:
        starts = [row["anchor_ts"] if row["anchor_ts"] is not None else _lookback_start(ref, row["proposed_at"])
                  for row in rows if row["anchor_ts"] is not None or row["proposed_at"] is not None]
        return (datasets.read(DatasetRef.parse(ref), start_ms=min(starts)) if starts else None), ""
    except NexusError as error:
        return None, f"candles of {ref} unreadable: {error}"


def _bar_at(frame: Any, ref: str, proposed_at: Any) -> tuple[int | None, str]:
    """Open time of the last candle opened when the order was proposed (within the lookback), or why there is
    none."""
    if proposed_at is None:
        return None, ""
    at = clock.to_ms(proposed_at)
    opened = frame.loc[(frame["timestamp"] <= at) & (frame["timestamp"] >= _lookback_start(ref, proposed_at)),
                       "timestamp"]
    if opened.empty:
        return None, (f"no candle of {ref} opened in the {ANCHOR_LOOKBACK_BARS} bars before the order was "
                      "proposed")
    return int(opened.iloc[-1]), ""


def _rebuild_aggregates(engine: Engine) -> int:
    """Aggregate every stored outcome again (cheap: no candles) and write the rows that changed."""
    with engine.begin() as connection:
        decisions = {r["order_id"]: _as_decision(r)
                     for r in connection.execute(select(review_decisions)).mappings()}
        outcomes = [(decisions[r["order_id"]], _as_outcome(r))
                    for r in connection.execute(select(review_outcomes)).mappings() if r["order_id"] in decisions]
        rows = [_aggregate_row(scope, key, horizon, item)
                for (scope, key, horizon), item in aggregate(outcomes).items()]
        return _sync(connection, review_aggregates, ("scope", "key", "horizon"), rows, _AGGREGATE_COLUMNS, None)


def _as_outcome(row: Mapping) -> Outcome:
    return Outcome(**{f.name: row[f.name] for f in fields(Outcome)})


def _aggregate_row(scope: str, key: str, horizon: str, item: Aggregate) -> dict[str, Any]:
    return {"scope": scope, "key": key, "horizon": horizon, "decisions": item.decisions, "resolved": item.resolved,
            "pending": item.pending, "counts": dict(sorted(item.counts.items())), "forecasts": item.forecasts,
            "hits": item.hits, "hit_rate": item.hit_rate, "agent_pnl": item.agent_pnl,
            "actual_pnl": item.actual_pnl, "value_edits": item.value["edits"],
            "value_rejections": item.value["rejections"], "value_expiries": item.value["expiries"],
            "value_other": item.value["other"], "intervals": item.intervals, "covered": item.covered,
            "coverage": item.coverage}


def _sync(connection: Connection, table: Table, keys: tuple[str, ...], rows: list[dict], columns: tuple[str, ...],
          within: tuple[str, list] | None) -> int:
    """In the caller's transaction, make the part of ``table`` that ``within`` covers (``(column, values)``; None:
    the whole table) hold exactly ``rows``: new and changed rows upserted, others deleted, unchanged ones not
    touched. Keys are written in order, so two transactions writing the same rows at once wait for each other
    instead of conflicting (or deadlocking). Returns the number of rows written or deleted."""
    def key_of(row: Mapping) -> tuple:
        return tuple(row[k] for k in keys)

    def content(row: Mapping) -> tuple:
        return tuple(_comparable(row[c]) for c in columns)

    found = (_chunked(connection, select(table), table.c[within[0]], within[1]) if within
             else connection.execute(select(table)).mappings().all())
    stored = {key_of(r): content(r) for r in found}
    wanted = {key_of(r) for r in rows}
    changed = sorted((r for r in rows if stored.get(key_of(r)) != content(r)), key=key_of)
    stale = sorted(k for k in stored if k not in wanted)
    for key in stale:
        connection.execute(delete(table).where(*(table.c[k] == v for k, v in zip(keys, key, strict=True))))
    if changed:
        now = clock.now()
        upsert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)
        upsert = upsert.on_conflict_do_update(index_elements=list(keys), set_={
            c: upsert.excluded[c] for c in (*columns, "updated_at") if c not in keys})
        connection.execute(upsert, [{**{c: r[c] for c in columns}, "updated_at": now} for r in changed])
    return len(changed) + len(stale)


def _comparable(value: Any) -> Any:
    """A stored value in a form that compares equal to the same value computed again (floats to 12 digits)."""
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, dict):
        return tuple(sorted((k, _comparable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_comparable(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- reads (the Review page, nexus review) --------------------------------------------------------------------------
@dataclass(frozen=True)
class ReviewFilter:
    """Which decisions to look at: one run, symbol, operator or source (any combination) at one horizon."""

    run: str | None = None
    symbol: str | None = None
    operator: str | None = None
    source: str | None = None
    horizon: str = "5"

    def __post_init__(self) -> None:
        if self.horizon not in HORIZONS:
            raise BadInput(f"horizon '{self.horizon}' is not one of {', '.join(HORIZONS)} (bars, or the "
                           "forecast's own horizon)")
        for name in SCOPES:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise BadInput(f"the {name} filter must be a non-empty name (or left out)")

    @property
    def scopes(self) -> list[tuple[str, str]]:
        """The stored aggregates this filter asks for: overall, then each scope it names."""
        named = [(scope, getattr(self, scope)) for scope in SCOPES]
        return [("overall", ""), *((scope, key) for scope, key in named if key)]


@dataclass(frozen=True)
class AggregateRow:
    """A stored aggregate: hit rate, agent alone vs agent + operator, value added, interval coverage."""

    scope: str
    key: str
    horizon: str
    decisions: int
    resolved: int
    pending: int
    counts: dict
    forecasts: int
    hits: int
    hit_rate: float | None
    agent_pnl: float
    actual_pnl: float
    value_edits: float
    value_rejections: float
    value_expiries: float
    value_other: float
    intervals: int
    covered: int
    coverage: float | None
    updated_at: Any

    @property
    def value_added(self) -> float:
        """What people added over the agent alone (agent + operator - agent alone)."""
        return self.actual_pnl - self.agent_pnl

    @property
    def label(self) -> str:
        """``overall``, ``run <id>``, ``symbol AAPL``, ``operator alice``, ``source manual``."""
        return "overall" if self.scope == "overall" else f"{self.scope} {self.key}"

    def as_dict(self) -> dict[str, Any]:
        """The aggregate as plain numbers (``nexus review --json``)."""
        return {"scope": self.scope, "key": self.key, "horizon": self.horizon, "decisions": self.decisions,
                "resolved": self.resolved, "pending": self.pending, "counts": self.counts, "hits": self.hits,
                "forecasts": self.forecasts, "hit_rate": self.hit_rate, "agent_pnl": self.agent_pnl,
                "actual_pnl": self.actual_pnl, "value_added": self.value_added, "value_edits": self.value_edits,
                "value_rejections": self.value_rejections, "value_expiries": self.value_expiries,
                "value_unfilled": self.value_other, "covered": self.covered, "intervals": self.intervals,
                "coverage": self.coverage, "updated_at": self.updated_at.isoformat()}

    def line(self) -> str:
        """The aggregate in one line of text."""
        def rate(value: float | None, of: str) -> str:
            return f"{value:.0%} ({of})" if value is not None else f"– ({of})"

        return (f"{self.label} at {HORIZON_LABELS[self.horizon]}: {self.decisions} decisions ({self.resolved} "
                f"resolved, {self.pending} pending); hit rate {rate(self.hit_rate, f'{self.hits}/{self.forecasts}')}; "
                f"agent alone {self.agent_pnl:+,.2f}, agent + operator {self.actual_pnl:+,.2f}, value added "
                f"{self.value_added:+,.2f} (edits {self.value_edits:+,.2f}, rejections {self.value_rejections:+,.2f}, "
                f"expiries {self.value_expiries:+,.2f}, unfilled {self.value_other:+,.2f}); 90% interval coverage "
                f"{rate(self.coverage, f'{self.covered}/{self.intervals}')}")


@dataclass(frozen=True)
class DecisionRow:
    """One decided order with its outcome at the filter's horizon, as stored."""

    order_id: str
    run_id: str
    source: str
    proposer: str
    symbol: str
    side: str
    status: str
    decision: str
    operator: str
    reason: str
    decided_at: Any
    proposed: dict
    final: dict
    edits: list
    reference_price: float
    forecast_return: float | None
    forecast_lower: float | None
    forecast_upper: float | None
    forecast_horizon: int | None
    executed_quantity: float
    fill_price: float | None
    horizon: str
    bars: int | None
    outcome_status: str
    note: str
    exit_price: float | None
    realised_return: float | None
    hit: bool | None
    covered: bool | None
    agent_pnl: float | None
    actual_pnl: float | None
    value_added: float | None


@dataclass(frozen=True)
class ReviewOptions:
    """What the filters can choose among (runs, symbols, operators, sources with a stored decision)."""

    runs: tuple[str, ...]
    symbols: tuple[str, ...]
    operators: tuple[str, ...]
    sources: tuple[str, ...]


class Review:
    """Reads of the stored review; nothing here computes an outcome."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def aggregates(self, chosen: ReviewFilter) -> list[AggregateRow]:
        """The stored aggregates of ``chosen``'s scopes at its horizon (overall first; absent ones left out)."""
        wanted = chosen.scopes
        query = select(review_aggregates).where(review_aggregates.c.horizon == chosen.horizon, or_(*(
            and_(review_aggregates.c.scope == scope, review_aggregates.c.key == key) for scope, key in wanted)))
        with self.engine.connect() as connection:
            found = {(r["scope"], r["key"]): AggregateRow(**r) for r in connection.execute(query).mappings()}
        return [found[k] for k in wanted if k in found]

    def by_scope(self, scope: str, horizon: str) -> list[AggregateRow]:
        """Every stored aggregate of one scope (run, symbol, operator or source) at ``horizon``, by key."""
        if scope not in SCOPES:
            raise BadInput(f"scope '{scope}' is not one of {', '.join(SCOPES)}")
        ReviewFilter(horizon=horizon)
        a = review_aggregates.c
        query = select(review_aggregates).where(a.scope == scope, a.horizon == horizon).order_by(a.key)
        with self.engine.connect() as connection:
            return [AggregateRow(**r) for r in connection.execute(query).mappings()]

    def decisions(self, chosen: ReviewFilter, limit: int = 2000) -> list[DecisionRow]:
        """The latest ``limit`` decided orders matching every filter, oldest decision first, with their outcome at
        the horizon."""
        d, o = review_decisions.c, review_outcomes.c
        query = (select(review_decisions, o.horizon, o.bars, o.status.label("outcome_status"), o.note,
                        o.exit_price, o.realised_return, o.hit, o.covered, o.agent_pnl, o.actual_pnl, o.value_added)
                 .join(review_outcomes, and_(o.order_id == d.order_id, o.horizon == chosen.horizon))
                 .order_by(d.decided_at.desc(), d.order_id.desc()).limit(limit))
        columns = {"run": d.run_id, "symbol": d.symbol, "operator": d.operator, "source": d.source}
        for name in SCOPES:
            value = getattr(chosen, name)
            if value:
                query = query.where(columns[name] == value)
        names = {f.name for f in fields(DecisionRow)}
        with self.engine.connect() as connection:
            latest = [DecisionRow(**{k: v for k, v in r.items() if k in names})
                      for r in connection.execute(query).mappings()]
        return latest[::-1]

    def options(self) -> ReviewOptions:
        """The runs (newest first), symbols, operators and sources of the stored decisions."""
        d = review_decisions.c
        with self.engine.connect() as connection:
            runs = [r.run_id for r in connection.execute(
                select(d.run_id).group_by(d.run_id).order_by(func.max(d.decided_at).desc()))]
            symbols = _distinct(connection, d.symbol)
            operators = [o for o in _distinct(connection, d.operator) if o]
            sources = _distinct(connection, d.source)
        return ReviewOptions(tuple(runs), tuple(symbols), tuple(operators), tuple(sources))


def _distinct(connection: Connection, column) -> Iterable[str]:
    return [r[0] for r in connection.execute(select(column).distinct().order_by(column))]
