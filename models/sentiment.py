"""Financial news sentiment: negative / neutral / positive and a score in [-1, 1]. Pure computation.

The main model reads the packaged all-MiniLM-L6-v2 sentence embeddings (models/embedding.py) with a small fitted
head (`sentiment_head.npz`, 13 KB, made by scripts/train_sentiment.py from the training split only): a
small int8 MLP on the embeddings averaged with a logistic regression on the thousand most informative hashed word
uni/bi-grams. When the embedding model is not installed, VADER (vaderSentiment) takes over and says so:
`is_fallback` is true and its version names it.

The score is P(positive) - P(negative) for the main model and VADER's compound score for the fallback.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, Protocol

import numpy as np

from models.embedding import EmbeddingUnavailable, load_embedder

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, Label, Label] = ("negative", "neutral", "positive")
HEAD_FILE = "sentiment_head.npz"
# the hashed n-gram features the head was fitted with; checked against the values stored in the head
HASH_FEATURES = 2**16
HASH_NGRAMS = (1, 2)
VADER_NEUTRAL_BAND = 0.05  # VADER's documented cut: |compound| < 0.05 is neutral


@dataclass(frozen=True)
class Sentiment:
    """One text's sentiment: its label and a score in [-1, 1] (negative to positive)."""

    label: Label
    score: float

    def to_dict(self) -> dict[str, Any]:
        """`{"label": ..., "score": ...}` (score rounded to 4 decimals)."""
        return {"label": self.label, "score": round(self.score, 4)}


NO_TEXT = Sentiment(label="neutral", score=0.0)  # what an empty or blank text scores: nothing said, nothing felt


class SentimentModel(Protocol):
    """What every sentiment model offers."""

    version: str
    is_fallback: bool

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text, in order."""
        ...


def _checked(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("score() takes a sequence of texts, not one string")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")
        out.append(text)
    return out


def _clip(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"sentiment score {value!r} is not finite")
    return max(-1.0, min(1.0, float(value)))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _dequantised(z: Any, name: str) -> np.ndarray:
    """An int8 matrix of the head times its per-column float32 scale (`<name>` and `<name>_scale`)."""
    return z[name].astype(np.float32) * z[f"{name}_scale"].astype(np.float32)


@dataclass(frozen=True)
class Head:
    """The fitted classifier head: an MLP on embeddings and a hashed-n-gram logistic regression, mixed.

    File format (npz, written by scripts/train_sentiment.py): `w1` (384, hidden) and `w2` (hidden, 3) int8 with
    per-column float32 scales `w1_scale`, `w2_scale`, float32 biases `b1`, `b2`; the n-gram part keeps only its
    selected hashed ids `ngram_rows` (uint16, sorted) with int8 weights `ngram_w` (rows, 3) and `ngram_w_scale`,
    bias `ngram_b`; `ngram_weight` its share in the mix; `hash_features`, `hash_ngrams` the hashing settings.
    """

    w1: np.ndarray  # (384, hidden)
    b1: np.ndarray
    w2: np.ndarray  # (hidden, 3)
    b2: np.ndarray
    ngram_w: np.ndarray  # (HASH_FEATURES, 3), zero except for the selected hashed ids
    ngram_b: np.ndarray  # (3,)
    ngram_weight: float  # share of the n-gram model in the mix
    digest: str

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        """Read a head written by scripts/train_sentiment.py (npz); checks its hashing settings."""
        import io

        with np.load(io.BytesIO(data)) as z:
            if int(z["hash_features"]) != HASH_FEATURES or tuple(int(v) for v in z["hash_ngrams"]) != HASH_NGRAMS:
                raise ValueError("sentiment head was fitted with other n-gram hashing settings")
            rows = z["ngram_rows"].astype(np.int64)
            if rows.size and (rows.min() < 0 or rows.max() >= HASH_FEATURES):
                raise ValueError("sentiment head names n-gram ids outside its hashing settings")
            ngram_w = np.zeros((HASH_FEATURES, len(LABELS)), dtype=np.float32)
            ngram_w[rows] = _dequantised(z, "ngram_w")  # stored sparse: only the selected ids
            return cls(
                w1=_dequantised(z, "w1"), b1=z["b1"].astype(np.float32),
                w2=_dequantised(z, "w2"), b2=z["b2"].astype(np.float32), ngram_w=ngram_w,
                ngram_b=z["ngram_b"].astype(np.float32), ngram_weight=float(z["ngram_weight"]),
                digest=hashlib.sha256(data).hexdigest()[:12],
            )

    def probabilities(self, vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) class probabilities (negative, neutral, positive) from embeddings and the raw texts."""
        hidden = np.maximum(vectors @ self.w1 + self.b1, 0.0)
        p_mlp = _softmax(hidden @ self.w2 + self.b2)
        p_ngram = _softmax(self._ngram_logits(texts))
        return self.ngram_weight * p_ngram + (1.0 - self.ngram_weight) * p_mlp

    def _ngram_logits(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(ngram_features(texts) @ self.ngram_w) + self.ngram_b


def ngram_features(texts: Sequence[str]) -> Any:
    """L2-normalised hashed word uni/bi-gram counts (a scipy sparse matrix), the n-gram model's input."""
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(ngram_range=HASH_NGRAMS, n_features=HASH_FEATURES, alternate_sign=False)
    return vectorizer.transform(list(texts))


@dataclass(frozen=True)
class EmbeddingSentimentModel:
    """The main model: packaged sentence embeddings + the fitted head."""

    embedder: Any
    head: Head
    is_fallback: bool = False

    @property
    def version(self) -> str:
        """`minilm-head-<first 12 hex of the head's SHA-256>`."""
        return f"minilm-head-{self.head.digest}"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score each text; the label is the most probable class, the score P(positive) - P(negative)."""
        items = _checked(texts)
        out = [NO_TEXT] * len(items)
        worded = [i for i, text in enumerate(items) if text.strip()]
        if worded:
            chosen = [items[i] for i in worded]
            probs = self.head.probabilities(self.embedder.embed(chosen), chosen)
            for i, p in zip(worded, probs, strict=True):
                out[i] = Sentiment(label=LABELS[int(np.argmax(p))], score=_clip(p[2] - p[0]))
        return out


@dataclass(frozen=True)
class LexiconSentimentModel:
    """The fallback: VADER's lexicon scores (compound in [-1, 1]; |compound| < 0.05 is neutral)."""

    analyzer: Any
    version: str = "vader-3.3.2"
    is_fallback: bool = True

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """Score each text with VADER."""
        out = []
        for text in _checked(texts):
            if not text.strip():
                out.append(NO_TEXT)
                continue
            compound = _clip(self.analyzer.polarity_scores(text)["compound"])
            if compound >= VADER_NEUTRAL_BAND:
                label: Label = "positive"
            elif compound <= -VADER_NEUTRAL_BAND:
                label = "negative"
            else:
                label = "neutral"
            out.append(Sentiment(label=label, score=compound))
        return out


def load_head() -> Head:
    """The committed head shipped with the package."""
    return Head.from_bytes(resources.files("models").joinpath(HEAD_FILE).read_bytes())


def load_fallback() -> LexiconSentimentModel:
    """The VADER fallback (also used by the bench as a baseline)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return LexiconSentimentModel(analyzer=SentimentIntensityAnalyzer())


def load_sentiment_model() -> SentimentModel:
    """The embedding model with its head, or the VADER fallback when the embedding model is not installed."""
    try:
        embedder = load_embedder()
    except EmbeddingUnavailable:
        return load_fallback()
    return EmbeddingSentimentModel(embedder=embedder, head=load_head())
