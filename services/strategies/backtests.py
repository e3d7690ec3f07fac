"""Strategies on Lona: generate or upload them, publish our datasets as symbols once, run and follow backtests."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.core import clock
from services.core.auth import Actor
from services.core.config import Settings
from services.core.errors import BadInput, Conflict, DatasetBusy
from services.core.records import lona_backtests, lona_strategies, lona_symbols
from services.jobs.queue import JobContext, Jobs
from services.market_data import ohlcv
from services.market_data.datasets import DatasetRef, Datasets, Manifest
from services.strategies.lona.client import check_backtest_request
from services.strategies.lona.credentials import connect, save_registration
from services.strategies.lona.errors import BacktestFailed, BacktestTimedOut, LonaNotFound
from services.strategies.lona.reports import Metrics, normalise_metrics, timeline_frame, trades_frame
from services.strategies.lona.results import GeneratedStrategy, Page, Registration, ReportStatus, Strategy, Symbol

JOB_KIND = "lona_backtest"
_FIAT = ("USD", "EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD")
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "GBP", "BTC", "ETH")



class LonaServices(Protocol):
    """What Lona work uses of the process's services (``services.runtime.Runtime`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def datasets(self) -> Datasets: ...

    @property
    def jobs(self) -> Jobs: ...

@dataclass(frozen=True)
class StrategyRecord:
    """A strategy this console submitted to Lona (generated from a description or uploaded)."""

    id: str
    name: str
    description: str
    origin: str
    provider: str | None
    model: str | None
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class PublishedSymbol:
    """One of our dataset versions and ranges as a Lona symbol; ``uploaded`` is False when it was reused."""

    symbol_id: str
    name: str
    dataset_ref: str
    dataset_version: str
    first_ts: int
    last_ts: int
    candles: int
    actor: str
    created_at: datetime
    uploaded: bool = False


@dataclass(frozen=True)
class Backtest:
    """A backtest submitted from the console, as last polled."""

    report_id: str
    strategy_id: str
    symbol_ids: list[str]
    datasets: list[dict[str, Any]]
    start_date: date
    end_date: date
    initial_cash: float
    commission: float
    status: str
    progress: float | None
    total_stats: dict[str, Any] | None
    error: str | None
    category: str | None
    stderr: str | None
    actor: str
    job_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def done(self) -> bool:
        """True once Lona reported COMPLETED or FAILED."""
        return self.status in ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class BacktestReport:
    """What the report view shows: status, metrics (in percent, with the unit assumed), curves and trades.

    ``timeline`` has ``date, equity, drawdown_pct``; ``trades`` has Lona's columns. On failure,
    ``category``, ``error`` (message with the hint) and ``stderr`` say why.
    """

    report_id: str
    strategy_id: str | None
    status: str
    progress: float | None
    metrics: Metrics
    timeline: pd.DataFrame
    trades: pd.DataFrame
    error: str | None = None
    category: str | None = None
    stderr: str | None = None
    backtest: Backtest | None = None


# --- registration and strategies --------------------------------------------------------------------------
def register_agent(runtime: LonaServices, invite_code: str | None = None, *, actor: Actor) -> tuple[Registration, str]:
    """Register the agent with Lona (secret or invite flow) and save the token; return it and where it is. Admins."""
    actor.require("admin", "register the console with Lona")
    with connect(runtime.settings, require_token=False) as client:
        registration = client.register(invite_code)
    return registration, save_registration(runtime.settings, registration, actor.name)


def create_strategy(
    runtime: LonaServices,
    description: str,
    *,
    actor: Actor,
    name: str | None = None,
    provider: str | None = "xai",
    model: str | None = None,
) -> GeneratedStrategy:
    """Have Lona generate a strategy from ``description`` for ``actor`` (a trader) and record the submission."""
    actor.require("trader", "create strategies on Lona")
    with connect(runtime.settings) as client:
        made = client.create_strategy(description, name=name, provider=provider, model=model)
    _record_strategy(runtime.engine, made.strategy_id, made.name, description, "generated", provider, model,
                     actor.name)
    return made


