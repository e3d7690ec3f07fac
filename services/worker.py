"""The Huey worker: ``huey_consumer services.worker.huey`` runs every kind of job of the console."""

from __future__ import annotations

from huey import crontab

import services.strategies  # noqa: F401  (registers the lona_backtest job kind)
from services.runtime import get_runtime

huey = get_runtime().queue


@huey.task()
def run_job(job_id: str) -> None:
    """Run one job recorded in the jobs table."""
    get_runtime().jobs.run(job_id)


@huey.periodic_task(crontab(minute="*"))
def sweep_stale_jobs() -> None:
    """Fail jobs whose worker died (no heartbeat)."""
    get_runtime().jobs.sweep_stale()
