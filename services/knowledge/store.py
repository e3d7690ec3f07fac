"""The knowledge base's records: items written once per source payload (SHA-256), embedded, and searched."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from models.embedding import EmbeddingUnavailable
from services.core import clock
from services.core.auth import Actor
from services.core.errors import BadInput, ConfigError
from services.core.records import (
    kb_correlations,
    kb_embeddings,
    kb_lessons_learned,
    kb_macro_events,
    kb_market_regimes,
    kb_patterns,
)
from services.knowledge.vectors import Hit, VectorIndex

#: kind of item → its table
TABLES: dict[str, Table] = {"pattern": kb_patterns, "regime": kb_market_regimes, "lesson": kb_lessons_learned,
                            "event": kb_macro_events, "correlation": kb_correlations}
KINDS = tuple(TABLES)
PATTERN_TYPES = ("momentum", "mean_reversion", "breakout", "trend_following", "volatility", "seasonal", "other")
REGIMES = ("bull", "bear", "sideways", "high_vol", "low_vol")
MAX_LIMIT = 100
#: query vectors kept per process (the agent graph asks the same per-symbol questions on every run)
QUERY_CACHE = 512

Embed = Callable[[Sequence[str]], np.ndarray]


def fingerprint(payload: Any) -> str:
    """SHA-256 of the canonical JSON of a source payload (sorted keys): the same outcome, the same hash."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    """An item to store: its kind, where it came from, the payload it was made of, its table row and its
    search document (title + summary are embedded; evidence links it back to its backtest, run, order or data)."""

    kind: str
    source_key: str
    payload: Any
    row: dict
    title: str
    summary: str
    assets: tuple[str, ...] = ()
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PutResult:
    """What a batch of documents changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: PutResult) -> PutResult:
        return PutResult(self.added + other.added, self.updated + other.updated, self.unchanged + other.unchanged)


