"""Jobs never stay queued forever, and a stopping worker hands its jobs back (worker processes, PostgreSQL)."""

from __future__ import annotations

import signal
from datetime import timedelta

from sqlalchemy import update

from services.core import clock
from services.core.records import jobs as jobs_table
from tests.scale.replica import with_sleepy
from tests.support.replicas import replica_env, wait_for


def _console(make_runtime, tmp_path, **settings):
    console = make_runtime(nexus_home=tmp_path / "console", **settings)
    console.queue.immediate = False  # jobs wait on the queue for a worker process
    with_sleepy(console)
    return console


def test_a_job_left_in_a_stopped_replicas_sqlite_queue_is_run_by_another(make_runtime, postgres_url, tmp_path,
                                                                         start_worker):
    console = _console(make_runtime, tmp_path, database_url=postgres_url)
    job_id = console.jobs.submit("sleepy", {"seconds": 0}, actor="test")  # into the console's own queue.db
    with console.engine.begin() as connection:  # ... and that replica stopped a while ago
        connection.execute(update(jobs_table).where(jobs_table.c.id == job_id)
                           .values(created_at=clock.now() - timedelta(hours=1)))
    other = start_worker({"DATABASE_URL": postgres_url, "NEXUS_HOME": str(tmp_path / "other"),
                          "JOBS_QUEUED_TOO_LONG_SECONDS": "60"})

    done = wait_for(lambda: (job := console.jobs.get(job_id)).status == "succeeded" and job, "the job run")

    assert done.result["pid"] == other.pid
    assert done.attempts == 1


def test_sigterm_hands_a_running_job_back_and_another_worker_finishes_it(make_runtime, postgres_url, redis_url,
                                                                         tmp_path, start_worker):
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_url, "WORKER_SHUTDOWN_GRACE_SECONDS": "10"}
    console = _console(make_runtime, tmp_path, database_url=postgres_url, redis_url=redis_url)
    console.queue.flush()
    job_id = console.jobs.submit("sleepy", {"seconds": 60}, actor="test")
    first = start_worker(replica_env(shared, tmp_path / "first"))
    wait_for(lambda: console.jobs.get(job_id).status == "running", "the first worker taking the job")

    first.send_signal(signal.SIGTERM)
    first.wait(timeout=90)

    assert first.returncode == 0, (tmp_path / "worker-0.log").read_text()[-2000:]
    handed = console.jobs.get(job_id)
    assert handed.status == "queued" and "handed back" in handed.message
    second = start_worker(replica_env(shared, tmp_path / "second"))
    done = wait_for(lambda: (job := console.jobs.get(job_id)).status == "succeeded" and job, "the second worker")
    assert done.result == {"summary": "slept", "pid": second.pid, "attempt": 2}
