"""The Overview page's numbers, all real: approvals waiting, jobs, portfolio, data freshness, switches."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from services.core import clock
from services.core.errors import NexusError
from services.jobs.queue import Job
from services.market_data import ohlcv
from services.market_data.datasets import CatalogEntry
from services.market_data.market_hours import market_open
from services.trading.execution.base import Account


@dataclass(frozen=True)
class Overview:
    """What the landing page shows."""

    pending: int
    oldest_pending_s: float | None
    kill_switch: bool
    mode: str
    venue: str
    account: Account | None
    account_error: str | None
    jobs: list[Job]


def age_text(seconds: float | None) -> str:
    """``3 min ago`` / ``2 h ago`` / ``5 d ago``."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


#: a dataset is stale when its last candle is older than this many intervals (plus a weekend when the market
#: closes), i.e. several updates were missed
STALE_AFTER_INTERVALS = 3
_CLOSURE_ALLOWANCE_MS = 3 * 86_400_000


def _stale(entry: CatalogEntry, age_ms: int) -> bool:
    allowed = STALE_AFTER_INTERVALS * ohlcv.approx_interval_ms(entry.ref.interval)
    if market_open(entry.ref.exchange) is not True:  # not a 24/7 venue: nights, weekends and holidays have no candle
        allowed += _CLOSURE_ALLOWANCE_MS
    return age_ms > allowed


def freshness(entries: list[CatalogEntry]) -> pd.DataFrame:
    """Per dataset: the last candle, how long ago it was and whether that is stale, stalest first."""
    now = clock.now_ms()
    rows = [{"dataset": str(e.ref), "status": "stale" if _stale(e, now - e.last_ts) else "fresh",
             "last candle": pd.Timestamp(e.last_ts, unit="ms", tz="UTC"),
             "age": age_text((now - e.last_ts) / 1000), "age_s": (now - e.last_ts) / 1000}
            for e in entries if e.last_ts is not None]
    table = pd.DataFrame(rows)
    return table.sort_values("age_s", ascending=False).drop(columns="age_s") if not table.empty else table


def job_status(job: Job) -> str:
    """A job's status as an operator reads it: a graph run that stopped for approval is waiting, not done."""
    run_status = (job.result or {}).get("status")
    if job.status == "succeeded" and run_status and run_status != "completed":
        return str(run_status).replace("_", " ")
    return job.status


def jobs_table(jobs: list[Job]) -> pd.DataFrame:
    """Recent jobs: kind, title, status, progress, message, who, when."""
    return pd.DataFrame([{"kind": j.kind, "title": j.title, "status": job_status(j), "progress": j.progress,
                          "message": j.message, "actor": j.actor, "created": j.created_at} for j in jobs])


def overview(runtime) -> Overview:
    """Gather the landing page's figures (a venue that is down is reported, not hidden)."""
    pending, oldest = runtime.orders.pending_summary()
    try:
        account, problem = runtime.venue.account(), None
    except NexusError as error:
        account, problem = None, str(error)
    return Overview(pending, oldest, runtime.orders.kill_switch_on(), runtime.venue.mode,
                    runtime.settings.execution_venue, account, problem, runtime.jobs.list(limit=20))
