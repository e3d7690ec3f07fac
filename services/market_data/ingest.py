"""Ingestion: candles from a source into a dataset, partition by partition, resumable; the ingest/update jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from services.core import clock
from services.core.auth import Actor
from services.core.config import Settings, get_settings
from services.core.errors import BadInput, DatasetNotFound, NexusError, ServiceUnavailable
from services.jobs.queue import JobCancelled, JobContext, Jobs
from services.market_data import ohlcv
from services.market_data.connectors import NAMED_SOURCES, CandleSource, ccxt_exchange_ids, open_source
from services.market_data.connectors.base import iso
from services.market_data.datasets import DatasetRef, Datasets, Manifest
from services.market_data.ingest_writer import PartitionWriter

ProgressCallback = Callable[["IngestProgress"], None]
CancelCheck = Callable[[], object]
INGEST_KIND, UPDATE_KIND = "ingest", "update"


class MarketData(Protocol):
    """What ingestion uses: the datasets it writes and the settings that name its sources."""

    @property
    def datasets(self) -> Datasets: ...

    @property
    def settings(self) -> Settings: ...


@dataclass(frozen=True)
class IngestProgress:
    """How far an ingestion is: what the progress bar and the job row show."""

    ref: str
    candles: int
    candles_per_s: float
    reached_ms: int | None
    fraction: float
    eta_s: float | None

    def figures(self) -> str:
        """Candles, speed, date reached, ETA."""
        parts = [f"{self.candles:,} candles", f"{self.candles_per_s:,.0f}/s"]
        if self.reached_ms is not None:
            parts.append(f"reached {iso(self.reached_ms)}")
        if self.eta_s is not None:
            parts.append(f"ETA {_duration(self.eta_s)}")
        return " · ".join(parts)

    def message(self) -> str:
        """One line for the job row: the dataset, then the figures."""
        return f"{self.ref}: {self.figures()}"

    def metrics(self) -> dict:
        """JSON-able figures for the job row."""
        return {"candles": self.candles, "candles_per_s": round(self.candles_per_s, 1),
                "reached": iso(self.reached_ms) if self.reached_ms is not None else None,
                "eta_s": round(self.eta_s, 1) if self.eta_s is not None else None}


@dataclass
class IngestResult:
    """What one ingestion or update did."""

    ref: str
    source: str
    symbol: str
    candles: int = 0
    partitions: list[str] = field(default_factory=list)
    bytes_written: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        """One line for the job message and the terminal."""
        if not self.candles:
            through = f" through {iso(self.last_ts)}" if self.last_ts is not None else ""
            return f"{self.ref}: up to date{through}, nothing new to fetch"
        rate = self.candles / self.seconds if self.seconds > 0 else 0.0
        return (f"{self.ref}: {self.candles:,} candles in {len(self.partitions)} partition(s), "
                f"now through {iso(self.last_ts)} ({rate:,.0f} candles/s)")

    def as_dict(self) -> dict:
        """JSON-able, with the summary (the job result)."""
        return {**asdict(self), "summary": self.summary}


@dataclass
class UpdateAllResult:
    """What ``update_all`` did to each dataset."""

    results: list[IngestResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        """Counts only."""
        fetched = sum(r.candles for r in self.results)
        text = f"{len(self.results)} dataset(s) updated ({fetched:,} new candles)"
        if self.skipped:
            text += f", {len(self.skipped)} skipped (no source)"
        return text + (f", {len(self.failed)} failed" if self.failed else "")

    @property
    def summary(self) -> str:
        """The headline, then each failure."""
        return "; ".join([self.headline, *(f"{ref}: {error}" for ref, error in self.failed.items())])

    def as_dict(self) -> dict:
        """JSON-able, with the summary."""
        return {"results": [r.as_dict() for r in self.results], "skipped": self.skipped, "failed": self.failed,
                "summary": self.summary}


# --- the public operations: each takes the acting person and checks the trader role ------------------------
def ingest(target: MarketData | Datasets, source: CandleSource | str, symbol: str, interval: str, start_ms: int,
           end_ms: int | None = None, *, actor: Actor, **options: Any) -> IngestResult:
    """``fetch_range`` on behalf of ``actor`` (a trader): fetch a range of closed candles into its dataset."""
    actor.require("trader", "ingest market data")
    return fetch_range(target, source, symbol, interval, start_ms, end_ms, actor.name, **options)


def update(target: MarketData | Datasets, ref: DatasetRef | str, *, actor: Actor, **options: Any) -> IngestResult:
    """``fetch_new`` on behalf of ``actor`` (a trader): bring a dataset up to its last closed candle."""
    actor.require("trader", "update market data")
    return fetch_new(target, ref, actor.name, **options)


def update_all(target: MarketData | Datasets, *, actor: Actor, **options: Any) -> UpdateAllResult:
    """``fetch_new_all`` on behalf of ``actor`` (a trader): update every dataset that came from a source."""
    actor.require("trader", "update market data")
    return fetch_new_all(target, actor.name, **options)


# --- the operations (run by the public functions above and by the job bodies, whose submitter was checked) ---
def fetch_range(
    target: MarketData | Datasets,
    source: CandleSource | str,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int | None = None,
    actor: str = "",
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    *,
    now_ms: int | None = None,
) -> IngestResult:
    """Fetch ``symbol``'s closed ``interval`` candles with open times in ``[start_ms, end_ms)`` into its dataset.

    Only what the dataset lacks before its first or after its last candle is fetched, so a re-run
    resumes where a failed or cancelled one stopped and fetches nothing when all is there. The still-open
    candle is never stored (``end_ms`` is clipped to the current candle's open time). Every candle is
    checked against the OHLCV contract; each partition is written atomically once complete.
    ``cancelled`` is called between pages: a true result, or a JobCancelled it raises, stops the run
    after storing what was fetched. Raises BadInput, InvalidCandles, ServiceUnavailable or JobCancelled.
    """
    datasets = _datasets(target)
    ohlcv.check_interval(interval)
    candle_source = source if isinstance(source, CandleSource) else open_source(source, _settings(target))
    candle_source.require_credentials()
    candle_source.check_interval(interval)
    source_symbol = candle_source.resolve(symbol)
    ref = DatasetRef.of(candle_source.exchange_id, candle_source.dataset_symbol(source_symbol), interval)
    if end_ms is not None and start_ms >= end_ms:
        raise BadInput(f"start {iso(start_ms)} is not before end {iso(end_ms)}")
    end = last_closed_end(interval, now_ms) if end_ms is None else min(end_ms, last_closed_end(interval, now_ms))
    return _fetch_into(datasets, candle_source, source_symbol, ref, _missing_ranges(datasets, ref, start_ms, end),
                       actor, progress, cancelled)


def fetch_new(
    target: MarketData | Datasets,
    ref: DatasetRef | str,
    actor: str = "",
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    *,
    source: CandleSource | None = None,
    now_ms: int | None = None,
) -> IngestResult:
    """Bring ``ref`` up to its last closed candle, fetching only candles after the manifest's last one.

    When nothing new can exist yet, no source is contacted at all.
    """
    datasets = _datasets(target)
    ref = DatasetRef.parse(ref) if isinstance(ref, str) else ref
    manifest = datasets.manifest(ref)
    if manifest.external or manifest.last_ts is None:
        raise BadInput(f"{ref} has no manifest of ours to update from; ingest it first")
    start = ohlcv.next_interval_start(manifest.last_ts, ref.interval)
    end = last_closed_end(ref.interval, now_ms)
    if start >= end:
        return IngestResult(str(ref), ref.exchange, ref.symbol, first_ts=manifest.first_ts, last_ts=manifest.last_ts)
    if source is None:
        if not is_source(ref.exchange):
            raise BadInput(f"{ref} did not come from a source the console can fetch from (exchange '{ref.exchange}')")
        source = open_source(ref.exchange, _settings(target))
    source.require_credentials()
    symbol = _source_symbol(manifest) or source.resolve(ref.symbol)
    return _fetch_into(datasets, source, symbol, ref, [(start, end)], actor, progress, cancelled)


def fetch_new_all(
    target: MarketData | Datasets,
    actor: str = "",
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    *,
    now_ms: int | None = None,
) -> UpdateAllResult:
    """Update every dataset that came from a source; one failing does not stop the others (cancel does)."""
    datasets = _datasets(target)
    entries = datasets.catalog()
    outcome = UpdateAllResult()
    todo = [e.ref for e in entries if not e.external and is_source(e.ref.exchange)]
    outcome.skipped = [str(e.ref) for e in entries if e.ref not in todo]
    for index, ref in enumerate(todo):
        step = _scaled(progress, index, len(todo))
        try:
            outcome.results.append(fetch_new(target, ref, actor, step, cancelled, now_ms=now_ms))
        except JobCancelled:
            raise
        except NexusError as error:
            outcome.failed[str(ref)] = str(error)
    return outcome


def last_closed_end(interval: str, now_ms: int | None = None) -> int:
    """Open time of the still-open candle: every candle opening before it is closed."""
    now = clock.now_ms() if now_ms is None else now_ms
    return int(ohlcv.floor_to_interval(np.array([now], dtype=np.int64), interval)[0])


def is_source(exchange: str) -> bool:
    """True when datasets of this exchange id can be fetched (Alpaca, Binance, any ccxt exchange)."""
    return exchange in NAMED_SOURCES or exchange in ccxt_exchange_ids()


# --- jobs ----------------------------------------------------------------------------------------------
def start_ingest(
    jobs: Jobs, source: str, symbol: str, interval: str, start_ms: int, end_ms: int | None, actor: Actor
) -> str:
    """Submit an ``ingest`` job for ``actor`` (a trader); return its id (follow it with ``jobs.get``)."""
    actor.require("trader", "ingest market data")
    params = {"source": source, "symbol": symbol, "interval": interval, "start_ms": int(start_ms),
              "end_ms": None if end_ms is None else int(end_ms), "actor": actor.name}
    title = f"Ingest {source} {symbol} {interval} from {iso(start_ms)[:10]}"
    return jobs.submit(INGEST_KIND, params, actor.name, title)


def start_update(jobs: Jobs, ref: DatasetRef | str | None, actor: Actor) -> str:
    """Submit an ``update`` job (a trader's) for one dataset, or for every one when ``ref`` is None; its id."""
    actor.require("trader", "update market data")
    params = {"ref": None if ref is None else str(ref), "actor": actor.name}
    return jobs.submit(UPDATE_KIND, params, actor.name, f"Update {ref or 'all datasets'}")


def ingest_job(ctx: JobContext, services: MarketData, source: str, symbol: str, interval: str, start_ms: int,
               end_ms: int | None = None, actor: str = "") -> dict:
    """Job body of ``start_ingest``."""
    result = fetch_range(services, source, symbol, interval, start_ms, end_ms, actor,
                    progress=_reporter(ctx), cancelled=ctx.check_cancelled)
    return result.as_dict()


def update_job(ctx: JobContext, services: MarketData, ref: str | None = None, actor: str = "") -> dict:
    """Job body of ``start_update``; fails, naming them, when some datasets could not be updated."""
    if ref is not None:
        return fetch_new(services, ref, actor, _reporter(ctx), ctx.check_cancelled).as_dict()
    outcome = fetch_new_all(services, actor, _reporter(ctx), ctx.check_cancelled)
    if outcome.failed:
        raise NexusError(outcome.summary)
    return outcome.as_dict()


def _reporter(ctx: JobContext) -> ProgressCallback:
    def report(state: IngestProgress) -> None:
        ctx.progress(state.fraction, state.message(), **state.metrics())

    return report


# --- the fetch loop ------------------------------------------------------------------------------------
def _fetch_into(
    datasets: Datasets,
    source: CandleSource,
    symbol: str,
    ref: DatasetRef,
    ranges: list[tuple[int, int]],
    actor: str,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
) -> IngestResult:
    result = IngestResult(str(ref), source.name, symbol)
    tracker = _Tracker(str(ref), ranges, progress)
    started = time.monotonic()
    note = {"ingest": source.name, "source_symbol": symbol}
    writer = PartitionWriter(datasets, ref, f"{source.name} {symbol}", actor, note)
    with writer:
        try:
            for start, end in ranges:
                for page in source.fetch(symbol, ref.interval, start, end):
                    timestamps = page["timestamp"].to_numpy()
                    writer.add(page, timestamps)
                    tracker.advance(start, len(page), int(timestamps[-1]))
                    if cancelled is not None and cancelled():
                        raise JobCancelled("cancelled by an operator")
                writer.flush()
                tracker.finish_range(start, end)
        except (JobCancelled, KeyboardInterrupt):
            writer.flush()  # keep what was fetched, written whole
            raise
        except ServiceUnavailable as error:
            writer.flush()
            writer.wait()
            stored = writer.last_ts
            kept = f"{ref} is stored through {iso(stored)}" if stored is not None else "nothing new stored"
            raise ServiceUnavailable(f"{error}; {kept}; run it again to resume from there") from None
        finally:
            result.seconds = time.monotonic() - started
    for written in writer.written:
        result.candles += written.rows_added
        result.partitions += written.partitions_written
        result.bytes_written += written.bytes_written
    manifest = _manifest_or_none(datasets, ref)
    if manifest is not None:
        result.first_ts, result.last_ts = manifest.first_ts, manifest.last_ts
    return result


class _Tracker:
    """Turns pages into IngestProgress: candles, speed, date reached, share of the span done, ETA."""

    def __init__(self, ref: str, ranges: list[tuple[int, int]], callback: ProgressCallback | None):
        self.ref, self.callback = ref, callback
        self.total_ms = sum(end - start for start, end in ranges) or 1
        self.done_ms = 0  # of ranges already finished
        self.candles = 0
        self.started = time.monotonic()
        self.reached_ms: int | None = None

    def advance(self, range_start: int, candles: int, reached_ms: int) -> None:
        self.candles += candles
        self.reached_ms = reached_ms
        self._report(self.done_ms + max(reached_ms - range_start, 0), reached_ms)

    def finish_range(self, start: int, end: int) -> None:
        self.done_ms += end - start
        self._report(self.done_ms, self.reached_ms)

    def _report(self, covered_ms: int, reached_ms: int | None) -> None:
        if self.callback is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        fraction = min(covered_ms / self.total_ms, 1.0)
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        self.callback(IngestProgress(self.ref, self.candles, self.candles / elapsed, reached_ms, fraction, eta))


def _missing_ranges(datasets: Datasets, ref: DatasetRef, start: int, end: int) -> list[tuple[int, int]]:
    """Parts of ``[start, end)`` before the dataset's first candle and after its last one."""
    manifest = _manifest_or_none(datasets, ref)
    if manifest is None or manifest.last_ts is None:
        return [(start, end)] if start < end else []
    if manifest.external:
        raise BadInput(f"{ref} holds files without a manifest; ingest into it is not possible")
    ranges = [(start, min(end, manifest.first_ts))]
    ranges.append((max(start, ohlcv.next_interval_start(manifest.last_ts, ref.interval)), end))
    return [(lo, hi) for lo, hi in ranges if lo < hi]


def _manifest_or_none(datasets: Datasets, ref: DatasetRef) -> Manifest | None:
    try:
        return datasets.manifest(ref)
    except DatasetNotFound:
        return None


def _source_symbol(manifest: Manifest) -> str | None:
    """The source's spelling of the symbol, as the last ingestion recorded it."""
    for entry in reversed(manifest.imports):
        if entry.get("source_symbol"):
            return str(entry["source_symbol"])
    return None


def _datasets(target: MarketData | Datasets) -> Datasets:
    return target if isinstance(target, Datasets) else target.datasets


def _settings(target: MarketData | Datasets) -> Settings:
    """The runtime's settings, or the process settings when only Datasets were given."""
    return get_settings() if isinstance(target, Datasets) else target.settings


def _scaled(progress: ProgressCallback | None, index: int, count: int) -> ProgressCallback | None:
    """A callback reporting one dataset's progress as its share of an update of ``count`` datasets."""
    if progress is None:
        return None

    def report(state: IngestProgress) -> None:
        fraction = (index + state.fraction) / count
        progress(IngestProgress(f"[{index + 1}/{count}] {state.ref}", state.candles, state.candles_per_s,
                                state.reached_ms, fraction, state.eta_s))

    return report


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
