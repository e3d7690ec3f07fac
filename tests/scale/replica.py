"""What one replica does in the multi-process tests: ``python -m tests.scale.replica ACTION [ARGS]``.

Each action imports everything first and then waits for the moment in ``NEXUS_GO_AT`` (epoch seconds), so
the processes of a test hit the shared database or store together, as replicas that start at once do.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path


def _go() -> None:
    start = float(os.environ.get("NEXUS_GO_AT", "0"))
    time.sleep(max(0.0, start - time.time()))


def migrate(url: str) -> None:
    """A replica starting on ``url``: bring the schema to head."""
    from services.core.db import ensure_schema, make_engine

    engine = make_engine(url)
    _go()
    ensure_schema(engine)


def checkpointer(url: str) -> None:
    """A worker's first graph run: open the PostgreSQL checkpointer (which sets its tables up)."""
    from services.agents import checkpoints
    from services.core.config import load_settings

    settings = load_settings(database_url=url)
    _go()
    with checkpoints.open_checkpointer(settings) as saver:
        saver.get_tuple({"configurable": {"thread_id": "probe"}})


def run_job(job_id: str) -> None:
    """A fresh worker (its own NEXUS_HOME, the shared database and blob store) runs one queued job."""
    from services.runtime import get_runtime

    runtime = get_runtime()
    _go()
    runtime.jobs.run(job_id)
    job = runtime.jobs.get(job_id)
    print(job.status, job.error or "")
    sys.exit(0 if job.status == "succeeded" else 1)


HOUR = 3_600_000
#: candles of a dataset the import tests write: 80 days of hours, three monthly partitions
IMPORT_CANDLES = 24 * 80


def _datasets(store: str, lease_s: str):
    """Datasets on ``azure`` (the environment's Azurite and container) or ``local:FOLDER``, with a lease."""
    from services.core.config import load_settings
    from services.core.storage import LocalBlobStore, open_blob_store
    from services.market_data.datasets import Datasets

    settings = load_settings()
    blobs = LocalBlobStore(Path(store.split(":", 1)[1])) if store.startswith("local:") else open_blob_store(settings)
    return Datasets(blobs, settings.cache_dir, settings.ohlcv_container, lease_s=float(lease_s))


def die_while_writing(store: str, ref: str, lease_s: str) -> None:
    """A writer killed right after its first partition: journal and one torn partition left behind."""
    from services.market_data.datasets import DatasetRef
    from tests.support.replicas import flat_candles

    datasets = _datasets(store, lease_s)
    datasets.write(DatasetRef.parse(ref), flat_candles(HOUR, IMPORT_CANDLES, 7.0), replace_overlap=True,
                   on_partition=lambda _name: os._exit(9))


def import_replacing(store: str, ref: str, price: str, lease_s: str) -> None:
    """An import with replace into ``ref``, waiting (bounded) while another replica holds the dataset."""
    from services.core.errors import DatasetBusy
    from services.market_data.datasets import DatasetRef
    from tests.support.replicas import flat_candles

    datasets = _datasets(store, lease_s)
    frame = flat_candles(HOUR, IMPORT_CANDLES, float(price))
    _go()
    deadline = time.monotonic() + 90
    while True:
        try:
            datasets.write(DatasetRef.parse(ref), frame, replace_overlap=True)
            return
        except DatasetBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def sleepy(ctx, seconds: float = 30.0) -> dict:
    """A long job that reports progress (and so notices a stopping worker); quick when run again."""
    deadline = time.monotonic() + (seconds if ctx.attempt == 1 else 0.0)
    while time.monotonic() < deadline:
        ctx.progress(0.5, "sleeping")
        ctx.check_cancelled()
        time.sleep(0.05)
    return {"summary": "slept", "pid": os.getpid(), "attempt": ctx.attempt}


def with_sleepy(runtime) -> None:
    """Give ``runtime`` the job kinds of the console plus ``sleepy`` (the test's long job)."""
    from services.jobs.queue import Jobs
    from services.worker import kinds

    runtime.jobs = Jobs(runtime.engine, enqueue=runtime._queue_and_task[1],
                        bodies={**kinds.bind(runtime), "sleepy": sleepy},
                        queued_too_long_s=runtime.settings.jobs_queued_too_long_seconds)


def worker() -> None:
    """A worker replica: the graceful consumer on this environment's queue, until SIGTERM."""
    from services.runtime import get_runtime
    from services.worker.consumer import GracefulConsumer

    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    runtime = get_runtime()
    with_sleepy(runtime)
    GracefulConsumer(runtime.queue, runtime.jobs, workers=1, worker_type="thread",
                     shutdown_timeout=runtime.settings.worker_shutdown_grace_seconds).run()


def lona_status() -> None:
    """What a worker replica knows of Lona: configured or not, and a fingerprint of the token it would send."""
    import hashlib

    from services.core.config import load_settings
    from services.strategies.lona.credentials import agent_token

    token = agent_token(load_settings())
    print("not configured" if token is None else
          "configured " + hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16])


ACTIONS = {"worker": worker, "lona-status": lona_status, "migrate": migrate, "checkpointer": checkpointer,
           "run-job": run_job,
           "die-while-writing": die_while_writing, "import-replacing": import_replacing}

if __name__ == "__main__":
    ACTIONS[sys.argv[1]](*sys.argv[2:])
