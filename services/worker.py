"""The Huey worker: ``huey_consumer services.worker.huey`` runs every kind of job of the console."""

from __future__ import annotations

from huey import crontab

import services.graph_upkeep  # registers the graph_run job kind and the runs' upkeep
import services.ingest  # registers the ingest and update job kinds
import services.strategies  # registers the lona_backtest job kind
import services.trading  # registers the execute job kind
from services.jobs import record_worker_beat
from services.runtime import get_runtime

huey = get_runtime().queue


@huey.task()
def run_job(job_id: str) -> None:
    """Run one job recorded in the jobs table."""
    get_runtime().jobs.run(job_id)


@huey.periodic_task(crontab(minute="*"))
def upkeep() -> None:
    """Every minute: note the worker is alive, fail jobs whose worker died, expire proposals, retry and reconcile
    orders."""
    runtime = get_runtime()
    record_worker_beat(huey)
    runtime.jobs.sweep_stale()
    services.trading.upkeep()


@huey.on_startup()
def reconcile_at_start() -> None:
    """A worker that starts after a crash first settles what the crash left half-done."""
    runtime = get_runtime()
    record_worker_beat(huey)
    runtime.jobs.sweep_stale()
    runtime.orders.reconcile()
