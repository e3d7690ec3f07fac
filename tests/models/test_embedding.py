"""The embedder's fast CPU path: same vectors as plain float32, unit rows, torch's thread setting left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import embedding
from models.embedding import DIMENSIONS, load_embedder

TEXTS = [
    "Apple beats estimates and raises full-year guidance, shares jump",
    "Tesla shares plunge after deliveries miss forecasts",
    "Microsoft to hold its annual shareholder meeting on December 5",
    "Oil",
]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()


def _plain_float32(model, texts: list[str]) -> np.ndarray:
    with torch.inference_mode():
        return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def test_fast_path_matches_plain_float32(embedder):
    fast = embedder.embed(TEXTS)
    plain = _plain_float32(embedder.model, TEXTS)
    assert fast.shape == (len(TEXTS), DIMENSIONS) and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert float((fast * plain).sum(axis=1).min()) > 0.999


def test_empty_input_gives_no_rows(embedder):
    assert embedder.embed([]).shape == (0, DIMENSIONS)


def test_threads_follow_idle_cores_and_are_restored(embedder, monkeypatch):
    seen: list[int] = []
    encode = embedder.model.encode

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    before = torch.get_num_threads()
    monkeypatch.setattr(embedding, "idle_cores", lambda: 1)
    monkeypatch.setattr(embedder.model, "encode", spy)
    embedder.embed(TEXTS[:1])
    assert seen == [1]
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(("load", "expected"), [(0.0, 2), (1.2, 1), (5.0, 1), (30.0, 1)])
def test_idle_cores_from_the_load_average(monkeypatch, load, expected):
    monkeypatch.setattr(embedding.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(embedding.os, "getloadavg", lambda: (load, load, load))
    assert embedding.idle_cores() == expected
