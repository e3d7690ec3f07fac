"""News items in the records database: stored once per id, scored once, queried by symbol and time window."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, delete, insert, select
from sqlalchemy.exc import IntegrityError

from services.core import clock
from services.core.errors import BadInput
from services.core.records import news_cursors, news_items, news_symbols

MAX_ID = 255
LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class RawItem:
    """One item as a source gave it, before scoring: only what the source said (no invented dates or tickers)."""

    source: str
    title: str
    url: str = ""
    summary: str = ""
    symbols: tuple[str, ...] = ()
    published_at: datetime | None = None
    source_id: str | None = None

    @property
    def id(self) -> str:
        """``<source>:<source's id>`` when the source gave one (hashed when long), else SHA-256 of url + title."""
        if self.source_id:
            key = f"{self.source}:{self.source_id}"
            return key if len(key) <= MAX_ID else "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return "sha256:" + hashlib.sha256(f"{self.url}\n{self.title}".encode()).hexdigest()


@dataclass(frozen=True)
class NewsItem:
    """A stored item with its sentiment."""

    id: str
    source: str
    title: str
    summary: str
    url: str
    symbols: list[str]
    published_at: datetime | None
    fetched_at: datetime
    sentiment_score: float
    sentiment_label: str
    model_version: str

    def to_dict(self) -> dict:
        """JSON-able form (times as ISO 8601, None when the source gave no date)."""
        return {
            "id": self.id, "source": self.source, "title": self.title, "summary": self.summary, "url": self.url,
            "symbols": list(self.symbols),
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "fetched_at": self.fetched_at.isoformat(), "sentiment_score": self.sentiment_score,
            "sentiment_label": self.sentiment_label, "model_version": self.model_version,
        }


@dataclass
class Scored:
    """A raw item with the sentiment the model gave its title."""

    raw: RawItem
    score: float
    label: str
    model_version: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.score) or not -1.0 <= self.score <= 1.0 or self.label not in LABELS:
            raise BadInput(f"sentiment of news item {self.raw.id} is out of range ({self.label}, {self.score})")


class NewsStore:
    """The ``news_items`` table (and its per-symbol index ``news_symbols``)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def known(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored already."""
        if not ids:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(select(news_items.c.id).where(news_items.c.id.in_(list(ids))))
            return {row.id for row in rows}

    def add(self, items: Sequence[Scored]) -> int:
        """Store the items not stored yet, all in one transaction; how many were new (a re-fetch adds 0).

        When another ingestion stores some of the same items meanwhile, the transaction is tried once more and
        stores only what is still missing."""
        unique: dict[str, Scored] = {}
        for item in items:
            unique.setdefault(item.raw.id, item)
        try:
            return self._add(unique)
        except IntegrityError:
            return self._add(unique)

    def _add(self, unique: dict[str, Scored]) -> int:
        fetched = clock.now()
        with self.engine.begin() as conn:
            stored = {row.id for row in conn.execute(
                select(news_items.c.id).where(news_items.c.id.in_(list(unique))))} if unique else set()
            fresh = [item for key, item in unique.items() if key not in stored]
            if not fresh:
                return 0
            conn.execute(insert(news_items), [_row(item, fetched) for item in fresh])
            links = [{"item_id": item.raw.id, "symbol": symbol, "published_at": item.raw.published_at}
                     for item in fresh for symbol in dict.fromkeys(item.raw.symbols)]
            if links:
                conn.execute(insert(news_symbols), links)
        return len(fresh)

    def covered(self, source: str, symbol: str) -> tuple[datetime, datetime] | None:
        """The time range of ``symbol``'s news already fetched from ``source`` (None: nothing yet)."""
        query = select(news_cursors.c.covered_from, news_cursors.c.covered_to).where(
            news_cursors.c.source == source, news_cursors.c.symbol == symbol)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (row.covered_from, row.covered_to) if row else None

    def cover(self, source: str, symbol: str, start: datetime, end: datetime) -> None:
        """Record that [start, end] was fetched: merged with the range known when they touch, else the newer wins."""
        with self.engine.begin() as conn:
            row = conn.execute(select(news_cursors).where(
                news_cursors.c.source == source, news_cursors.c.symbol == symbol)).first()
            if row is not None:
                if start <= row.covered_to and end >= row.covered_from:
                    start, end = min(start, row.covered_from), max(end, row.covered_to)
                elif end < row.covered_from:
                    return  # an older, separate range: keep the newer one
                conn.execute(delete(news_cursors).where(
                    news_cursors.c.source == source, news_cursors.c.symbol == symbol))
            conn.execute(insert(news_cursors).values(source=source, symbol=symbol, covered_from=start,
                                                     covered_to=end))

    def list(self, symbol: str | None = None, limit: int = 100) -> list[NewsItem]:
        """The newest items (of ``symbol``), newest first; undated items come last."""
        if not 1 <= limit <= 10_000:
            raise BadInput("limit must be between 1 and 10000")
        query = select(news_items)
        if symbol is not None:
            query = query.join(news_symbols, news_symbols.c.item_id == news_items.c.id).where(
                news_symbols.c.symbol == symbol.upper())
        query = query.order_by(news_items.c.published_at.is_(None), news_items.c.published_at.desc(),
                               news_items.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_item(row) for row in conn.execute(query)]

    def window(self, symbol: str, start: datetime, end: datetime) -> list[NewsItem]:
        """Items about ``symbol`` published in [start, end), oldest first (undated items never match)."""
        if start > end:
            raise BadInput(f"window start {start.isoformat()} is after its end {end.isoformat()}")
        query = (select(news_items)
                 .join(news_symbols, news_symbols.c.item_id == news_items.c.id)
                 .where(and_(news_symbols.c.symbol == symbol.upper(), news_symbols.c.published_at >= start,
                             news_symbols.c.published_at < end))
                 .order_by(news_items.c.published_at, news_items.c.id))
        with self.engine.connect() as conn:
            return [_item(row) for row in conn.execute(query)]


def _row(item: Scored, fetched: datetime) -> dict:
    raw = item.raw
    return {"id": raw.id, "source": raw.source, "title": raw.title, "summary": raw.summary, "url": raw.url,
            "symbols": list(dict.fromkeys(raw.symbols)), "published_at": raw.published_at, "fetched_at": fetched,
            "sentiment_score": float(item.score), "sentiment_label": item.label, "model_version": item.model_version}


def _item(row) -> NewsItem:
    return NewsItem(id=row.id, source=row.source, title=row.title, summary=row.summary, url=row.url,
                    symbols=list(row.symbols or []), published_at=row.published_at, fetched_at=row.fetched_at,
                    sentiment_score=row.sentiment_score, sentiment_label=row.sentiment_label,
                    model_version=row.model_version)
