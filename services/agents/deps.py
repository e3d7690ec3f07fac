"""What the agent graph uses of the process's services, and of the job that runs it.

The graph is handed these (``services.runtime.Runtime`` is one), so it never reaches up to the composition
root, and a run can be driven by anything that reports progress (a worker's job, a test, the CLI).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine

from services.core.config import Settings
from services.core.storage import BlobStore
from services.jobs.queue import Jobs
from services.market_data.datasets import Datasets
from services.market_data.quotes import LatestPrices
from services.news.store import NewsItem
from services.trading.execution.base import ExecutionVenue
from services.trading.orders import Orders


class NewsWindow(Protocol):
    """The news the context step reads (``services.news.store.NewsStore`` is one)."""

    def window(self, symbol: str, start: datetime, end: datetime) -> list[NewsItem]:
        """Items about ``symbol`` published in [start, end), oldest first."""


class KnowledgeSearch(Protocol):
    """The knowledge the context step searches (``services.knowledge.store.KnowledgeBase`` is one)."""

    def counts(self) -> dict[str, int]:
        """Items per kind."""

    def search(self, query: str, assets: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
               limit: int = 10) -> list[dict]:
        """Items most similar to ``query``: ``{kind, id, title, summary, score, evidence}``, best first."""


class AgentServices(Protocol):
    """Settings and the long-lived clients a run of the graph reads and writes."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def store(self) -> BlobStore: ...

    @property
    def datasets(self) -> Datasets: ...

    @property
    def prices(self) -> LatestPrices: ...

    @property
    def venue(self) -> ExecutionVenue: ...

    @property
    def orders(self) -> Orders: ...

    @property
    def jobs(self) -> Jobs: ...

    @property
    def news(self) -> NewsWindow: ...

    @property
    def knowledge(self) -> KnowledgeSearch: ...


class Progress(Protocol):
    """Where a run reports how far it got, and learns that an operator asked it to stop."""

    def progress(self, fraction: float, message: str = "", force: bool = False) -> None:
        """Record progress (0–1) and a message."""

    def check_cancelled(self) -> None:
        """Raise JobCancelled when an operator asked to stop."""
