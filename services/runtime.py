"""The composition root: the process-wide services, built once from the settings (the app, the CLI and the
worker share it).

Everything is wired here and only here: the queue gets the worker's tasks and table of job kinds, the order
book gets its risk book, and decided runs resume. Nothing in ``services`` imports this module; the pages, the
CLI and the worker entry point do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from huey import RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from sqlalchemy import Engine

from models.sentiment import SentimentModel, load_sentiment_model
from services.agents.runs import resume_run
from services.core.config import Settings, get_settings
from services.core.db import ensure_schema, make_engine
from services.core.storage import BlobStore, open_blob_store
from services.core.tokens import Tokens
from services.jobs.queue import Jobs, make_queue
from services.knowledge.store import KnowledgeBase
from services.knowledge.vectors import open_index
from services.market_data.datasets import Datasets
from services.market_data.quotes import LatestPrices
from services.news.store import NewsStore
from services.notifications.outbox import Notifier
from services.review.store import Review
from services.trading.book import RecentAccount, make_book
from services.trading.execution.base import ExecutionVenue
from services.trading.execution.factory import open_venue
from services.trading.orders import Orders
from services.worker import consumer, kinds


@dataclass
class Runtime:
    """Settings plus the long-lived clients built from them."""

    settings: Settings

    @cached_property
    def store(self) -> BlobStore:
        """The blob store (local folder or Azure Blob)."""
        return open_blob_store(self.settings)

    @cached_property
    def datasets(self) -> Datasets:
        """OHLCV datasets in the ``ohlcv`` container."""
        return Datasets(self.store, self.settings.cache_dir, self.settings.ohlcv_container,
                        cache_max_bytes=self.settings.cache_max_mb * 1024 * 1024)

    @cached_property
    def engine(self) -> Engine:
        """The records database, migrated to the latest schema."""
        engine = make_engine(self.settings.records_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def _queue_and_task(self) -> tuple[SqliteHuey | RedisHuey, TaskWrapper]:
        queue = make_queue(self.settings)
        return queue, consumer.attach(queue, self)

    @property
    def queue(self) -> SqliteHuey | RedisHuey:
        """The Huey task queue, with the console's tasks attached (a submitter and the consumer share them)."""
        return self._queue_and_task[0]

    @cached_property
    def jobs(self) -> Jobs:
        """Background jobs: queued on ``queue``, run by the bodies of the worker's table of job kinds."""
        return Jobs(self.engine, enqueue=self._queue_and_task[1], bodies=kinds.bind(self),
                    queued_too_long_s=self.settings.jobs_queued_too_long_seconds)

    @cached_property
    def news(self) -> NewsStore:
        """News items with their sentiment, in the records database."""
        return NewsStore(self.engine)

    @cached_property
    def sentiment(self) -> SentimentModel:
        """The sentiment model (embeddings + head, or the VADER fallback), loaded on first use."""
        return load_sentiment_model()

    @cached_property
    def tokens(self) -> Tokens:
        """Personal access tokens (the CLI's credential in production, the HTTP API's bearer tokens)."""
        return Tokens(self.engine)

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        """The knowledge base in the records database (the packaged embedding model loads on first write or search)."""
        from models.embedding import load_embedder

        key = self.settings.supabase_key.get_secret_value() if self.settings.supabase_key else None
        return KnowledgeBase(self.engine, lambda texts: load_embedder().embed(texts),
                             open_index(self.engine, self.settings.supabase_url, key))

    @cached_property
    def prices(self) -> LatestPrices:
        """Latest stored prices (paper fills, re-quotes)."""
        return LatestPrices(self.datasets)

    @cached_property
    def venue(self) -> ExecutionVenue:
        """The execution venue EXECUTION_VENUE names."""
        return open_venue(self.settings, self.engine, self.prices.require)

    @cached_property
    def orders(self) -> Orders:
        """The order book: proposals, decisions, exactly-once submission."""
        account = RecentAccount(self.venue)
        orders = Orders(self.engine, self.venue, lambda: make_book(self.venue, orders, account), self.prices.quote)
        return orders

    @cached_property
    def review(self) -> Review:
        """The stored decision review (written by the worker's ``decision_review`` job; only read here)."""
        return Review(self.engine)

    @cached_property
    def notifications(self) -> Notifier:
        """Notifications to approvers (outbox in the records, delivered by the worker's upkeep)."""
        return Notifier(self.engine, self.settings, self.orders)

    def after_decisions(self, run_id: str | None) -> None:
        """Resume a run's graph once none of its orders waits for a decision."""
        if run_id and not self.orders.list(status="pending_approval", run_id=run_id, limit=1):
            resume_run(self, run_id)


_lock = threading.Lock()
_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The runtime of this process (built from the environment on first use)."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime(get_settings())
        return _current


def set_runtime(runtime: Runtime | None) -> None:
    """Install a runtime (tests, the CLI with explicit settings); None resets to the environment."""
    global _current
    with _lock:
        _current = runtime
