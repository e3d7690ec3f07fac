"""Artifacts a run can reuse (trained predictors, detector results), as blobs keyed by what they were made from."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

from services.core.errors import Conflict
from services.core.storage import BlobNotFound, BlobStore


def artifact_key(*parts: Any) -> str:
    """A stable key for the inputs ``parts`` (JSON-able): equal inputs, equal key."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class ArtifactCache:
    """Bytes under ``<kind>/<key>`` in one blob container (local folder or Azure), shared by every worker."""

    def __init__(self, store: BlobStore, container: str):
        self.store = store
        self.container = container

    def get(self, kind: str, key: str) -> bytes | None:
        """The stored bytes, or None when nothing was stored under this key."""
        try:
            data, _etag = self.store.get(self.container, f"{kind}/{key}")
        except BlobNotFound:
            return None
        return data

    def put(self, kind: str, key: str, data: bytes) -> None:
        """Store ``data`` once (a concurrent writer of the same key wrote the same bytes)."""
        with contextlib.suppress(Conflict):
            self.store.put(self.container, f"{kind}/{key}", data, if_none_match=True)
