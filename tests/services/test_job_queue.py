"""The job queue: Huey on SQLite by default, on the Redis at 127.0.0.1:6379 when REDIS_URL is set."""

from __future__ import annotations

import uuid

from huey import RedisHuey, SqliteHuey

from services.core.config import load_settings
from services.jobs.queue import make_queue


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
