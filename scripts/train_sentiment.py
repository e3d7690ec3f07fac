"""Fit the sentiment head (models/sentiment_head.npz) on the training split only; reproducible (fixed seeds).

    PYTHONPATH=$PWD python scripts/train_sentiment.py [--data ../shared/data/financial-sentiment] [--out models/...]

The head: an MLP (HIDDEN ReLU units, L2 ALPHA, early stopping) on the MiniLM embeddings, mixed with a logistic
regression on hashed word uni/bi-grams pruned to the NGRAM_ROWS ids with the largest |weight| in a full fit and
re-fitted on those alone; all weight matrices int8 with per-column scales (format: models.sentiment.Head). The
settings were chosen by 5-fold stratified cross-validation on train.csv, whose figures (of the quantised head, read
back as models.sentiment reads it) this script prints first; valid.csv is never read here (bench/sentiment.py
reports on it). Labels in the data: 0 bearish, 1 bullish, 2 neutral.
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier

from models.embedding import load_embedder
from models.sentiment import HASH_FEATURES, HASH_NGRAMS, HEAD_FILE, Head, ngram_features

SEED = 0
FOLDS = 5
HIDDEN = 16
ALPHA = 1e-3
NGRAM_C = 16.0
NGRAM_ROWS = 1000
NGRAM_WEIGHT = 0.5
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


def quantised(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and per-column float32 scales with values * scales ~= w (largest |w| of a column -> 127)."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.round(w / scale).astype(np.int8), scale


def fit(vectors: np.ndarray, texts: list[str], labels: np.ndarray) -> bytes:
    """Fit both halves of the head and return it as the npz bytes models.sentiment.Head reads."""
    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=ALPHA, max_iter=300, early_stopping=True,
                        random_state=SEED)
    mlp.fit(vectors, labels)
    features = ngram_features(texts).tocsc()
    full = LogisticRegression(C=NGRAM_C, max_iter=3000).fit(features, labels)
    rows = np.sort(np.argsort(-np.abs(full.coef_).max(axis=0), kind="stable")[:NGRAM_ROWS])
    ngram = LogisticRegression(C=NGRAM_C, max_iter=3000).fit(features[:, rows], labels)
    parts: dict[str, np.ndarray] = {}
    for name, w in (("w1", mlp.coefs_[0]), ("w2", mlp.coefs_[1]), ("ngram_w", ngram.coef_.T)):
        parts[name], parts[f"{name}_scale"] = quantised(w)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, **parts,
        b1=mlp.intercepts_[0].astype(np.float32), b2=mlp.intercepts_[1].astype(np.float32),
        ngram_rows=rows.astype(np.uint16), ngram_b=ngram.intercept_.astype(np.float32),
        ngram_weight=np.float32(NGRAM_WEIGHT),
        hash_features=np.int64(HASH_FEATURES), hash_ngrams=np.array(HASH_NGRAMS, dtype=np.int64),
    )
    return buffer.getvalue()


def cross_validated(vectors: np.ndarray, texts: list[str], labels: np.ndarray) -> np.ndarray:
    """Out-of-fold predicted classes of heads fitted on the other folds, each read back as the loader reads it."""
    predicted = np.empty_like(labels)
    for fold, (a, b) in enumerate(StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(vectors, labels)):
        head = Head.from_bytes(fit(vectors[a], [texts[i] for i in a], labels[a]))
        predicted[b] = head.probabilities(vectors[b], [texts[i] for i in b]).argmax(axis=1)
        print(f"fold {fold + 1}/{FOLDS} ({len(b)}): accuracy {accuracy_score(labels[b], predicted[b]):.3f} "
              f"macro-F1 {f1_score(labels[b], predicted[b], average='macro'):.3f}", flush=True)
    return predicted


def main(argv: list[str] | None = None) -> int:
    """Report the cross-validated figures, refit on the whole training split and write the head."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "models" / HEAD_FILE)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    texts, labels = read_split(args.data or default_data(), "train")
    vectors = load_embedder().embed(texts)
    print(f"head: MLP 384 -> {HIDDEN} -> 3 (L2 {ALPHA}) mixed {1 - NGRAM_WEIGHT:.1f} : {NGRAM_WEIGHT:.1f} with "
          f"logistic regression (C = {NGRAM_C}) on the {NGRAM_ROWS} top hashed uni/bi-grams; int8 weights")
    predicted = cross_validated(vectors, texts, labels)
    print(f"{FOLDS}-fold cross-validation on train ({len(labels)}): accuracy {accuracy_score(labels, predicted):.3f} "
          f"macro-F1 {f1_score(labels, predicted, average='macro'):.3f}")
    args.out.write_bytes(fit(vectors, texts, labels))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) from {len(labels)} training texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