def upload_strategy(
    runtime: LonaServices, name: str, code: str, *, actor: Actor, description: str | None = None
) -> str:
    """Upload Backtrader code as a strategy for ``actor`` (a trader), record the submission, return Lona's id."""
    actor.require("trader", "upload strategies to Lona")
    with connect(runtime.settings) as client:
        strategy_id = client.upload_strategy(name, code, description)
    _record_strategy(runtime.engine, strategy_id, name, description or "", "uploaded", None, None, actor.name)
    return strategy_id


def _record_strategy(engine: Engine, strategy_id: str, name: str, description: str, origin: str,
                     provider: str | None, model: str | None, actor: str) -> None:
    with engine.begin() as connection:
        connection.execute(insert(lona_strategies).values(
            id=strategy_id, name=name, description=" ".join(description.split()), origin=origin,
            provider=provider, model=model, actor=actor, created_at=clock.now(),
        ))


def list_strategies(runtime: LonaServices, skip: int = 0, limit: int = 50) -> Page[Strategy]:
    """One page of the strategies Lona holds for this agent."""
    with connect(runtime.settings) as client:
        return client.list_strategies(skip, limit)


def get_strategy(runtime: LonaServices, strategy_id: str) -> Strategy:
    """One strategy with its code."""
    with connect(runtime.settings) as client:
        return client.get_strategy(strategy_id)


def strategy_history(runtime: LonaServices, limit: int = 50) -> list[StrategyRecord]:
    """Strategies submitted from this console, newest first."""
    query = select(lona_strategies).order_by(lona_strategies.c.created_at.desc()).limit(limit)
    with runtime.engine.connect() as connection:
        return [StrategyRecord(**row._mapping) for row in connection.execute(query)]


# --- datasets as Lona symbols -----------------------------------------------------------------------------
def list_symbols(runtime: LonaServices, is_global: bool = False, skip: int = 0, limit: int = 50) -> Page[Symbol]:
    """One page of this agent's symbols on Lona, or of Lona's global ones."""
    with connect(runtime.settings) as client:
        return client.list_symbols(skip, limit, is_global)


def dataset_version(manifest: Manifest) -> str:
    """The version of a dataset: its manifest's ETag (for dropped-in files, a digest of their ETags)."""
    if manifest.etag:
        return manifest.etag
    etags = "\n".join(sorted(f"{p.name}={p.etag}" for p in manifest.partitions))
    return "files:" + hashlib.sha256(etags.encode()).hexdigest()[:32]


def day_range_ms(start: date | None, end: date | None) -> tuple[int | None, int | None]:
    """Unix-ms bounds of the UTC days [start, end], both inclusive (None leaves a side open)."""
    if start and end and start > end:
        raise BadInput(f"start {start} is after end {end}")
    return (clock.day_start_ms(start) if start else None), (clock.day_end_ms(end) if end else None)


def symbol_name(ref: DatasetRef, first_ts: int, last_ts: int) -> str:
    """Lona symbol name ``SYMBOL_INTERVAL_YYYYMMDD_YYYYMMDD`` of the candles uploaded."""
    return f"{ref.symbol}_{ref.interval}_{clock.from_ms(first_ts):%Y%m%d}_{clock.from_ms(last_ts):%Y%m%d}"


def _market(ref: DatasetRef) -> tuple[str, str]:
    """(asset_class, quote_currency) guessed from the market id, for Lona's metadata."""
    symbol = ref.symbol
    if len(symbol) == 6 and symbol[:3] in _FIAT and symbol[3:] in _FIAT:
        return "forex", symbol[3:]
    quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), None)
    if quote is None or ref.exchange == "alpaca":
        return "equity", "USD"
    return "crypto", quote


def _upload_metadata(ref: DatasetRef, version: str, frame: pd.DataFrame) -> dict[str, Any]:
    asset_class, quote = _market(ref)
    first, last = (clock.from_ms(int(frame["timestamp"].iloc[i])).isoformat() for i in (0, -1))
    return {
        "data_type": "ohlcv",
        "exchange": ref.exchange.upper(),
        "asset_class": asset_class,
        "quote_currency": quote,
        "column_mapping": {c: c for c in ohlcv.BASE_COLUMNS},
        "frequency": ref.interval,
        "timezone": "UTC",
        "description": f"{ref} {first}..{last}, {len(frame)} candles, dataset version {version} (Trade Nexus Console)",
    }


