"""The graph's checkpointer, chosen by configuration: PostgresSaver on a PostgreSQL records database, else SqliteSaver.

A checkpoint is written after every node, keyed by thread id = run id, so a run waiting for approval, or
one whose worker died, continues from its last completed node in any process that opens the same store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from services.core.config import Settings
from services.core.db import schema_lock

_lock = threading.Lock()
#: PostgreSQL URLs whose checkpoint tables were created or migrated by this process
_set_up: set[str] = set()


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://``) as libpq takes it (``postgresql://``)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql://{rest}" if scheme.startswith("postgres") else url


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[BaseCheckpointSaver]:
    """The checkpointer for one graph invocation; its connection closes afterwards."""
    if settings.uses_postgres:
        from langgraph.checkpoint.postgres import PostgresSaver

        url = libpq_url(settings.records_url)
        with PostgresSaver.from_conn_string(url) as saver:
            with _lock:
                if url not in _set_up:
                    with schema_lock(url):  # workers starting their first runs together set the tables up once
                        saver.setup()
                    _set_up.add(url)
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    with closing(sqlite3.connect(str(settings.checkpoints_path), check_same_thread=False, timeout=30)) as connection:
        saver = SqliteSaver(connection)
        saver.setup()
        yield saver
