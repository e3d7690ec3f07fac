"""What the job worker needs of the agent graph (``services.worker`` imports this module, and only it does).

The ``graph_run`` job kind, and a periodic task so that the runs table follows the jobs without anyone
looking: the run of a job the sweeper failed (its worker died) fails too, and runs whose orders were all
decided (or expired) meanwhile resume.
"""

from __future__ import annotations

from huey import crontab

from services.graph_runs import sync_runs
from services.runtime import get_runtime

huey = get_runtime().queue


@huey.periodic_task(crontab(minute="*"))
def graph_upkeep() -> None:
    """Every minute: settle runs whose job ended without them, resume fully decided runs."""
    sync_runs(get_runtime())
