"""What the Strategies page shows and reads, computed without Streamlit: tables, choices, uploads, progress."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import PurePath
from typing import Any

import pandas as pd

from services.core import clock
from services.core.errors import BadInput
from services.jobs.queue import Job
from services.market_data.datasets import CatalogEntry
from services.runtime import Runtime
from services.strategies import backtests as strategies
from services.strategies.backtests import Backtest, PublishedSymbol, StrategyRecord
from services.strategies.lona.reports import Metrics
from services.strategies.lona.results import Page, Strategy

#: days offered for a backtest when none of its symbols says which days it has data for
DEFAULT_BACKTEST_DAYS = 90


def _table(rows: list[dict[str, Any]], columns: dict[str, str], *, ms: tuple[str, ...] = (),
           iso: tuple[str, ...] = ()) -> pd.DataFrame:
    """``rows`` as a table of ``columns`` (field → heading, in order); ``ms`` fields hold Unix ms, ``iso`` ISO text."""
    frame = pd.DataFrame(rows, columns=list(columns))
    for name in ms:
        frame[name] = pd.to_datetime(frame[name], unit="ms", utc=True)
    for name in iso:
        frame[name] = pd.to_datetime(frame[name], utc=True, errors="coerce", format="mixed")
    return frame.rename(columns=columns)


def page_count(page: Page) -> int:
    """How many pages the listing has: from Lona's total, else the pages seen so far plus one if there is more."""
    current = page.skip // page.limit + 1
    known = -(-page.total // page.limit) if page.total else 1
    return max(known, current + (1 if page.has_next else 0))


def strategies_table(items: list[Strategy]) -> pd.DataFrame:
    """Strategies as listed by Lona."""
    return _table([asdict(s) for s in items], {"name": "name", "id": "id", "description": "description",
                                               "version": "version", "created_at": "created",
                                               "updated_at": "updated"}, iso=("created_at", "updated_at"))


def strategy_choices(listed: list[Strategy], submitted: list[StrategyRecord]) -> dict[str, str]:
    """Strategy id → label, for picking one: those submitted from this console first, then those Lona listed."""
    choices = {r.id: f"{r.name} ({r.id})" for r in submitted}
    choices.update({s.id: f"{s.name} ({s.id})" for s in listed if s.id not in choices})
    return choices


def upload_source(file_name: str | None, data: bytes | None, pasted: str, name: str) -> tuple[str, str]:
    """(name, code) of a strategy to upload: the file's text (named after the file by default), else pasted code."""
    if data is not None:
        try:
            code = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(f"{file_name} is not UTF-8 text: save it as UTF-8 and upload it again") from None
        name = name.strip() or PurePath(file_name or "strategy.py").stem
    else:
        code, name = pasted, name.strip()
    if not code.strip():
        raise BadInput("nothing to upload: choose a .py file or paste the strategy's code")
    if not name:
        raise BadInput("give the pasted strategy a name")
    return name, code


def catalog_days(entry: CatalogEntry) -> tuple[date, date] | None:
    """The UTC days of a dataset's first and last candles (None when it has none)."""
    if entry.first_ts is None or entry.last_ts is None:
        return None
    return clock.from_ms(entry.first_ts).date(), clock.from_ms(entry.last_ts).date()


def published_table(items: list[PublishedSymbol]) -> pd.DataFrame:
    """Our dataset versions published to Lona, with the symbol each became."""
    return _table([asdict(p) for p in items], {"name": "symbol", "symbol_id": "symbol id", "dataset_ref": "dataset",
                                               "dataset_version": "dataset version", "first_ts": "first candle",
                                               "last_ts": "last candle", "candles": "candles", "actor": "by",
                                               "created_at": "published"}, ms=("first_ts", "last_ts"))


def symbol_choices(published: list[PublishedSymbol], entries: list[CatalogEntry]) -> dict[str, str]:
    """Backtest symbol → label: the Lona symbols we published, then our datasets (published when the run starts)."""
    choices = {p.symbol_id: f"{p.name} · Lona {p.symbol_id} ({p.dataset_ref})" for p in published}
    choices.update({str(e.ref): f"{e.ref} · dataset, published on start" for e in entries})
    return choices


def backtest_days(chosen: list[str], published: list[PublishedSymbol], entries: list[CatalogEntry],
                  today: date) -> tuple[date, date]:
    """The days all chosen symbols span (published ranges, datasets' candles), else the last 90 days."""
    spans = [(clock.from_ms(p.first_ts).date(), clock.from_ms(p.last_ts).date())
             for p in published if p.symbol_id in chosen]
    spans += [days for e in entries if str(e.ref) in chosen and (days := catalog_days(e))]
    if not spans:
        return today - timedelta(days=DEFAULT_BACKTEST_DAYS), today
    return min(s for s, _ in spans), max(e for _, e in spans)


def submissions_table(records: list[StrategyRecord]) -> pd.DataFrame:
    """Strategies submitted from this console."""
    return _table([asdict(r) for r in records], {"name": "name", "id": "id", "origin": "origin",
                                                 "provider": "provider", "model": "model", "actor": "by",
                                                 "created_at": "submitted", "description": "description"})


def backtests_table(backtests: list[Backtest]) -> pd.DataFrame:
    """Backtests started from this console with their last known status (progress 1 once ended)."""
    rows = [{**asdict(b), "progress": 1.0 if b.done else b.progress, "symbol_ids": ", ".join(b.symbol_ids)}
            for b in backtests]
    return _table(rows, {"report_id": "report id", "strategy_id": "strategy id", "status": "status",
                         "progress": "progress", "category": "failure", "symbol_ids": "symbols",
                         "start_date": "from", "end_date": "to", "initial_cash": "initial cash",
                         "commission": "commission", "actor": "by", "created_at": "started",
                         "updated_at": "updated"})


def report_choices(history: list[Backtest], wanted: str | None) -> dict[str, str]:
    """Report id → label (status, strategy, days): ``wanted`` (perhaps started elsewhere) first, then the history."""
    choices = {b.report_id: f"{b.report_id} · {b.status.lower()} · strategy {b.strategy_id} · {b.start_date} → "
               f"{b.end_date}" for b in history}
    if wanted and wanted not in choices:
        choices = {wanted: f"{wanted} · not started from this console", **choices}
    return choices


def trace_table(backtest: Backtest) -> pd.DataFrame:
    """Exactly which data a backtest ran on: our dataset versions and ranges behind its Lona symbols."""
    return _table(backtest.datasets, {"symbol_id": "symbol id", "ref": "dataset", "version": "dataset version",
                                      "first_ts": "first candle", "last_ts": "last candle"}, ms=("first_ts", "last_ts"))


def trades_heading(total_trades: int | None, listed: int) -> str:
    """The heading over the trade list, agreeing with the Trades metric above it.

    Lona's count and its trade history can differ (no history sent, or a capped one); the heading says so
    instead of showing "Trades 42" over "Trades (0)".
    """
    if total_trades is None or total_trades == listed:
        return f"**Trade history** ({listed:,} trades)"
    if listed == 0:
        return f"**Trade history**: Lona counted {total_trades:,} trades but sent no trade list"
    return f"**Trade history**: {listed:,} of the {total_trades:,} trades Lona counted"


def bar_fraction(progress: float | None) -> float:
    """A progress (0–1, None when unknown) as a progress bar can draw it."""
    return min(max(progress or 0.0, 0.0), 1.0)


@dataclass(frozen=True)
class BacktestProgress:
    """A backtest as its row says, with the job following it (None when it has none or the job is gone)."""

    backtest: Backtest
    job: Job | None

    @property
    def stalled(self) -> bool:
        """True when the backtest has not ended but nothing follows it any more (its job ended or is gone)."""
        return not self.backtest.done and (self.job is None or not self.job.active)

    @property
    def fraction(self) -> float:
        """How far it is, 0–1 (1 once ended, whatever the outcome)."""
        return 1.0 if self.backtest.done else bar_fraction(self.backtest.progress)

    @property
    def text(self) -> str:
        """One line: report id, status and, as it applies, the failure category, why it is stalled or the job's note."""
        backtest, job = self.backtest, self.job
        text = f"{backtest.report_id} · {backtest.status.lower()}"
        if backtest.status == "FAILED":
            return f"{text} · {backtest.category or 'no category'}"
        if self.stalled:
            return f"{text} · no longer followed: {backtest.error or (job and job.error) or 'its job is gone'}"
        if not backtest.done and job is not None and job.message:
            return f"{text} · {job.message}"
        return text


def recent_backtests(runtime: Runtime, limit: int) -> list[BacktestProgress]:
    """The latest backtests started here with their jobs (jobs whose worker stopped are marked failed first)."""
    runtime.jobs.sweep_stale()
    found = []
    for backtest in strategies.backtest_history(runtime, limit=limit):
        try:
            job = runtime.jobs.get(backtest.job_id) if backtest.job_id else None
        except BadInput:  # the job rows were cleaned up
            job = None
        found.append(BacktestProgress(backtest, job))
    return found


def metric_rows(metrics: Metrics) -> list[tuple[str, str]]:
    """(label, value) of the headline metrics, percents with two decimals, 'n/a' for what Lona did not report."""
    def shown(value: float | int | None, shape: str) -> str:
        return "n/a" if value is None else shape.format(value)

    return [
        ("Total return", shown(metrics.total_return_pct, "{:.2f} %")),
        ("Max drawdown", shown(metrics.max_drawdown_pct, "{:.2f} %")),
        ("Win rate", shown(metrics.win_rate_pct, "{:.2f} %")),
        ("Sharpe ratio", shown(metrics.sharpe_ratio, "{:.2f}")),
        ("Trades", shown(metrics.total_trades, "{:d}")),
    ]