def _published(row: Any, uploaded: bool = False) -> PublishedSymbol:
    fields = {k: row._mapping[k] for k in PublishedSymbol.__dataclass_fields__ if k != "uploaded"}
    return PublishedSymbol(**fields, uploaded=uploaded)


def _mapping(engine: Engine, agent_id: str, ref: str, version: str, first_ts: int, last_ts: int) -> Any:
    c = lona_symbols.c
    query = select(lona_symbols).where(c.agent_id == agent_id, c.dataset_ref == ref, c.dataset_version == version,
                                       c.first_ts == first_ts, c.last_ts == last_ts)
    with engine.connect() as connection:
        return connection.execute(query).first()


def publish_dataset(
    runtime: LonaServices, ref: DatasetRef | str, start: date | None = None, end: date | None = None, *, actor: Actor
) -> PublishedSymbol:
    """Upload the candles of ``ref`` in the UTC days [start, end] to Lona as a symbol, once per data version.

    The mapping (dataset version = manifest ETag, first/last candle) → Lona symbol id is kept, so the same
    data is never uploaded twice and a backtest can be traced to the exact data. A mapped symbol that
    Lona no longer has is uploaded again. Traders only.
    """
    actor.require("trader", "publish datasets to Lona")
    ref = ref if isinstance(ref, DatasetRef) else DatasetRef.parse(ref)
    start_ms, end_ms = day_range_ms(start, end)
    with connect(runtime.settings) as client:  # first, so an unconfigured console says so before reading data
        manifest = runtime.datasets.manifest(ref)
        version = dataset_version(manifest)
        try:
            frame = runtime.datasets.read_version(manifest, start_ms, end_ms)
        except Conflict:
            raise DatasetBusy(f"{ref} changed while being published; publish it again") from None
        if frame.empty:
            raise BadInput(f"{ref} has no candles between {start or 'its start'} and {end or 'its end'}")
        first_ts, last_ts = int(frame["timestamp"].iloc[0]), int(frame["timestamp"].iloc[-1])
        key = (runtime.settings.lona_agent_id, str(ref), version, first_ts, last_ts)
        known = _mapping(runtime.engine, *key)
        if known is not None:
            try:
                client.get_symbol(known.symbol_id)
                return _published(known)
            except LonaNotFound:  # deleted on Lona since: forget it and upload again
                with runtime.engine.begin() as connection:
                    connection.execute(delete(lona_symbols).where(lona_symbols.c.id == known.id))
        name = symbol_name(ref, first_ts, last_ts)
        symbol = client.upload_symbol(name, ohlcv.to_lona_upload_csv(frame), _upload_metadata(ref, version, frame))
        try:
            with runtime.engine.begin() as connection:
                connection.execute(insert(lona_symbols).values(
                    agent_id=key[0], dataset_ref=key[1], dataset_version=version, first_ts=first_ts,
                    last_ts=last_ts, candles=len(frame), symbol_id=symbol.id, name=symbol.name or name,
                    actor=actor.name, created_at=clock.now(),
                ))
        except IntegrityError:  # another publish of the same data won the race: keep its symbol, drop ours
            client.delete_symbol(symbol.id)
            return _published(_mapping(runtime.engine, *key))
    return _published(_mapping(runtime.engine, *key), uploaded=True)


def published_symbols(runtime: LonaServices, ref: DatasetRef | str | None = None) -> list[PublishedSymbol]:
    """Dataset versions published to Lona by this agent (optionally of one dataset), newest first."""
    c = lona_symbols.c
    query = select(lona_symbols).where(c.agent_id == runtime.settings.lona_agent_id).order_by(c.created_at.desc())
    if ref is not None:
        query = query.where(c.dataset_ref == str(ref if isinstance(ref, DatasetRef) else DatasetRef.parse(ref)))
    with runtime.engine.connect() as connection:
        return [_published(row) for row in connection.execute(query)]


