"""What one replica does in the multi-process tests: ``python -m tests.scale.replica ACTION [ARGS]``.

Each action imports everything first and then waits for the moment in ``NEXUS_GO_AT`` (epoch seconds), so
the processes of a test hit the shared database or store together, as replicas that start at once do.
"""

from __future__ import annotations

import os
import sys
import time


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


ACTIONS = {"migrate": migrate, "checkpointer": checkpointer, "run-job": run_job}

if __name__ == "__main__":
    ACTIONS[sys.argv[1]](*sys.argv[2:])
