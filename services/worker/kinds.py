"""The one table of job kinds: what each kind of background job runs, bound to the process's services.

Domain packages own their job bodies (``body(ctx, services, **params)``) and know nothing of the queue or
of this table; the composition root (``services.runtime``) binds the table to its services and hands it to
the queue (``services.jobs.queue.Jobs``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Protocol

from services.agents import runs
from services.agents.deps import AgentServices
from services.jobs.queue import JobBody, JobContext
from services.knowledge import harvest
from services.knowledge.store import KnowledgeBase
from services.market_data import ingest
from services.news import ingest as news_ingest
from services.news.ingest import NewsServices
from services.notifications.outbox import Notifier
from services.review import store as review
from services.strategies import backtests
from services.trading import book


class Services(AgentServices, NewsServices, Protocol):
    """What the job bodies use of the process's services (``services.runtime.Runtime`` is one)."""

    knowledge: KnowledgeBase

    @property
    def notifications(self) -> Notifier:
        """Notifications to approvers (the upkeep collects and delivers them)."""

    def after_decisions(self, run_id: str | None) -> None:
        """Resume a run's graph once none of its orders waits for a decision."""


def _execute(ctx: JobContext, services: Services, run_id: str | None = None) -> dict:
    """Send the approved orders of a run (or all), then resume the run once none of its orders waits."""
    result = book.execute_job(ctx, services.orders, run_id)
    services.after_decisions(run_id)
    return result


def _then_review(body: Callable[..., dict | None]) -> Callable[..., dict | None]:
    """An ingestion body that, once its candles are stored, queues a review of the decisions they may settle."""

    @wraps(body)
    def run(ctx: JobContext, services: Services, **params: object) -> dict | None:
        result = body(ctx, services, **params)
        review.queue_after_ingest(services.jobs)
        return result

    return run


KINDS: dict[str, Callable[..., dict | None]] = {
    ingest.INGEST_KIND: _then_review(ingest.ingest_job),
    ingest.UPDATE_KIND: _then_review(ingest.update_job),
    runs.JOB_KIND: runs.graph_run_job,
    backtests.JOB_KIND: backtests.run_follow_job,
    book.EXECUTE_KIND: _execute,
    harvest.JOB_KIND: harvest.refresh_job,
    news_ingest.NEWS_KIND: news_ingest.news_ingest_job,
    review.JOB_KIND: review.review_job,
}


def bind(services: Services) -> dict[str, JobBody]:
    """Every job kind's body with ``services`` bound: ``body(ctx, **params)``."""
    return {kind: partial(body, services=services) for kind, body in KINDS.items()}