# --- backtests --------------------------------------------------------------------------------------------
def start_backtest(
    runtime: LonaServices,
    strategy_id: str,
    symbols: list[str],
    start: date,
    end: date,
    *,
    actor: Actor,
    initial_cash: float = 100_000.0,
    commission: float = 0.001,
) -> Backtest:
    """Run ``strategy_id`` on Lona over [start, end], record it and start a job that follows it.

    Each of ``symbols`` is a Lona symbol id or one of our dataset references (``exchange/SYMBOL/interval``),
    which is published first (once per data version and range). Returns the recorded backtest. Traders only.
    """
    actor.require("trader", "start backtests on Lona")
    check_backtest_request(symbols, start, end, initial_cash, commission)
    _check_before_upload(runtime, strategy_id, symbols, start, end)
    symbol_ids: list[str] = []
    for item in symbols:
        published = publish_dataset(runtime, item, start, end, actor=actor) if "/" in item else None
        symbol_ids.append(published.symbol_id if published else item)
    known = {p.symbol_id: p for p in published_symbols(runtime)}
    datasets = [{"ref": p.dataset_ref, "version": p.dataset_version, "first_ts": p.first_ts, "last_ts": p.last_ts,
                 "symbol_id": p.symbol_id} for s in symbol_ids if (p := known.get(s))]
    with connect(runtime.settings) as client:
        report_id = client.run_backtest(strategy_id, symbol_ids, start, end, initial_cash=initial_cash,
                                        commission=commission)
    now = clock.now()
    with runtime.engine.begin() as connection:
        connection.execute(insert(lona_backtests).values(
            report_id=report_id, strategy_id=strategy_id, symbol_ids=symbol_ids, datasets=datasets,
            start_date=start, end_date=end, initial_cash=initial_cash, commission=commission, status="PENDING",
            progress=None, actor=actor.name, created_at=now, updated_at=now,
        ))
    follow_backtest(runtime, report_id, actor=actor)
    return get_backtest(runtime, report_id)


def _check_before_upload(runtime: LonaServices, strategy_id: str, symbols: list[str], start: date, end: date) -> None:
    """Everything a backtest needs, checked before any dataset is uploaded: the strategy exists on Lona and each
    dataset reference exists with candles in the range. A refused request uploads and records nothing."""
    for item in symbols:
        if "/" in item:
            manifest = runtime.datasets.manifest(DatasetRef.parse(item))
            first, last = clock.day_start_ms(start), clock.day_end_ms(end)
            if manifest.first_ts is None or manifest.last_ts is None or manifest.last_ts < first \
                    or manifest.first_ts > last:
                raise BadInput(f"{item} has no candles between {start} and {end}")
    with connect(runtime.settings) as client:
        try:
            client.get_strategy(strategy_id)
        except LonaNotFound:
            raise BadInput(f"strategy {strategy_id} was not found on Lona; choose one of the listed strategies"
                           ) from None


def follow_backtest(runtime: LonaServices, report_id: str, *, actor: Actor) -> str:
    """Start a job polling a recorded backtest until it ends (again after a timeout or a lost worker); traders."""
    actor.require("trader", "follow backtests on Lona")
    get_backtest(runtime, report_id)
    job_id = runtime.jobs.submit(JOB_KIND, {"report_id": report_id}, actor=actor.name,
                                 title=f"Lona backtest {report_id}")
    with runtime.engine.begin() as connection:
        connection.execute(update(lona_backtests).where(lona_backtests.c.report_id == report_id).values(job_id=job_id))
    return job_id


def _row_to_backtest(row: Any) -> Backtest:
    return Backtest(**{k: row._mapping[k] for k in Backtest.__dataclass_fields__})


def _find_backtest(engine: Engine, report_id: str) -> Backtest | None:
    with engine.connect() as connection:
        row = connection.execute(select(lona_backtests).where(lona_backtests.c.report_id == report_id)).first()
    return None if row is None else _row_to_backtest(row)


def get_backtest(runtime: LonaServices, report_id: str) -> Backtest:
    """A recorded backtest; BadInput when this console did not start it."""
    backtest = _find_backtest(runtime.engine, report_id)
    if backtest is None:
        raise BadInput(f"no backtest with report id {report_id} was started from this console")
    return backtest


