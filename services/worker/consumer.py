"""The Huey tasks every process attaches to its queue (run one job, the periodic upkeep) and the consumer.

``attach`` is called by the composition root (``services.runtime``) when it builds the queue, so the
process that submits a job and the consumer that runs it (``python -m cli.worker``) share the same task
names. The upkeep runs on one worker per minute however many there are: the one that holds the ``upkeep``
lease in the records database.
"""

from __future__ import annotations

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from huey.consumer import Consumer

from services.agents.runs import sync_runs
from services.core import leases
from services.jobs.queue import Jobs, record_worker_beat
from services.knowledge.harvest import refresh_if_due
from services.review import store as review
from services.trading import book
from services.worker.kinds import Services

#: the upkeep lease outlives one minute's run a little less than the minute, so a dead holder is replaced
UPKEEP_LEASE_S = 55.0


def attach(huey: SqliteHuey | RedisHuey, services: Services) -> TaskWrapper:
    """Register the console's tasks on ``huey``; return the task that runs one job by id."""

    @huey.task(name="run_job")
    def run_job(job_id: str) -> None:
        """Run one job recorded in the jobs table."""
        services.jobs.run(job_id)

    @huey.periodic_task(crontab(minute="*"), name="upkeep")
    def upkeep() -> None:
        """Every minute: note the worker is alive; then, on the one worker holding the upkeep lease, fail or
        re-queue jobs nobody runs, expire proposals, retry and reconcile orders, settle runs whose job ended
        without them, resume fully decided runs, queue a knowledge-base refresh and a decision review when the
        last one is old, and notify approvers (last: a channel that is down delays nothing else)."""
        record_worker_beat(huey)
        if not leases.take(services.jobs.engine, "upkeep", UPKEEP_LEASE_S):
            return
        services.jobs.sweep_stale()
        book.upkeep(services.orders)
        sync_runs(services)
        refresh_if_due(services.jobs)
        review.refresh_if_due(services.jobs)
        services.notifications.run_once()

    @huey.on_startup(name="reconcile_at_start")
    def reconcile_at_start() -> None:
        """A worker that starts after a crash first settles what the crash left half-done."""
        record_worker_beat(huey)
        services.jobs.sweep_stale()
        services.orders.reconcile()

    return run_job


class GracefulConsumer(Consumer):
    """Huey's consumer with SIGTERM as the graceful signal (what a container platform sends first).

    On stop, running jobs are told to hand themselves back at their next progress check (long jobs: graph
    runs, ingests; a graph run then continues from its checkpoint elsewhere); short ones simply finish. Jobs
    still running when ``shutdown_timeout`` ends are handed back too, never left "running" to time out.
    """

    def __init__(self, huey: SqliteHuey | RedisHuey, jobs: Jobs, **options: object):
        super().__init__(huey, graceful_signal="TERM", **options)
        self._jobs = jobs

    def stop(self, graceful: bool = False) -> None:
        """Stop taking jobs, wait for the running ones (up to the grace), hand back what is left."""
        self._jobs.stopping.set()
        super().stop(graceful=graceful)
        self._jobs.hand_back_running()
