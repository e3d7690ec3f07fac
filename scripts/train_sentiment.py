"""Fit the sentiment head (models/sentiment_head.npz) on the training split only; reproducible (fixed seeds).

    PYTHONPATH=$PWD python scripts/train_sentiment.py [--data ../shared/data/financial-sentiment] [--out models/...]

The settings (MLP width 256, L2 1e-3, hashed uni/bi-grams with logistic regression C=16, mixed 0.3 : 0.7) were
chosen on a stratified 20 % hold-out carved out of train.csv, whose figures this script prints first; valid.csv
is never read here (bench/sentiment.py reports on it). Labels in the data: 0 bearish, 1 bullish, 2 neutral.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from models.embedding import load_embedder
from models.sentiment import HASH_FEATURES, HASH_NGRAMS, HEAD_FILE, ngram_features

SEED = 0
HIDDEN = 256
ALPHA = 1e-3
NGRAM_C = 16.0
NGRAM_WEIGHT = 0.3
DATA_TO_CLASS = {0: 0, 2: 1, 1: 2}  # dataset label -> index in models.sentiment.LABELS (negative, neutral, positive)
DATA_PARTS = ("shared", "data", "financial-sentiment")


def default_data() -> Path:
    """The labelled data in the nearest `shared/data/financial-sentiment` above the checkout (../shared/...)."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent.joinpath(*DATA_PARTS)
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no shared/data/financial-sentiment above this checkout; pass --data")


def read_split(folder: Path, name: str) -> tuple[list[str], np.ndarray]:
    """Texts and class indices (negative 0, neutral 1, positive 2) of one CSV split."""
    frame = pd.read_csv(folder / f"{name}.csv")
    return frame["text"].astype(str).tolist(), frame["label"].map(DATA_TO_CLASS).to_numpy(dtype=np.int64)


def fit(vectors: np.ndarray, texts: list[str], labels: np.ndarray) -> tuple[MLPClassifier, LogisticRegression]:
    """Fit both halves of the head."""
    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=300, early_stopping=True,
                        random_state=SEED)
    mlp.fit(vectors, labels)
    ngram = LogisticRegression(C=NGRAM_C, max_iter=3000)
    ngram.fit(ngram_features(texts), labels)
    return mlp, ngram


def mixed(mlp: MLPClassifier, ngram: LogisticRegression, vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """Class probabilities of the mix, as models.sentiment computes them."""
    return NGRAM_WEIGHT * ngram.predict_proba(ngram_features(texts)) + (1 - NGRAM_WEIGHT) * mlp.predict_proba(vectors)


def save(mlp: MLPClassifier, ngram: LogisticRegression, texts: list[str], out: Path) -> None:
    """Write the head: float16 weights, the n-gram weights only for hashed ids seen in training."""
    seen = np.unique(ngram_features(texts).indices)
    np.savez_compressed(
        out,
        w1=mlp.coefs_[0].astype(np.float16), b1=mlp.intercepts_[0].astype(np.float16),
        w2=mlp.coefs_[1].astype(np.float16), b2=mlp.intercepts_[1].astype(np.float16),
        ngram_rows=seen.astype(np.int32), ngram_w=ngram.coef_.T[seen].astype(np.float16),
        ngram_b=ngram.intercept_.astype(np.float32), ngram_weight=np.float32(NGRAM_WEIGHT),
        hash_features=np.int64(HASH_FEATURES), hash_ngrams=np.array(HASH_NGRAMS, dtype=np.int64),
    )


def main(argv: list[str] | None = None) -> int:
    """Report the hold-out figures, refit on the whole training split and write the head."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models" / HEAD_FILE)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    texts, labels = read_split(args.data or default_data(), "train")
    vectors = load_embedder().embed(texts)
    a, b = train_test_split(np.arange(len(labels)), test_size=0.2, random_state=SEED, stratify=labels)
    mlp, ngram = fit(vectors[a], [texts[i] for i in a], labels[a])
    predicted = mixed(mlp, ngram, vectors[b], [texts[i] for i in b]).argmax(axis=1)
    print(f"hold-out of train ({len(b)}): accuracy {accuracy_score(labels[b], predicted):.3f} "
          f"macro-F1 {f1_score(labels[b], predicted, average='macro'):.3f}")
    mlp, ngram = fit(vectors, texts, labels)
    save(mlp, ngram, texts, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) from {len(labels)} training texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
