"""The process-wide services, built once from the settings (the app, the CLI and the worker share it)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from huey import RedisHuey, SqliteHuey
from sqlalchemy import Engine

from services.config import Settings, get_settings
from services.datasets import Datasets
from services.db import ensure_schema, make_engine
from services.execution.base import ExecutionVenue
from services.jobs import Jobs, make_queue
from services.orders import Orders
from services.quotes import LatestPrices
from services.storage import BlobStore, open_blob_store


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
        return Datasets(self.store, self.settings.cache_dir, self.settings.ohlcv_container)

    @cached_property
    def engine(self) -> Engine:
        """The records database, migrated to the latest schema."""
        engine = make_engine(self.settings.records_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def queue(self) -> SqliteHuey | RedisHuey:
        """The Huey task queue."""
        return make_queue(self.settings)

    @cached_property
    def jobs(self) -> Jobs:
        """Background jobs."""
        return Jobs(self.engine, self.queue)

    @cached_property
    def prices(self) -> LatestPrices:
        """Latest stored prices (paper fills, re-quotes)."""
        return LatestPrices(self.datasets)

    @cached_property
    def venue(self) -> ExecutionVenue:
        """The execution venue EXECUTION_VENUE names."""
        from services.execution.factory import open_venue

        return open_venue(self.settings, self.engine, self.prices.require)

    @cached_property
    def orders(self) -> Orders:
        """The order book: proposals, decisions, exactly-once submission."""
        from services.trading import make_book

        orders = Orders(self.engine, self.venue, lambda: make_book(self.venue, orders), self.prices.quote)
        return orders

    def after_decisions(self, run_id: str | None) -> None:
        """Resume a run's graph once none of its orders waits for a decision."""
        if run_id and not self.orders.list(status="pending_approval", run_id=run_id, limit=1):
            from services.graph_runs import resume_run

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
