"""The job queue: Huey on SQLite by default, on the Redis at 127.0.0.1:6379 when REDIS_URL is set."""

from __future__ import annotations

import uuid
from datetime import timedelta

from huey import RedisHuey, SqliteHuey
from sqlalchemy import update

from services.core import clock, leases
from services.core.config import load_settings
from services.core.records import jobs as jobs_table
from services.core.records import leases as leases_table
from services.jobs.queue import Jobs, make_queue


def test_sqlite_queue_by_default(tmp_path):
    assert isinstance(make_queue(load_settings(nexus_home=tmp_path)), SqliteHuey)


def test_redis_queue_carries_a_task_between_processes_of_the_same_name(tmp_path):
    settings = load_settings(nexus_home=tmp_path, redis_url="redis://127.0.0.1:6379/15")
    producer, consumer = make_queue(settings), make_queue(settings)
    assert isinstance(producer, RedisHuey)
    producer.flush()
    seen = []

    @producer.task(name="probe")
    def probe(value: str) -> None:
        seen.append(value)

    consumer.task(name="probe")(probe.func)
    marker = uuid.uuid4().hex
    probe(marker)
    assert producer.pending_count() == 1
    consumer.execute(consumer.dequeue())
    assert seen == [marker] and producer.pending_count() == 0
    producer.flush()


def _jobs(runtime, bodies: dict, sent: list) -> Jobs:
    return Jobs(runtime.engine, enqueue=sent.append, bodies=bodies, queued_too_long_s=60)


def _age(runtime, job_id: str, **columns_ago_s: float) -> None:
    with runtime.engine.begin() as connection:
        connection.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(
            **{column: clock.now() - timedelta(seconds=ago) for column, ago in columns_ago_s.items()}))


def test_a_queued_job_nobody_takes_is_queued_again_once_then_failed_with_the_reason(runtime):
    sent: list[str] = []
    jobs = _jobs(runtime, {"noop": lambda ctx: {}}, sent)
    job_id = jobs.submit("noop", {}, actor="test")
    assert jobs.sweep_stale() == 0 and sent == [job_id]  # fresh: left alone

    _age(runtime, job_id, created_at=120)
    assert jobs.sweep_stale() == 1 and sent == [job_id, job_id]
    again = jobs.get(job_id)
    assert again.status == "queued" and again.message.startswith("queued again")
    assert jobs.sweep_stale() == 0 and len(sent) == 2  # once only

    _age(runtime, job_id, heartbeat_at=120)
    assert jobs.sweep_stale() == 1
    failed = jobs.get(job_id)
    assert failed.status == "failed" and "REDIS_URL" in failed.error and len(sent) == 2


def test_a_stopping_worker_hands_its_running_job_back_and_the_next_run_continues(runtime):
    sent: list[str] = []

    def long_job(ctx) -> dict:
        if ctx.attempt == 1:
            jobs.stopping.set()  # SIGTERM arrives while it runs
            ctx.check_cancelled()
        return {"attempt": ctx.attempt}

    jobs = _jobs(runtime, {"long": long_job}, sent)
    job_id = jobs.submit("long", {}, actor="test")
    jobs.run(job_id)
    handed = jobs.get(job_id)
    assert handed.status == "queued" and "handed back" in handed.message and sent == [job_id, job_id]

    jobs.stopping.clear()  # another worker takes it
    jobs.run(job_id)
    assert jobs.get(job_id).status == "succeeded" and jobs.get(job_id).result == {"attempt": 2}


def test_a_lease_has_one_holder_until_it_runs_out(runtime):
    assert leases.take(runtime.engine, "upkeep", 55, holder="a")
    assert not leases.take(runtime.engine, "upkeep", 55, holder="b")
    assert leases.take(runtime.engine, "upkeep", 55, holder="a")  # renewed by its holder
    with runtime.engine.begin() as connection:
        connection.execute(update(leases_table).values(expires_at=clock.now() - timedelta(seconds=1)))
    assert leases.take(runtime.engine, "upkeep", 55, holder="b")
    assert not leases.take(runtime.engine, "upkeep", 55, holder="a")
