"""Vector search over ``kb_embeddings``: pgvector (HNSW, the ``kb_search`` SQL function) on PostgreSQL,
sqlite-vec on the SQLite default, and the same SQL function through Supabase's RPC where only its REST API is known.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT

from services.core.errors import ServiceUnavailable

#: candidates the binary sqlite-vec scan hands to the exact re-ranking, per result asked for (and at least)
SQLITE_OVERSAMPLE, SQLITE_MIN_CANDIDATES = 20, 200
#: page cache of the search connection (each thread's), in KiB
SQLITE_CACHE_KB = 16384


@dataclass(frozen=True)
class Hit:
    """One search result: the item's kind and id, its search document and the cosine similarity."""

    kind: str
    item_id: str
    title: str
    summary: str
    evidence: dict
    score: float


class VectorIndex(Protocol):
    """Nearest search documents to a unit query vector, optionally only some kinds and assets."""

    def search(self, vector: np.ndarray, limit: int, kinds: Sequence[str] | None,
               assets: Sequence[str] | None) -> list[Hit]:
        """The ``limit`` most similar documents, best first."""


def _hit(row: Any) -> Hit:
    evidence = row["evidence"]
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    return Hit(kind=row["kind"], item_id=row["item_id"], title=row["title"], summary=row["summary"],
               evidence=evidence or {}, score=round(float(row["score"]), 6))


