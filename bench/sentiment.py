"""Accuracy and macro-F1 of the sentiment model on the held-out split, against the baselines, and its speed.

Data: ../shared/data/financial-sentiment/valid.csv (2,388 finance headlines; never used for training or tuning).
Rows: the main model (MiniLM embeddings + fitted head), the VADER fallback, upstream's keyword counter (positive
words bullish up growth profit gain rally moon, negative bearish down loss crash dump sell fear; more positive
than negative words is positive, more negative is negative, else neutral) and always-neutral. Speed: 500
headlines scored after the model is loaded, best of three (wall time, and the CPU time of this process with the
load average: on a shared 2-core machine the wall time mostly measures the other work), and texts per second;
then the same 500 through the plain float32 encoder on torch's own thread count (the code before issue 14's fix)
as the same-run baseline, with the ratios.

Run: ``PYTHONPATH=$PWD python bench/sentiment.py [--threads 1]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.sentiment import LABELS, load_fallback, load_sentiment_model
from scripts.train_sentiment import default_data, read_split

POSITIVE = frozenset({"bullish", "up", "growth", "profit", "gain", "rally", "moon"})
NEGATIVE = frozenset({"bearish", "down", "loss", "crash", "dump", "sell", "fear"})
SPEED_TEXTS = 500
SPEED_TARGET_SECONDS = 2.0


def keyword_counter(texts: Sequence[str]) -> list[str]:
    """Upstream's models/sentiment.py word counts, read as a label per text."""
    labels = []
    for text in texts:
        words = re.findall(r"[a-z]+", text.lower())
        balance = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
        labels.append("positive" if balance > 0 else "negative" if balance < 0 else "neutral")
    return labels


def timed(predict: Callable[[Sequence[str]], list[str]], texts: Sequence[str]) -> tuple[list[str], float]:
    """Labels and the seconds they took."""
    start = time.perf_counter()
    labels = predict(texts)
    return labels, time.perf_counter() - start


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _wall_and_cpu(predict: Callable[[Sequence[str]], list[str]], texts: Sequence[str]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of one call (CPU shows the cost on a busy machine)."""
    cpu = time.process_time()
    _labels, seconds = timed(predict, texts)
    return seconds, time.process_time() - cpu


def _plain_float32(model: object) -> Callable[[Sequence[str]], list[str]]:
    """The encoder as it ran before issue 14's fix (float32, torch's own thread count), for the same-run baseline."""
    import torch

    encoder = model.embedder.model  # type: ignore[attr-defined]

    def encode(texts: Sequence[str]) -> list[str]:
        with torch.no_grad():
            encoder.encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        return []

    return encode


def main(argv: list[str] | None = None) -> int:
    """Score every row on valid.csv, time 500 headlines, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    texts, classes = read_split(default_data(), "valid")
    truth = [LABELS[c] for c in classes]
    model = load_sentiment_model()
    if model.is_fallback:
        print("the embedding model is not installed: the main row would be the fallback", file=sys.stderr)
        return 1
    fallback = load_fallback()
    rows: dict[str, Callable[[Sequence[str]], list[str]]] = {
        f"model ({model.version})": lambda t: [s.label for s in model.score(t)],
        f"fallback ({fallback.version})": lambda t: [s.label for s in fallback.score(t)],
        "upstream keyword counter": keyword_counter,
        "always neutral": lambda t: ["neutral"] * len(t),
    }
    result: dict[str, object] = {"n": len(texts), "torch_threads": _torch_threads()}
    print(f"held-out split: {len(texts)} headlines")
    print(f"| {'row':44} | accuracy | macro-F1 | texts/s |")
    print(f"|{'-' * 46}|----------|----------|---------|")
    for name, predict in rows.items():
        predicted, seconds = timed(predict, texts)
        accuracy = accuracy_score(truth, predicted)
        macro = f1_score(truth, predicted, average="macro", labels=list(LABELS))
        rate = len(texts) / seconds if seconds > 0 else float("inf")
        print(f"| {name:44} | {accuracy:8.3f} | {macro:8.3f} | {rate:7.0f} |")
        result[name] = {"accuracy": round(accuracy, 4), "macro_f1": round(macro, 4), "texts_per_s": round(rate)}
    sample = texts[:SPEED_TEXTS]
    runs = [_wall_and_cpu(rows[next(iter(rows))], sample) for _ in range(3)]
    best, cpu = min(runs)
    verdict = "met" if best <= SPEED_TARGET_SECONDS else "not met"
    load = os.getloadavg()[0]
    base, base_cpu = min(_wall_and_cpu(_plain_float32(model), sample) for _ in range(3))
    print(f"{SPEED_TEXTS} headlines after load: {best:.2f} s wall, {cpu:.2f} s CPU of this process "
          f"(target <= {SPEED_TARGET_SECONDS} s: {verdict}); load average {load:.1f} on {os.cpu_count()} cores")
    print(f"baseline, plain float32 encoder on torch's threads: {base:.2f} s wall, {base_cpu:.2f} s CPU "
          f"(ratio {base / best:.1f}x wall, {base_cpu / cpu:.1f}x CPU)")
    result["speed_500_s"] = round(best, 3)
    result["speed_500_cpu_s"] = round(cpu, 3)
    result["load_average"] = round(load, 1)
    result["baseline_float32_500_s"] = round(base, 3)
    result["baseline_float32_500_cpu_s"] = round(base_cpu, 3)
    result["speed_texts_per_s"] = round(SPEED_TEXTS / best)
    result["median_len_chars"] = int(np.median([len(t) for t in texts]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
