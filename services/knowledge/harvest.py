"""What fills the knowledge base from the console's own life: backtests, decided orders, critical anomalies of
graph runs, macro/market events among the stored news (``services.knowledge.events``), volatility regimes and
correlations of stored candles. Each source makes at most one item; re-running with nothing new writes nothing
(the SHA-256 of each payload is compared first)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Protocol

import pandas as pd
from sqlalchemy import Engine, select

from models.errors import InsufficientData
from models.regimes import return_correlation, volatility_regimes
from services.core import clock
from services.core.auth import Actor
from services.core.records import audit_log, graph_runs, lona_backtests, lona_strategies, orders
from services.jobs.queue import JobContext, Jobs
from services.knowledge.events import KEY_PREFIX, event_documents
from services.knowledge.store import Document, KnowledgeBase, PutResult
from services.market_data.datasets import DatasetRef, Datasets
from services.market_data.ohlcv import approx_interval_ms
from services.strategies.lona.reports import normalise_metrics

JOB_KIND = "knowledge_refresh"
#: candles of each dataset the regimes and correlations look at (the most recent ones)
REGIME_CANDLES = 5000
CORRELATION_WINDOW = 250
_DECISIONS = ("approve", "first_approval", "reject", "edit", "expire")


def backtest_documents(engine: Engine) -> list[Document]:
    """One lesson per finished Lona backtest: its metrics (completed) or its failure (failed)."""
    statement = (select(lona_backtests, lona_strategies.c.name.label("strategy_name"))
                 .join(lona_strategies, lona_strategies.c.id == lona_backtests.c.strategy_id, isouter=True)
                 .where(lona_backtests.c.status.in_(("COMPLETED", "FAILED"))))
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    documents = []
    for row in rows:
        assets = tuple(sorted({DatasetRef.parse(d["ref"]).symbol for d in row["datasets"] or [] if d.get("ref")}))
        strategy = row["strategy_name"] or row["strategy_id"]
        on = ", ".join(assets or row["symbol_ids"] or ["?"])
        period = f"{row['start_date']:%Y-%m-%d} to {row['end_date']:%Y-%m-%d}"
        payload = {k: row[k] for k in ("report_id", "strategy_id", "status", "total_stats", "error", "category",
                                       "symbol_ids", "datasets", "start_date", "end_date", "initial_cash")}
        if row["status"] == "COMPLETED":
            m = normalise_metrics(row["total_stats"])
            figures = [f"total return {m.total_return_pct:+.2f}%" if m.total_return_pct is not None else "",
                       f"max drawdown {m.max_drawdown_pct:.2f}%" if m.max_drawdown_pct is not None else "",
                       f"Sharpe {m.sharpe_ratio:.2f}" if m.sharpe_ratio is not None else "",
                       f"win rate {m.win_rate_pct:.1f}%" if m.win_rate_pct is not None else "",
                       f"{m.total_trades} trades" if m.total_trades is not None else ""]
            verdict = ("lost money" if (m.total_return_pct or 0) < 0 else "made money"
                       if m.total_return_pct is not None else "finished")
            category, title = "backtest_completed", f"Strategy {strategy} {verdict} on {on} ({period})"
            lesson = (f"Backtest of {strategy} on {on} from {period}: "
                      f"{', '.join(f for f in figures if f) or 'no metrics reported'}.")
            metrics = {"total_return_pct": m.total_return_pct, "max_drawdown_pct": m.max_drawdown_pct,
                       "sharpe_ratio": m.sharpe_ratio, "win_rate_pct": m.win_rate_pct, "total_trades": m.total_trades}
        else:
            category = "backtest_failure"
            title = f"Backtest of {strategy} on {on} failed ({row['category'] or 'error'})"
            lesson = f"Backtest of {strategy} on {on} from {period} failed: {(row['error'] or 'no message')[:500]}"
            metrics = {}
        evidence = {"backtest_id": row["report_id"], "strategy_id": row["strategy_id"], "metrics": metrics}
        documents.append(Document(
            "lesson", f"backtest:{row['report_id']}", payload,
            dict(category=category, title=title[:300], lesson=lesson, strategy_id=row["strategy_id"],
                 backtest_id=row["report_id"], assets=list(assets), tags=[category, strategy], metadata=evidence),
            title, lesson, assets, evidence))
    return documents


def order_documents(engine: Engine) -> list[Document]:
    """One lesson per decided order: what was proposed, what the operator did and why, and the outcome once known
    (the lesson is rewritten as the order moves on; it stays one lesson)."""
    with engine.connect() as connection:
        rows = connection.execute(select(orders).where(orders.c.status != "pending_approval")).mappings().all()
        ids = [r["id"] for r in rows]
        decisions: dict[str, list[dict]] = {}
        for start in range(0, len(ids), 500):
            for entry in connection.execute(select(audit_log).where(
                    audit_log.c.subject.in_(ids[start:start + 500]), audit_log.c.action.in_(_DECISIONS))
                    .order_by(audit_log.c.id)).mappings():
                decisions.setdefault(entry["subject"], []).append(
                    {"actor": entry["actor"], "action": entry["action"], "reason": entry["reason"],
                     "at": entry["at"].isoformat()})
    documents = []
    for row in rows:
        said = decisions.get(row["id"], [])
        proposed = row["proposed"] or {}
        quantity = proposed.get("quantity", row["quantity"])
        what = f"{row['side']} {quantity:g} {row['symbol']} ({row['order_type']}) near {row['reference_price']:.2f}"
        acts = "; ".join(f"{d['actor']} {_past(d['action'])}" + (f": \"{d['reason']}\"" if d["reason"] else "")
                         for d in said) or "no recorded decision"
        outcome = _outcome(row)
        title = f"Order {row['side']} {row['symbol']}: {row['status'].replace('_', ' ')}"
        lesson = f"Proposed {what}, notional {row['notional']:,.0f}. Decision: {acts}. Outcome: {outcome}."
        payload = {"order": row["id"], "proposed": proposed, "status": row["status"], "decisions": said,
                   "quantity": row["quantity"], "limit_price": row["limit_price"], "filled": row["filled_quantity"],
                   "average_price": row["average_price"], "fee": row["fee"]}
        evidence = {"order_id": row["id"], "run_id": row["run_id"], "status": row["status"],
                    "dataset_ref": row["dataset_ref"]}
        documents.append(Document(
            "lesson", f"order:{row['id']}", payload,
            dict(category="order_decided", title=title, lesson=lesson, run_id=row["run_id"], order_id=row["id"],
                 assets=[row["symbol"]], tags=[row["status"], row["side"]], metadata=evidence),
            title, lesson, (row["symbol"],), evidence))
    return documents


def anomaly_documents(engine: Engine) -> list[Document]:
    """One lesson per critical anomaly a graph run found (the run's events per symbol)."""
    with engine.connect() as connection:
        rows = connection.execute(select(graph_runs.c.id, graph_runs.c.results, graph_runs.c.created_at)
                                  .where(graph_runs.c.status.notin_(("queued", "running")))).mappings().all()
    documents = []
    for row in rows:
        found = ((row["results"] or {}).get("anomaly") or {}).get("anomalies") or {}
        for symbol, events in found.items():
            for event in events:
                if event.get("severity") != "critical":
                    continue
                key = f"anomaly:{row['id']}:{symbol}:{event['timestamp']}:{event['kind']}"
                title = f"Critical {event['kind'].replace('_', ' ')} anomaly on {symbol} at {event.get('time', '')}"
                lesson = f"{event.get('detail', '')} (score {event.get('score')}); the run left {symbol} out."
                evidence = {"run_id": row["id"], "symbol": symbol, "timestamp": event["timestamp"],
                            "kind": event["kind"]}
                documents.append(Document(
                    "lesson", key, {"run": row["id"], "symbol": symbol, "event": event},
                    dict(category="critical_anomaly", title=title[:300], lesson=lesson, run_id=row["id"],
                         assets=[symbol], tags=["anomaly", event["kind"]], metadata=evidence),
                    title, lesson, (symbol,), evidence))
    return documents


def _past(action: str) -> str:
    return {"approve": "approved", "first_approval": "gave the first approval", "reject": "rejected",
            "edit": "edited", "expire": "let it expire"}.get(action, action)


def _outcome(row) -> str:
    status = row["status"]
    if status in ("filled", "partially_filled") and row["average_price"] is not None:
        filled = f"{row['filled_quantity']:g} at {row['average_price']:.2f}, fee {row['fee']:.2f}"
        return f"{status.replace('_', ' ')} {filled}"
    if status == "failed":
        return f"failed at the venue: {(row['last_error'] or '')[:200]}"
    return {"approved": "approved, not yet sent", "submitting": "being sent", "submitted": "sent, not yet filled",
            "rejected": "not sent", "expired": "not sent", "cancelled": "cancelled"}.get(status, status)


def regime_documents(datasets: Datasets, ref: DatasetRef) -> list[Document]:
    """Volatility regime spans of one dataset's most recent candles."""
    frame = _recent(datasets, ref, REGIME_CANDLES)
    try:
        spans = volatility_regimes(frame["timestamp"].to_numpy(), frame["close"].to_numpy())
    except InsufficientData:
        return []
    documents = []
    for span in spans:
        start, end = clock.from_ms(span.start_ts), clock.from_ms(span.end_ts)
        label = span.regime.replace("_vol", " volatility")
        title = f"{ref.symbol} in {label} from {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        summary = (f"{ref} {label} regime over {span.candles} candles: annualised volatility "
                   f"{span.volatility:.1%}, return {span.total_return:+.1%}")
        indicators = {"candles": span.candles, "total_return": round(span.total_return, 6), "window": 20}
        row = dict(asset=ref.symbol, dataset_ref=str(ref), regime=span.regime, volatility=round(span.volatility, 6),
                   indicators=indicators, start_at=start, end_at=end, notes=summary)
        evidence = {"dataset_ref": str(ref), "start_at": start.isoformat(), "end_at": end.isoformat(),
                    "volatility": round(span.volatility, 6)}
        documents.append(Document("regime", f"regime:{ref}:{span.start_ts}", {**row, "start_at": span.start_ts,
                                                                              "end_at": span.end_ts},
                                  row, title, summary, (ref.symbol,), evidence))
    return documents