def backtest_history(runtime: LonaServices, limit: int = 50, strategy_id: str | None = None) -> list[Backtest]:
    """Backtests started from this console, newest first."""
    query = select(lona_backtests).order_by(lona_backtests.c.created_at.desc()).limit(limit)
    if strategy_id:
        query = query.where(lona_backtests.c.strategy_id == strategy_id)
    with runtime.engine.connect() as connection:
        return [_row_to_backtest(row) for row in connection.execute(query)]


def _save(engine: Engine, report_id: str, **values: Any) -> None:
    with engine.begin() as connection:
        connection.execute(update(lona_backtests).where(lona_backtests.c.report_id == report_id)
                           .values(updated_at=clock.now(), **values))


def _failed_values(failure: BacktestFailed) -> dict[str, Any]:
    return {"status": "FAILED", "error": str(failure), "category": failure.category, "stderr": failure.stderr or None,
            "full_report": failure.full_report}


def run_follow_job(ctx: JobContext, services: LonaServices, report_id: str) -> dict:
    """Job body: poll Lona for ``report_id`` into the job and its row; fetch the reports at the end."""
    runtime = services
    settings = runtime.settings
    get_backtest(runtime, report_id)

    def on_status(status: ReportStatus) -> None:
        _save(runtime.engine, report_id, status=status.status, progress=status.progress)
        ctx.progress(status.progress or 0.0, f"Lona: {status.status.lower()}", force=status.done,
                     status=status.status)
        ctx.check_cancelled()

    with connect(settings) as client:
        try:
            report = client.wait_for_report(report_id, interval_s=settings.lona_poll_interval_seconds,
                                             timeout_s=settings.lona_poll_timeout_seconds, on_status=on_status)
        except BacktestFailed as failure:
            _save(runtime.engine, report_id, **_failed_values(failure))
            raise
        except BacktestTimedOut as timeout:
            _save(runtime.engine, report_id, error=str(timeout))
            raise
        full = client.full_report(report_id)
    _save(runtime.engine, report_id, status="COMPLETED", progress=1.0, total_stats=report.total_stats,
          full_report=full, error=None, category=None, stderr=None)
    metrics = normalise_metrics(report.total_stats)
    shown = f"{metrics.total_return_pct:.2f} %" if metrics.total_return_pct is not None else "n/a"
    return {"summary": f"report {report_id} completed, total return {shown}", "report_id": report_id,
            "total_return_pct": metrics.total_return_pct, "sharpe_ratio": metrics.sharpe_ratio}


def backtest_report(runtime: LonaServices, report_id: str) -> BacktestReport:
    """The report of a backtest: from the records once it ended, else fresh from Lona (and recorded).

    Works for any report id of this Lona user; one started elsewhere is read but not recorded.
    """
    recorded = _find_backtest(runtime.engine, report_id)
    if recorded is not None and recorded.done:
        full = _stored_full_report(runtime.engine, report_id)
        if full is not None:
            return _report_of(asdict(recorded), full, recorded)
    with connect(runtime.settings) as client:
        report = client.report(report_id)
        values: dict[str, Any] = {"status": report.status, "total_stats": report.total_stats}
        if report.status == "COMPLETED":
            values.update(progress=1.0, full_report=client.full_report(report_id), error=None, category=None,
                          stderr=None)
        elif report.status == "FAILED":
            values.update(_failed_values(client.failure(report_id, report)))
    full = values.get("full_report")
    if recorded is None:
        return _report_of({"report_id": report_id, "strategy_id": report.strategy_id, **values}, full, None)
    _save(runtime.engine, report_id, **values)
    backtest = get_backtest(runtime, report_id)
    return _report_of(asdict(backtest), full, backtest)


def _stored_full_report(engine: Engine, report_id: str) -> dict | None:
    with engine.connect() as connection:
        return connection.execute(
            select(lona_backtests.c.full_report).where(lona_backtests.c.report_id == report_id)
        ).scalar()


def _report_of(values: dict[str, Any], full: dict | None, backtest: Backtest | None) -> BacktestReport:
    return BacktestReport(
        report_id=values["report_id"], strategy_id=values.get("strategy_id"), status=values["status"],
        progress=values.get("progress"), metrics=normalise_metrics(values.get("total_stats")),
        timeline=timeline_frame(full), trades=trades_frame(full), error=values.get("error"),
        category=values.get("category"), stderr=values.get("stderr"), backtest=backtest,
    )