class KnowledgeBase:
    """Writes items idempotently and searches them by meaning (the vector index of the records database)."""

    def __init__(self, engine: Engine, embed: Embed, index: VectorIndex):
        self.engine = engine
        self.embed = embed
        self.index = index
        self._queries: dict[str, np.ndarray] = {}

    # --- writing -------------------------------------------------------------------------------------------
    def put(self, documents: Iterable[Document], _retry: bool = True) -> PutResult:
        """Store each document once: a new source is added, a changed payload updates its item (re-embedded),
        an unchanged one (same SHA-256) writes nothing. All of a batch is written in one transaction."""
        docs = list({d.source_key: d for d in documents}.values())
        if not docs:
            return PutResult()
        known: dict[str, tuple[str, str]] = {}
        with self.engine.connect() as connection:
            for kind in {d.kind for d in docs}:
                table = TABLES[kind]
                keys = [d.source_key for d in docs if d.kind == kind]
                for start in range(0, len(keys), 500):
                    rows = connection.execute(select(table.c.source_key, table.c.id, table.c.fingerprint)
                                              .where(table.c.source_key.in_(keys[start:start + 500])))
                    known.update({key: (item_id, digest) for key, item_id, digest in rows})
        changed = [(d, fingerprint(d.payload)) for d in docs]
        changed = [(d, digest) for d, digest in changed if known.get(d.source_key, (None, None))[1] != digest]
        if not changed:
            return PutResult(unchanged=len(docs))
        vectors = self._embed([f"{d.title}. {d.summary}" for d, _ in changed])
        now = clock.now()
        added = updated = 0
        try:
            with self.engine.begin() as connection:
                for (doc, digest), vector in zip(changed, vectors, strict=True):
                    table = TABLES[doc.kind]
                    row = {**doc.row, "fingerprint": digest, "updated_at": now}
                    if doc.source_key in known:
                        item_id = known[doc.source_key][0]
                        connection.execute(update(table).where(table.c.id == item_id).values(**row))
                        connection.execute(delete(kb_embeddings).where(kb_embeddings.c.kind == doc.kind,
                                                                       kb_embeddings.c.item_id == item_id))
                        updated += 1
                    else:
                        item_id = str(uuid.uuid4())
                        connection.execute(insert(table).values(id=item_id, source_key=doc.source_key,
                                                                schema_version="1.0", created_at=now, **row))
                        added += 1
                    connection.execute(insert(kb_embeddings).values(
                        kind=doc.kind, item_id=item_id, title=doc.title[:300], summary=doc.summary,
                        assets=list(doc.assets), evidence=doc.evidence, embedding=vector, created_at=now))
        except IntegrityError:
            if not _retry:
                raise
            # another writer stored the same source a moment ago: once more, its rows now count as known
            return self.put(docs, _retry=False)
        return PutResult(added=added, updated=updated, unchanged=len(docs) - added - updated)

    def remove_except(self, kind: str, key_prefix: str, keep: Iterable[str]) -> int:
        """Delete the items of ``kind`` from sources under ``key_prefix`` that are not in ``keep`` (recomputed
        regimes of a dataset replace the old spans); the number removed."""
        table, keep = TABLES[kind], set(keep)
        with self.engine.begin() as connection:
            rows = connection.execute(select(table.c.id, table.c.source_key)
                                      .where(table.c.source_key.startswith(key_prefix, autoescape=True))).all()
            gone = [item_id for item_id, key in rows if key not in keep]
            if gone:
                connection.execute(delete(kb_embeddings).where(kb_embeddings.c.kind == kind,
                                                               kb_embeddings.c.item_id.in_(gone)))
                connection.execute(delete(table).where(table.c.id.in_(gone)))
        return len(gone)

    def add_pattern(self, actor: Actor, name: str, pattern_type: str, description: str,
                    assets: Sequence[str] = (), timeframes: Sequence[str] = (),
                    suitable_regimes: Sequence[str] = (), confidence: float = 0.5, source_ref: str = "") -> str:
        """A trading pattern written by a person (traders only); its id. The same pattern twice is refused."""
        actor.require("trader", "add patterns to the knowledge base")
        name, description = _text(name, "name", 200), _text(description, "description", 5000)
        if pattern_type not in PATTERN_TYPES:
            raise BadInput(f"pattern type '{pattern_type}' must be one of {', '.join(PATTERN_TYPES)}")
        wrong = [r for r in suitable_regimes if r not in REGIMES]
        if wrong:
            raise BadInput(f"regime '{wrong[0]}' must be one of {', '.join(REGIMES)}")
        confidence = _number(confidence, "confidence", 0.0, 1.0)
        assets_ = _assets(assets)
        row = dict(name=name, pattern_type=pattern_type, description=description, suitable_regimes=list(
            suitable_regimes), assets=list(assets_), timeframes=[t.strip() for t in timeframes if t.strip()],
                   confidence_score=confidence, source_ref=source_ref.strip()[:200], created_by=actor.name)
        key = "pattern:" + fingerprint({"name": name.casefold(), "type": pattern_type})[:32]
        with self.engine.connect() as connection:
            if connection.execute(select(kb_patterns.c.id).where(kb_patterns.c.source_key == key)).first():
                raise BadInput(f"a {pattern_type} pattern named '{name}' is already in the knowledge base")
        self.put([Document("pattern", key, row, row, title=f"{name} ({pattern_type.replace('_', ' ')})",
                           summary=description, assets=assets_,
                           evidence={"created_by": actor.name, "confidence": confidence,
                                     "regimes": list(suitable_regimes), "timeframes": row["timeframes"],
                                     "source_ref": row["source_ref"]})])
        with self.engine.connect() as connection:
            return connection.execute(select(kb_patterns.c.id).where(kb_patterns.c.source_key == key)).scalar_one()

    # --- reading -------------------------------------------------------------------------------------------
    def search(self, query: str, assets: Sequence[str] | None = None, kinds: Sequence[str] | None = None,
               limit: int = 10) -> list[dict]:
        """Items most similar in meaning to ``query``: ``{kind, id, title, summary, score, evidence}``, best first
        (upstream's contract; ``limit`` 1–100, ``kinds`` among pattern regime lesson event correlation)."""
        query = _text(query, "query", 2000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise BadInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
        kinds_ = [k.strip().lower() for k in kinds or [] if k.strip()]
        wrong = [k for k in kinds_ if k not in TABLES]
        if wrong:
            raise BadInput(f"kind '{wrong[0]}' must be one of {', '.join(KINDS)}")
        vector = self._query_vector(query)
        hits = self.index.search(vector, limit, kinds_ or None, list(_assets(assets or [])) or None)
        return [_item(hit) for hit in hits]

    def _query_vector(self, query: str) -> np.ndarray:
        """The embedding of ``query``, computed once per process (the model is deterministic)."""
        vector = self._queries.get(query)
        if vector is None:
            vector = self._embed([query])[0]
            if len(self._queries) >= QUERY_CACHE:
                self._queries.pop(next(iter(self._queries)))
            self._queries[query] = vector
        return vector

    def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            return self.embed(texts)
        except EmbeddingUnavailable as error:
            raise ConfigError(f"the knowledge base cannot embed text: {error}") from error

    def counts(self) -> dict[str, int]:
        """Items per kind."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(kb_embeddings.c.kind, func.count()).group_by(kb_embeddings.c.kind))
            found = dict(rows.all())
        return {kind: int(found.get(kind, 0)) for kind in KINDS}

    def regimes(self, dataset_ref: str | None = None, asset: str | None = None) -> list[dict]:
        """Volatility regimes (oldest first) of one dataset or one asset, or of all."""
        table = kb_market_regimes
        statement = select(table).order_by(table.c.dataset_ref, table.c.start_at)
        if dataset_ref:
            statement = statement.where(table.c.dataset_ref == dataset_ref)
        if asset:
            statement = statement.where(table.c.asset == asset.strip().upper())
        return self._rows(statement)

    def lessons(self, limit: int = 50, category: str | None = None) -> list[dict]:
        """The latest lessons (newest first), with the ids of their backtest, run or order."""
        table = kb_lessons_learned
        statement = select(table).order_by(table.c.updated_at.desc()).limit(limit)
        if category:
            statement = statement.where(table.c.category == category)
        return self._rows(statement)

    def patterns(self) -> list[dict]:
        """Every pattern, newest first."""
        return self._rows(select(kb_patterns).order_by(kb_patterns.c.created_at.desc()))

    def correlations(self, asset: str | None = None) -> list[dict]:
        """Correlations of log returns between assets (strongest first)."""
        table = kb_correlations
        statement = select(table).order_by(func.abs(table.c.correlation).desc())
        if asset:
            symbol = asset.strip().upper()
            statement = statement.where((table.c.source_asset == symbol) | (table.c.target_asset == symbol))
        return self._rows(statement)

    def _rows(self, statement) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(statement).mappings()]


def _item(hit: Hit) -> dict:
    return {"kind": hit.kind, "id": hit.item_id, "title": hit.title, "summary": hit.summary, "score": hit.score,
            "evidence": hit.evidence}


def _text(value: Any, name: str, longest: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput(f"{name} must be some text")
    value = value.strip()
    if len(value) > longest:
        raise BadInput(f"{name} is {len(value)} characters long; at most {longest}")
    return value


def _number(value: Any, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a number from {low:g} to {high:g}, not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not low <= number <= high:
        raise BadInput(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
    return number


def _assets(assets: Iterable[str]) -> tuple[str, ...]:
    if isinstance(assets, str):
        assets = [assets]
    cleaned = []
    for asset in assets:
        if not isinstance(asset, str):
            raise BadInput(f"asset {asset!r} must be a symbol such as AAPL or BTCUSDT")
        symbol = asset.strip().upper()
        if symbol and not symbol.replace("-", "").replace("/", "").replace(".", "").isalnum():
            raise BadInput(f"asset '{asset}' must be a symbol such as AAPL or BTCUSDT")
        if symbol and symbol not in cleaned:
            cleaned.append(symbol)
    return tuple(cleaned)
