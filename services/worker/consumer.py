"""The Huey tasks every process attaches to its queue: run one job, and the periodic upkeep.

``attach`` is called by the composition root (``services.runtime``) when it builds the queue, so the
process that submits a job and the consumer that runs it (``huey_consumer cli.worker.huey``) share the
same task names.
"""

from __future__ import annotations

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper

from services.agents.runs import sync_runs
from services.jobs.queue import record_worker_beat
from services.knowledge.harvest import refresh_if_due
from services.trading import book
from services.worker.kinds import Services


def attach(huey: SqliteHuey | RedisHuey, services: Services) -> TaskWrapper:
    """Register the console's tasks on ``huey``; return the task that runs one job by id."""

    @huey.task(name="run_job")
    def run_job(job_id: str) -> None:
        """Run one job recorded in the jobs table."""
        services.jobs.run(job_id)

    @huey.periodic_task(crontab(minute="*"), name="upkeep")
    def upkeep() -> None:
        """Every minute: note the worker is alive, fail jobs whose worker died, expire proposals, retry and
        reconcile orders, settle runs whose job ended without them, resume fully decided runs, queue a
        knowledge-base refresh when the last one is old, and notify approvers (last: a channel that is down delays
        nothing else)."""
        record_worker_beat(huey)
        services.jobs.sweep_stale()
        book.upkeep(services.orders)
        sync_runs(services)
        refresh_if_due(services.jobs)
        services.notifications.run_once()

    @huey.on_startup(name="reconcile_at_start")
    def reconcile_at_start() -> None:
        """A worker that starts after a crash first settles what the crash left half-done."""
        record_worker_beat(huey)
        services.jobs.sweep_stale()
        services.orders.reconcile()

    return run_job
