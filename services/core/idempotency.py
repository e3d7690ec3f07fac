"""Answers kept per ``Idempotency-Key``: the same key with the same request gets the same answer, the same key
with another request is refused (Conflict), and two identical requests at once do the work once.

The first request reserves the key in its own transaction (the primary key makes a second reservation fail),
does the work, then stores its answer; a failure releases the key so the client may retry with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.core import clock
from services.core.errors import BadInput, Conflict
from services.core.records import api_idempotency

_KEY_RE = re.compile(r"^[\x21-\x7e]{1,200}$")


def digest(document: object) -> str:
    """SHA-256 of a JSON-able request in canonical form (key order and spacing do not matter)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class IdempotencyStore:
    """Keys and their answers in the records database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def run(self, scope: str, key: str, request_sha256: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
        """The answer for ``key`` under ``scope``: computed now, or the stored one (second item True) when the
        same request came before. Conflict when the key came with another request or is still in progress."""
        if not _KEY_RE.match(key or ""):
            raise BadInput("the Idempotency-Key header must be 1-200 visible ASCII characters (a UUID is best)")
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(api_idempotency).values(
                    scope=scope, key=key, request_sha256=request_sha256, response=None, created_at=clock.now()))
        except IntegrityError:
            return self._stored(scope, key, request_sha256), True
        try:
            answer = compute()
        except BaseException:
            with self.engine.begin() as connection:
                connection.execute(delete(api_idempotency).where(
                    api_idempotency.c.scope == scope, api_idempotency.c.key == key))
            raise
        with self.engine.begin() as connection:
            connection.execute(update(api_idempotency).where(
                api_idempotency.c.scope == scope, api_idempotency.c.key == key).values(response=answer))
        return answer, False

    def _stored(self, scope: str, key: str, request_sha256: str) -> dict:
        with self.engine.connect() as connection:
            row = connection.execute(select(api_idempotency).where(
                api_idempotency.c.scope == scope, api_idempotency.c.key == key)).first()
        if row is None:  # the first request failed and released the key meanwhile
            raise Conflict(f"the request with Idempotency-Key {key} failed a moment ago; send it again")
        if row.request_sha256 != request_sha256:
            raise Conflict(f"Idempotency-Key {key} was already used with another request body; use a new key "
                           f"for a new request")
        if row.response is None:
            raise Conflict(f"the request with Idempotency-Key {key} is still being processed; retry in a moment")
        return row.response