def correlation_documents(datasets: Datasets, refs: Sequence[DatasetRef]) -> list[Document]:
    """Correlation of log returns over the last common candles of every pair of datasets of one interval."""
    closes = {ref: _recent(datasets, ref, CORRELATION_WINDOW + 1).set_index("timestamp")["close"] for ref in refs}
    documents, now = [], clock.now()
    for a, b in combinations(sorted(refs, key=str), 2):
        if a.interval != b.interval or a.symbol == b.symbol:
            continue
        both = pd.concat([closes[a], closes[b]], axis=1, join="inner").dropna().tail(CORRELATION_WINDOW + 1)
        try:
            value = return_correlation(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
        except InsufficientData:
            continue
        last = clock.from_ms(int(both.index[-1]))
        title = f"{a.symbol} and {b.symbol} returns correlate {value:+.2f} ({a.interval})"
        summary = (f"Correlation of {a.interval} log returns of {a} and {b} over the {len(both) - 1} candles up to "
                   f"{last:%Y-%m-%d}: {value:+.3f}")
        row = dict(source_asset=a.symbol, target_asset=b.symbol, correlation=round(value, 6), window=len(both) - 1,
                   interval=a.interval, computed_at=now)
        payload = {**row, "computed_at": None, "last": int(both.index[-1])}
        evidence = {"datasets": [str(a), str(b)], "correlation": round(value, 6), "window": len(both) - 1}
        documents.append(Document("correlation", f"correlation:{a}:{b}", payload, row, title, summary,
                                  (a.symbol, b.symbol), evidence))
    return documents


def _recent(datasets: Datasets, ref: DatasetRef, candles: int) -> pd.DataFrame:
    last = datasets.manifest(ref).last_ts
    # twice the span: weekends, holidays and closed sessions leave gaps on a stock's grid
    start = None if last is None else last - 2 * candles * approx_interval_ms(ref.interval)
    frame = datasets.read(ref, start_ms=start)
    return frame[["timestamp", "close"]].tail(candles).reset_index(drop=True)


def refresh(kb: KnowledgeBase, engine: Engine, datasets: Datasets, refs: Sequence[DatasetRef] | None = None,
            ctx: JobContext | None = None) -> dict:
    """Bring the knowledge base up to date with the records and the stored candles; counts per source."""
    refs = list(refs) if refs is not None else [entry.ref for entry in datasets.catalog()]
    report: dict[str, dict] = {}
    steps = [("backtests", lambda: kb.put(backtest_documents(engine))),
             ("orders", lambda: kb.put(order_documents(engine))),
             ("anomalies", lambda: kb.put(anomaly_documents(engine))),
             ("events", lambda: _replacing(kb, "event", KEY_PREFIX, event_documents(engine))),
             ("regimes", lambda: _regimes(kb, datasets, refs)),
             ("correlations", lambda: kb.put(correlation_documents(datasets, refs)))]
    for number, (name, step) in enumerate(steps):
        if ctx is not None:
            ctx.progress(number / len(steps), f"knowledge: {name}", force=True)
        result = step()
        report[name] = {"added": result.added, "updated": result.updated, "unchanged": result.unchanged}
    return report


def _replacing(kb: KnowledgeBase, kind: str, key_prefix: str, documents: list[Document]) -> PutResult:
    """Put ``documents`` and remove the items under ``key_prefix`` they no longer include."""
    result = kb.put(documents)
    kb.remove_except(kind, key_prefix, [d.source_key for d in documents])
    return result


def _regimes(kb: KnowledgeBase, datasets: Datasets, refs: Sequence[DatasetRef]) -> PutResult:
    total = PutResult()
    for ref in refs:
        total += _replacing(kb, "regime", f"regime:{ref}:", regime_documents(datasets, ref))
    return total


class KnowledgeServices(Protocol):
    """What the refresh job needs of the process's services (``services.runtime.Runtime`` has them)."""

    engine: Engine
    datasets: Datasets
    knowledge: KnowledgeBase


def refresh_job(ctx: JobContext, services: KnowledgeServices) -> dict:
    """Job body: refresh the knowledge base from backtests, orders, runs and every dataset."""
    report = refresh(services.knowledge, services.engine, services.datasets, ctx=ctx)
    added = sum(r["added"] for r in report.values())
    updated = sum(r["updated"] for r in report.values())
    return {"summary": f"knowledge base: {added} item(s) added, {updated} updated", "sources": report}


#: the upkeep queues a refresh when the last one is older than this
REFRESH_EVERY_S = 15 * 60


def queue_refresh(jobs: Jobs, actor: Actor) -> str:
    """Queue a refresh now (trader role); the job id. While one is queued or running, that one's id (a double click
    or a second operator does not queue a second)."""
    actor.require("trader", "refresh the knowledge base")
    latest = jobs.list(kind=JOB_KIND, limit=1)
    if latest and latest[0].active:
        return latest[0].id
    return jobs.submit(JOB_KIND, {}, actor=actor.name, title="refresh the knowledge base")


def refresh_if_due(jobs: Jobs, every_s: float = REFRESH_EVERY_S) -> str | None:
    """Upkeep: queue a refresh job unless one is queued or running or one finished in the last ``every_s``;
    the job id when one was queued."""
    return jobs.submit_if_due(JOB_KIND, every_s, actor="upkeep", title="refresh the knowledge base")
