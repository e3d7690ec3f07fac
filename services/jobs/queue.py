"""Background jobs (ingests, graph runs, backtests) on the Huey task queue, tracked in the records database.

A job row is the truth a browser refresh, another operator or the CLI sees: kind, status, progress,
message, actor, timestamps, result or error. Huey only carries the job id to a worker. A running job
beats a heartbeat; one that stops beating (its worker was killed) is marked failed by ``sweep_stale``.

A queued job that no worker takes within ``QUEUED_TOO_LONG_S`` (its message was lost, or it sits in the
SQLite queue of a replica that stopped) is put on the queue once more, and failed with the reason if it is
still not taken after as long again; a queued job's ``heartbeat_at`` is when it was put back. A worker that
is stopping (SIGTERM) hands back the jobs it cannot finish: they stop at their next progress check (or when
the grace period ends) and go back on the queue for another worker, instead of dying as "running".
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from huey import RedisHuey, SqliteHuey
from sqlalchemy import Engine, select, update

from services.core import clock
from services.core.errors import BadInput, Conflict, NexusError
from services.core.records import jobs as jobs_table

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
HEARTBEAT_S = 5.0
STALE_AFTER_S = 60.0
#: a queued job not taken by any worker for this long is put back on the queue once, then failed
QUEUED_TOO_LONG_S = 900.0


class JobCancelled(NexusError):
    """Raised inside a job when an operator asked to cancel it."""


class JobHandedBack(JobCancelled):
    """Raised inside a job when its worker is stopping: the job goes back on the queue for another worker.

    A kind of cancellation, so job bodies that stop on JobCancelled stop on it too; only the queue (and a
    graph run, which puts its run back to queued) tell the two apart."""


@dataclass(frozen=True)
class Job:
    """A job row."""

    id: str
    kind: str
    status: str
    title: str
    actor: str
    params: dict
    progress: float
    message: str
    metrics: dict
    result: dict | None
    error: str | None
    cancel_requested: bool
    attempts: int
    created_at: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.status in ACTIVE


#: a job's body: ``body(ctx, **params) -> result dict``; the worker's table of job kinds binds them
JobBody = Callable[..., dict | None]


class JobContext:
    """What a running job uses to report progress and notice cancellation."""

    def __init__(self, engine: Engine, job_id: str, min_interval_s: float = 0.5, attempt: int = 1,
                 stopping: threading.Event | None = None):
        self.engine = engine
        self.job_id = job_id
        #: 1 on the first run of the job, more when it was handed back or put back on the queue
        self.attempt = attempt
        self._stopping = stopping or threading.Event()
        self._min_interval = min_interval_s
        self._last_write = 0.0
        self._last_cancel_check = 0.0

    def progress(self, fraction: float, message: str = "", force: bool = False, **metrics: Any) -> None:
        """Record progress (0–1), a message and metrics; writes are throttled unless ``force``."""
        now = time.monotonic()
        if not force and now - self._last_write < self._min_interval:
            return
        self._last_write = now
        values: dict[str, Any] = {"progress": max(0.0, min(1.0, float(fraction))), "message": message,
                                  "heartbeat_at": clock.now()}
        if metrics:
            values["metrics"] = metrics
        with self.engine.begin() as connection:
            connection.execute(update(jobs_table).where(jobs_table.c.id == self.job_id).values(**values))

    def check_cancelled(self) -> None:
        """Raise JobCancelled when an operator asked to cancel (checked at most once a second), JobHandedBack
        when this worker is stopping."""
        if self._stopping.is_set():
            raise JobHandedBack("handed back by a stopping worker")
        now = time.monotonic()
        if now - self._last_cancel_check < 1.0:
            return
        self._last_cancel_check = now
        with self.engine.connect() as connection:
            wanted = connection.execute(
                select(jobs_table.c.cancel_requested).where(jobs_table.c.id == self.job_id)
            ).scalar()
        if wanted:
            raise JobCancelled("cancelled by an operator")


def _row_to_job(row) -> Job:
    return Job(**{k: row._mapping[k] for k in Job.__dataclass_fields__})


class Jobs:
    """Submit, follow, cancel and run jobs.

    The queue knows nothing of what jobs do: it is handed ``enqueue`` (puts a job id on the task queue) and
    ``bodies`` (job kind → body), both bound by the composition root (``services.runtime``) from the worker's
    table of job kinds (``services.worker.kinds``).
    """

    def __init__(self, engine: Engine, enqueue: Callable[[str], object], bodies: Mapping[str, JobBody],
                 queued_too_long_s: float = QUEUED_TOO_LONG_S):
        self.engine = engine
        self._enqueue = enqueue
        self._bodies = bodies
        self.queued_too_long_s = queued_too_long_s
        #: set when this process's worker is stopping; its running jobs hand themselves back
        self.stopping = threading.Event()
        self._running: set[str] = set()
        self._running_lock = threading.Lock()

    def submit(self, kind: str, params: dict, actor: str, title: str = "") -> str:
        """Record a queued job and hand its id to the queue; return the id."""
        if kind not in self._bodies:
            raise BadInput(f"unknown job kind '{kind}'")
        job_id = uuid.uuid4().hex[:16]
        with self.engine.begin() as connection:
            connection.execute(
                jobs_table.insert().values(
                    id=job_id, kind=kind, status="queued", title=title or kind, actor=actor, params=params,
                    progress=0.0, message="queued", metrics={}, cancel_requested=False, attempts=0,
                    created_at=clock.now(),
                )
            )
        self._enqueue(job_id)
        return job_id

    def submit_if_due(self, kind: str, every_s: float, actor: str, title: str = "") -> str | None:
        """Queue a parameterless job of ``kind`` unless one is queued or running or the last one finished less than
        ``every_s`` ago (periodic chores of the upkeep); the new job's id, or None when none was queued."""
        latest = self.list(kind=kind, limit=1)
        if latest and (latest[0].active or (latest[0].finished_at is not None and
                                            (clock.now() - latest[0].finished_at).total_seconds() < every_s)):
            return None
        return self.submit(kind, {}, actor=actor, title=title)

    def get(self, job_id: str) -> Job:
        """One job; BadInput when unknown."""
        with self.engine.connect() as connection:
            row = connection.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise BadInput(f"no job {job_id}")
        return _row_to_job(row)

    def list(self, kind: str | None = None, status: str | None = None, limit: int = 50) -> list[Job]:
        """Newest first, optionally filtered. Stale running jobs are swept first."""
        self.sweep_stale()
        query = select(jobs_table).order_by(jobs_table.c.created_at.desc()).limit(limit)
        if kind:
            query = query.where(jobs_table.c.kind == kind)
        if status:
            query = query.where(jobs_table.c.status == status)
        with self.engine.connect() as connection:
            return [_row_to_job(r) for r in connection.execute(query)]

    def cancel(self, job_id: str, actor: str) -> Job:
        """Ask a job to stop: a queued job is cancelled at once, a running one at its next check."""
        with self.engine.begin() as connection:
            done = connection.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.status == "queued")
                .values(status="cancelled", finished_at=clock.now(), cancel_requested=True,
                        message=f"cancelled by {actor} before it started")
            ).rowcount
            if not done:
                connection.execute(
                    update(jobs_table)
                    .where(jobs_table.c.id == job_id, jobs_table.c.status == "running")
                    .values(cancel_requested=True, message=f"cancel requested by {actor}")
                )
        return self.get(job_id)

    def sweep_stale(self, stale_after_s: float = STALE_AFTER_S) -> int:
        """Fail running jobs whose heartbeat stopped; put queued jobs nobody took back on the queue once, and
        fail them when still not taken after as long again. Return how many jobs changed."""
        now = clock.now()
        cutoff = now - timedelta(seconds=stale_after_s)
        waited = now - timedelta(seconds=self.queued_too_long_s)
        queued = jobs_table.c.status == "queued"
        with self.engine.begin() as connection:
            changed = connection.execute(
                update(jobs_table)
                .where(jobs_table.c.status == "running", jobs_table.c.heartbeat_at < cutoff)
                .values(status="failed", finished_at=now,
                        error="the worker stopped while running this job (no heartbeat); start it again")
            ).rowcount
            changed += connection.execute(
                update(jobs_table)
                .where(queued, jobs_table.c.heartbeat_at.is_not(None), jobs_table.c.heartbeat_at < waited)
                .values(status="failed", finished_at=now,
                        error=f"no worker took this job in {self.queued_too_long_s:.0f} s, even after it was "
                              "queued again: check that a worker runs on the shared queue (REDIS_URL)")
            ).rowcount
            lost = connection.execute(select(jobs_table.c.id).where(
                queued, jobs_table.c.heartbeat_at.is_(None), jobs_table.c.created_at < waited)).scalars().all()
        for job_id in lost:
            changed += self._requeue(job_id, None, f"queued again: no worker took it in "
                                                   f"{self.queued_too_long_s:.0f} s")
        return changed

    def _requeue(self, job_id: str, status: str | None, message: str) -> int:
        """Put a job back on the queue (compare-and-set from queued-never-requeued, or from ``status``)."""
        condition = (jobs_table.c.status == status) if status else (
            (jobs_table.c.status == "queued") & jobs_table.c.heartbeat_at.is_(None))
        with self.engine.begin() as connection:
            moved = connection.execute(
                update(jobs_table).where(jobs_table.c.id == job_id, condition)
                .values(status="queued", heartbeat_at=clock.now(), message=message)
            ).rowcount
        if moved:
            self._enqueue(job_id)
        return moved

    def hand_back_running(self) -> int:
        """Put every job this process is still running back on the queue (a stopping worker whose grace
        period ended); return how many."""
        with self._running_lock:
            running = sorted(self._running)
        return sum(self._requeue(job_id, "running", "handed back by a stopping worker; waiting for another")
                   for job_id in running)

    def run(self, job_id: str) -> None:
        """Execute a queued job in this process (what a worker does with an id from the queue)."""
        started = clock.now()
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.status == "queued")
                .values(status="running", started_at=started, heartbeat_at=started, message="started",
                        attempts=jobs_table.c.attempts + 1)
            ).rowcount
        if not claimed:
            return  # cancelled before it started, or another worker took it
        job = self.get(job_id)
        context = JobContext(self.engine, job_id, attempt=job.attempts, stopping=self.stopping)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, stop), daemon=True)
        beat.start()
        with self._running_lock:
            self._running.add(job_id)
        try:
            result = self._bodies[job.kind](context, **job.params) or {}
            final = {"status": "succeeded", "result": result, "progress": 1.0,
                     "message": result.get("summary", "done")}
        except JobHandedBack:
            final = None
        except JobCancelled as error:
            final = {"status": "cancelled", "error": str(error), "message": str(error)}
        except NexusError as error:
            final = {"status": "failed", "error": str(error), "message": str(error)}
        except Exception as error:  # a job must never be left running because of an unexpected error
            traceback.print_exc()
            final = {"status": "failed", "error": f"{type(error).__name__}: {error}", "message": "failed"}
        finally:
            stop.set()
            beat.join(timeout=2)
            with self._running_lock:
                self._running.discard(job_id)
        if final is None:
            self._requeue(job_id, "running", "handed back by a stopping worker; waiting for another")
            return
        with self.engine.begin() as connection:
            connection.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job_id, jobs_table.c.status != "queued")  # not if handed back meanwhile
                .values(finished_at=clock.now(), **final)
            )

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            with self.engine.begin() as connection:
                connection.execute(
                    update(jobs_table).where(jobs_table.c.id == job_id).values(heartbeat_at=clock.now())
                )

    def run_here(self, job_id: str, timeout_s: float = 600) -> Job:
        """What every ``--wait`` does: run the job in this process unless a worker already took it, then wait
        for its end. Waiting never depends on a worker being up."""
        self.run(job_id)
        return self.wait(job_id, timeout_s)

    def wait(self, job_id: str, timeout_s: float = 600, poll_s: float = 0.5) -> Job:
        """Block until the job finishes (CLI and tests); raise Conflict on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job.status in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise Conflict(f"job {job_id} still {job.status} after {timeout_s:.0f} s")
            time.sleep(poll_s)


def make_queue(settings) -> SqliteHuey | RedisHuey:
    """Huey on Redis when REDIS_URL is set, else on a SQLite file under NEXUS_HOME (warned about in production)."""
    if settings.redis_url:
        return RedisHuey("trade-nexus", url=settings.redis_url.get_secret_value())
    if settings.queue_is_per_replica:
        log.warning("APP_ENV=production without REDIS_URL: the job queue is this replica's own SQLite file; "
                    "set REDIS_URL on every replica so any worker takes any job")
    return SqliteHuey("trade-nexus", filename=str(settings.nexus_home / "queue.db"))


#: key in the queue's own storage where workers note that they are alive (shared by every replica on Redis)
WORKER_BEAT_KEY = "nexus:worker-beat"


def record_worker_beat(queue: SqliteHuey | RedisHuey) -> None:
    """Note that a worker on ``queue`` is alive now (at start and every minute; the health check reads it)."""
    queue.put(WORKER_BEAT_KEY, clock.now())


def last_worker_beat(queue: SqliteHuey | RedisHuey) -> datetime | None:
    """When a worker on ``queue`` last noted it was alive; None when none ever did."""
    return queue.get(WORKER_BEAT_KEY, peek=True)