class PostgresIndex:
    """``kb_search`` in the records database (pgvector's HNSW index, or an exact scan without the extension)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._pgvector: bool | None = None

    @property
    def pgvector(self) -> bool:
        """True when the embeddings are pgvector's ``vector`` (else ``real[]`` and an exact scan)."""
        if self._pgvector is None:
            with self.engine.connect() as connection:
                kind = connection.execute(text(
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = 'kb_embeddings'::regclass AND attname = 'embedding'")).scalar_one()
            self._pgvector = kind.startswith("vector")
        return self._pgvector

    def search(self, vector: np.ndarray, limit: int, kinds: Sequence[str] | None,
               assets: Sequence[str] | None) -> list[Hit]:
        """Call ``kb_search(query_embedding, match_count, filter_kinds, filter_assets)``."""
        numbers = ",".join(f"{float(x):.7g}" for x in vector)
        literal, cast = (f"[{numbers}]", "vector") if self.pgvector else (f"{{{numbers}}}", "real[]")
        statement = text(
            f"SELECT * FROM kb_search(CAST(:vector AS {cast}), :limit, :kinds, :assets)"
        ).bindparams(bindparam("kinds", type_=ARRAY(TEXT)), bindparam("assets", type_=ARRAY(TEXT)))
        with self.engine.begin() as connection:
            rows = connection.execute(statement, {
                "vector": literal, "limit": limit,
                "kinds": list(kinds) if kinds else None, "assets": list(assets) if assets else None,
            }).mappings().all()
        return [_hit(row) for row in rows]


class SqliteVecIndex:
    """sqlite-vec on the SQLite records file, through a sqlean connection (this Python's sqlite3 cannot load it).

    ``kb_codes``, an ordinary table of binary-quantised vectors (derived from ``kb_embeddings`` and kept in step
    before each search), picks candidates by sqlite-vec's ``vec_distance_hamming`` under SQLite's bounded
    ``ORDER BY … LIMIT`` sorter; their float vectors are then ranked exactly by cosine. (Not a ``vec0`` table: its
    KNN in sqlite-vec 0.1 picks the k nearest in O(rows × k), about 10 ms of CPU for the 200 candidates over
    50,000 rows against 1 ms for 10, nearly twice this whole scan.) A search filtered by asset ranks the matching
    rows exactly (one asset's items are few).
    """

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            import sqlean
            import sqlite_vec

            connection = sqlean.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            connection.enable_load_extension(True)
            sqlite_vec.load(connection)
            connection.enable_load_extension(False)
            connection.row_factory = sqlean.Row
            # room for the codes of a few hundred thousand items (SQLite's default is 2 MB: 50,000 codes are 3)
            connection.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
            connection.execute("CREATE TABLE IF NOT EXISTS kb_codes (rowid INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
                               "code BLOB NOT NULL)")
            self._local.connection = connection
        return connection

    def sync(self) -> int:
        """Index the documents written since the last sync and forget replaced ones; the number indexed.

        Free when nothing changed: SQLite's ``data_version`` of this connection moves only when another
        connection commits, and the newest rowid and row count of ``kb_embeddings`` are compared after that.
        """
        connection = self._connection()
        version = connection.execute("PRAGMA data_version").fetchone()[0]
        if version == getattr(self._local, "version", None):
            return 0
        self._local.version = version
        state = tuple(connection.execute("SELECT coalesce(max(rowid), 0), count(*) FROM kb_embeddings").fetchone())
        if state == getattr(self._local, "synced", None):
            return 0
        connection.execute("BEGIN IMMEDIATE")
        try:
            done = connection.execute("SELECT coalesce(max(rowid), 0) FROM kb_codes").fetchone()[0]
            added = connection.execute(
                "INSERT INTO kb_codes (rowid, kind, code) SELECT rowid, kind, vec_quantize_binary(embedding) "
                "FROM kb_embeddings WHERE rowid > ? ORDER BY rowid", (done,)).rowcount
            connection.execute("DELETE FROM kb_codes WHERE NOT EXISTS "
                               "(SELECT 1 FROM kb_embeddings e WHERE e.rowid = kb_codes.rowid)")
            state = tuple(connection.execute(
                "SELECT coalesce(max(rowid), 0), count(*) FROM kb_embeddings").fetchone())
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self._local.synced = state
        return added

    def search(self, vector: np.ndarray, limit: int, kinds: Sequence[str] | None,
               assets: Sequence[str] | None) -> list[Hit]:
        """Binary candidates then exact cosine, or an exact scan of the rows of the assets asked for."""
        self.sync()
        query = np.asarray(vector, dtype=np.float32).tobytes()
        kind_list = list(kinds or [])
        kind_filter = f"kind IN ({','.join('?' * len(kind_list))})" if kind_list else "1"
        columns = ("e.kind, e.item_id, e.title, e.summary, e.evidence, "
                   "1 - vec_distance_cosine(e.embedding, ?) AS score")
        if assets:
            asset_list = list(assets)
            sql = (f"SELECT {columns} FROM kb_embeddings e WHERE {kind_filter.replace('kind', 'e.kind')} AND "
                   f"EXISTS (SELECT 1 FROM json_each(e.assets) WHERE value IN ({','.join('?' * len(asset_list))})) "
                   "ORDER BY score DESC LIMIT ?")
            parameters = [query, *kind_list, *asset_list, limit]
        else:
            candidates = max(SQLITE_MIN_CANDIDATES, limit * SQLITE_OVERSAMPLE)
            sql = (f"WITH c AS (SELECT rowid FROM kb_codes WHERE {kind_filter} "
                   "ORDER BY vec_distance_hamming(vec_bit(code), vec_quantize_binary(?)) LIMIT ?) "
                   f"SELECT {columns} FROM c JOIN kb_embeddings e ON e.rowid = c.rowid ORDER BY score DESC LIMIT ?")
            parameters = [*kind_list, query, candidates, query, limit]
        rows = self._connection().execute(sql, parameters).fetchall()
        return [_hit(dict(row)) for row in rows]


class SupabaseIndex:
    """``kb_search`` called through Supabase's REST API, ``POST {SUPABASE_URL}/rest/v1/rpc/kb_search``, with
    supabase-py's own PostgREST client (``supabase.Client.rpc`` is this call; a deployment that knows only
    SUPABASE_URL/SUPABASE_KEY)."""

    def __init__(self, url: str, key: str, timeout_s: float = 10.0):
        from postgrest import SyncPostgrestClient

        headers = {"apikey": key, "Authorization": f"Bearer {key}", "Accept": "application/json",
                   "Content-Type": "application/json"}
        self.client = SyncPostgrestClient(f"{url.rstrip('/')}/rest/v1", headers=headers, timeout=timeout_s,
                                          retry_enabled=False)

    def search(self, vector: np.ndarray, limit: int, kinds: Sequence[str] | None,
               assets: Sequence[str] | None) -> list[Hit]:
        """POST /rest/v1/rpc/kb_search with the same arguments as the SQL call."""
        arguments = {"query_embedding": "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]",
                     "match_count": limit, "filter_kinds": list(kinds) if kinds else None,
                     "filter_assets": list(assets) if assets else None}
        try:
            answer = self.client.rpc("kb_search", arguments).execute()
        except Exception as error:  # postgrest raises its own APIError and httpx errors
            raise ServiceUnavailable(f"Supabase knowledge search failed: {_safe(error)}") from error
        return [_hit(row) for row in answer.data or []]


def _safe(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return message.splitlines()[0][:200]


def open_index(engine: Engine, supabase_url: str | None = None, supabase_key: str | None = None) -> VectorIndex:
    """The index of the records database; Supabase's RPC when the records are SQLite but a Supabase project is
    configured (its database holds the knowledge base, written by the deployment that owns it)."""
    if engine.dialect.name == "postgresql":
        return PostgresIndex(engine)
    if supabase_url and supabase_key:
        return SupabaseIndex(supabase_url, supabase_key)
    return SqliteVecIndex(engine.url.database)
