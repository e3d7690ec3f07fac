"""The records database: one SQLAlchemy engine (SQLite by default, PostgreSQL/Supabase by URL) and its schema."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import JSON, Connection, DateTime, Engine, LargeBinary, MetaData, create_engine, event, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL
from sqlalchemy.types import TypeDecorator

metadata = MetaData()
MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock key that serialises schema changes (Alembic upgrades, checkpoint tables) of all replicas
SCHEMA_LOCK_ID = 0x6E657875_73000001


#: JSON column type: JSONB on PostgreSQL, JSON text on SQLite
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class EmbeddingVector(TypeDecorator):
    """A float32 embedding: float32 bytes on SQLite (sqlite-vec's format), ``vector`` (pgvector) or ``real[]`` on
    PostgreSQL (migration 0008 picks ``vector`` when the server has the extension). Values are numpy arrays."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(REAL))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        vector = np.asarray(value, dtype=np.float32)
        # a float list casts to both vector (pgvector's assignment cast) and real[]
        return vector.tolist() if dialect.name == "postgresql" else vector.tobytes()

    def process_result_value(self, value, dialect) -> np.ndarray | None:
        if value is None:
            return None
        if isinstance(value, bytes | memoryview):
            return np.frombuffer(bytes(value), dtype=np.float32)
        if isinstance(value, str):  # pgvector's text form "[0.1,0.2,…]"
            return np.asarray(json.loads(value), dtype=np.float32)
        return np.asarray(value, dtype=np.float32)


def _normalise_url(url: str) -> str:
    # Supabase and Heroku hand out postgres:// URLs; SQLAlchemy + psycopg 3 wants postgresql+psycopg://
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: execution option of a connection that only reads (``reading``): SQLite begins it deferred, on a WAL snapshot
READ_ONLY = "nexus_read_only"


def reading(engine: Engine) -> Connection:
    """A connection for reads only (use as ``with reading(engine) as connection``). On SQLite its transaction
    begins deferred: a snapshot that neither takes nor waits for the write lock, so readers arriving together
    (twenty API requests authenticating at once) do not queue behind one another as writers do. Never write
    through it: a deferred transaction that writes fails at once, not in turn, when another writer came first."""
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL with synchronous=NORMAL, a busy timeout and foreign keys."""
    url = _normalise_url(url)
    serializer = _dumps
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               json_serializer=serializer)

        @event.listens_for(engine, "connect")
        def _pragmas(connection, _record) -> None:
            connection.isolation_level = None  # let the "begin" hook below issue BEGIN itself
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is durable against an application crash and costs no fsync; the WAL is
            # synced at checkpoints (a power cut may lose the last commits, never corrupts the database)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection) -> None:
            # take the write lock at BEGIN so compare-and-set transactions serialise instead of failing;
            # connections made by ``reading`` only read and begin deferred
            read_only = connection.get_execution_options().get(READ_ONLY)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # recycle rather than ping on every checkout: a ping is a round trip on each of the many short transactions
    # of an approval; connections a server (or Supabase's pooler) dropped are replaced within five minutes
    return create_engine(url, pool_recycle=300, pool_size=5, max_overflow=10, json_serializer=serializer)


def _dumps(value: object) -> str:
    return json.dumps(value, default=str)


def ensure_schema(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (creates it on a new database).

    Replicas that start together on PostgreSQL take turns: the first migrates under the schema lock, the
    others wait for it and then find the schema at head (SQLite serialises them with its write lock).
    """
    from alembic import command

    with engine.begin() as connection:
        _hold_schema_lock(connection)
        command.upgrade(_alembic_config(connection), "head")


def _hold_schema_lock(connection: Connection) -> None:
    # a transaction-level lock: released by the commit (or rollback) of the migration's own transaction
    # polled like ``schema_lock``, so a waiter never holds a snapshot that a CONCURRENTLY index build waits on
    if connection.dialect.name == "postgresql":
        probe = text("SELECT pg_try_advisory_xact_lock(:key)")
        while not connection.execute(probe, {"key": SCHEMA_LOCK_ID}).scalar():
            time.sleep(0.05)


@contextmanager
def schema_lock(libpq_url: str) -> Iterator[None]:
    """Hold the schema lock of the PostgreSQL database at ``libpq_url`` for the block (for schema set-ups
    that run on connections of their own, such as LangGraph's ``PostgresSaver.setup``)."""
    import psycopg

    # autocommit, and polled rather than waited for: a set-up that builds an index CONCURRENTLY waits for every
    # open transaction and snapshot, so neither the holder nor the waiters may keep one open meanwhile
    with psycopg.connect(libpq_url, autocommit=True) as connection:
        while not connection.execute("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_ID,)).fetchone()[0]:
            time.sleep(0.05)
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_ID,))


def ping(engine: Engine) -> None:
    """Run ``SELECT 1``; raises on an unreachable database."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _alembic_config(connection):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def make_revision(message: str) -> None:
    """Write a new migration for the tables changed in ``services.core.records`` (autogenerate vs a scratch DB)."""
    import tempfile

    from alembic import command

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/scratch.db")
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
            number = len(list((MIGRATIONS / "versions").glob("*.py"))) + 1
            command.revision(_alembic_config(connection), message=message, autogenerate=True, rev_id=f"{number:04d}")


if __name__ == "__main__":  # python -m services.core.db "add orders"
    import sys

    make_revision(" ".join(sys.argv[1:]) or "schema change")
