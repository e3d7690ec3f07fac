"""Precision, recall and F1 of the anomaly detector on labelled anomalies injected into real series.

Series: bokeh-sampledata AAPL, IBM, MSFT and backtesting GOOG (daily OHLCV, NYSE calendar passed as
sessions), backtesting EURUSD (hourly OHLCV, sessions learned from the series), and skfolio KO and
XOM as close-only series (open = high = low = close, volume 0; 1990-2022).

One experiment per kind and series, with a fixed seed: anomalies of that kind only are injected at
random bars at least 40 bars apart (one per ~150 bars), then:

- spike: the whole bar scaled by exp(+-m * s), m ~ U(6, 12), s = std of the previous 60 log returns;
- volume_burst: volume x U(5, 15) (series with volume only);
- gap: 1 to 5 consecutive bars removed;
- stale: 3 to 8 bars replaced by copies of the bar before them (close only: the same close);
- ohlc_violation: high pushed below the body, low above it, or high and low swapped.

A detection matches a label when it has the label's kind and its span overlaps the label's, from the
label's first bar to the next real bar (a spike's reversal bar, the bar after a gap); a second
detection of the same label is a duplicate and counts as false. Real series carry real anomalies
(splits, crashes, holidays, the 2017 Christmas gap): detections also made on the untouched series
(same kind, same time) are counted apart as "background", neither true nor false positives.

Baseline: a plain rolling z-score (previous 20 values, |z| > 3) on each bar's log return, volume,
range (high - low) / close and time step; any of them raises an alarm, scored the same way.

Run: ``python bench/anomaly.py``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.package_data import (
    DAY_MS,
    HOUR_MS,
    backtesting_ohlcv,
    bokeh_ohlcv,
    nyse_sessions,
    sp500_closes,
)
from models.anomaly import AnomalyConfig, AnomalyEvent, detect

SEED = 20240611
SPACING = 40
WARMUP = 80
BARS_PER_LABEL = 150
STRUCTURAL = ("gap", "ohlc_violation", "stale")
STATISTICAL = ("jump", "volume_burst")
GOALS = {"structural": 0.95, "statistical": 0.80}


@dataclass
class Series:
    name: str
    frame: pd.DataFrame
    interval_ms: int
    sessions: np.ndarray | None
    close_only: bool


@dataclass
class Label:
    kind: str
    start: int
    end: int


def load_series() -> list[Series]:
    series = []
    for ticker, frame in bokeh_ohlcv(("AAPL", "IBM", "MSFT")).items():
        ts = frame["timestamp"].to_numpy()
        series.append(Series(f"{ticker} 1d", frame, DAY_MS, nyse_sessions(ts[0], ts[-1]), False))
    goog = backtesting_ohlcv("GOOG")
    ts = goog["timestamp"].to_numpy()
    series.append(Series("GOOG 1d", goog, DAY_MS, nyse_sessions(ts[0], ts[-1]), False))
    series.append(Series("EURUSD 1h", backtesting_ohlcv("EURUSD"), HOUR_MS, None, False))
    closes = sp500_closes()
    ts = closes.index.as_unit("ms").asi8
    for ticker in ("KO", "XOM"):
        c = closes[ticker].to_numpy(dtype=np.float64)
        frame = pd.DataFrame({"timestamp": ts, "open": c, "high": c, "low": c, "close": c, "volume": 0.0})
        series.append(Series(f"{ticker} close-only 1d", frame, DAY_MS, nyse_sessions(ts[0], ts[-1]), True))
    return series


# --- injection ----------------------------------------------------------------------------------------
def _positions(n: int, rng: np.random.Generator, room: int) -> np.ndarray:
    """Random bars, at least SPACING apart, clear of the warm-up and of the end."""
    count = max(5, n // BARS_PER_LABEL)
    slots = np.arange(WARMUP, n - room - SPACING, SPACING)
    chosen = np.sort(rng.choice(slots, size=min(count, len(slots)), replace=False))
    return chosen + rng.integers(0, SPACING // 2, size=chosen.size)


def _next_ts(ts: np.ndarray, i: int) -> int:
    return int(ts[min(i, len(ts) - 1)])


def inject_spikes(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[Label]]:
    out = frame.copy()
    ts = out["timestamp"].to_numpy()
    log_close = np.log(out["close"].to_numpy())
    labels = []
    for i in _positions(len(out), rng, 2):
        sigma = float(np.std(np.diff(log_close[i - 61 : i])))
        factor = float(np.exp(rng.choice([-1.0, 1.0]) * rng.uniform(6, 12) * sigma))
        out.loc[i, ["open", "high", "low", "close"]] *= factor
        labels.append(Label("jump", int(ts[i]), _next_ts(ts, i + 1)))
    return out, labels


def inject_volume_bursts(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[Label]]:
    out = frame.copy()
    ts = out["timestamp"].to_numpy()
    volume = out["volume"].to_numpy()
    labels = []
    for i in _positions(len(out), rng, 1):
        out.loc[i, "volume"] = float(np.median(volume[i - 60 : i])) * rng.uniform(5, 15)
        labels.append(Label("volume_burst", int(ts[i]), int(ts[i])))
    return out, labels


def inject_gaps(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[Label]]:
    ts = frame["timestamp"].to_numpy()
    drop, labels = [], []
    for i in _positions(len(frame), rng, 6):
        k = int(rng.integers(1, 6))
        drop.extend(range(i, i + k))
        labels.append(Label("gap", int(ts[i]), int(ts[i + k])))
    return frame.drop(index=drop).reset_index(drop=True), labels


def inject_stale(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[Label]]:
    out = frame.copy()
    ts = out["timestamp"].to_numpy()
    columns = ["open", "high", "low", "close", "volume"]
    labels = []
    for i in _positions(len(out), rng, 9):
        k = int(rng.integers(3, 9))
        out.loc[i : i + k - 1, columns] = out.loc[i - 1, columns].to_numpy()
        labels.append(Label("stale", int(ts[i]), int(ts[i + k - 1])))
    return out, labels


def inject_ohlc_violations(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, list[Label]]:
    out = frame.copy()
    ts = out["timestamp"].to_numpy()
    labels = []
    for i in _positions(len(out), rng, 1):
        o, h, low, c = out.loc[i, ["open", "high", "low", "close"]].to_numpy()
        how = rng.integers(0, 3)
        if how == 0:
            out.loc[i, "high"] = max(o, c) * (1 - rng.uniform(0.001, 0.01))
        elif how == 1:
            out.loc[i, "low"] = min(o, c) * (1 + rng.uniform(0.001, 0.01))
        else:
            out.loc[i, ["high", "low"]] = [min(low, h) * (1 - rng.uniform(0.001, 0.01)), max(h, low)]
        labels.append(Label("ohlc_violation", int(ts[i]), int(ts[i])))
    return out, labels


INJECTORS: dict[str, Callable[[pd.DataFrame, np.random.Generator], tuple[pd.DataFrame, list[Label]]]] = {
    "gap": inject_gaps,
    "ohlc_violation": inject_ohlc_violations,
    "stale": inject_stale,
    "jump": inject_spikes,
    "volume_burst": inject_volume_bursts,
}


# --- detectors under test -----------------------------------------------------------------------------
def rolling_zscore_alarms(frame: pd.DataFrame, window: int = 20, threshold: float = 3.0) -> dict[str, np.ndarray]:
    """Timestamps where a plain rolling z-score exceeds ``threshold``, per kind of the signal that fired.

    return -> jump, volume -> volume_burst, time step -> gap, range -> ohlc_violation; a z-score has
    no signal of its own for stale prices, so any alarm counts for "stale".
    """
    close = frame["close"]
    signals = {
        "jump": np.log(close).diff(),
        "volume_burst": frame["volume"],
        "gap": frame["timestamp"].diff().astype("float64"),
        "ohlc_violation": (frame["high"] - frame["low"]) / close,
    }
    ts = frame["timestamp"].to_numpy()
    alarms, any_alarm = {}, np.zeros(len(frame), dtype=bool)
    for kind, signal in signals.items():
        past = signal.shift(1).rolling(window, min_periods=window)
        std = past.std()
        z = (signal - past.mean()) / std.where(std > 0)
        fired = (z.abs() > threshold).to_numpy()
        alarms[kind] = ts[fired]
        any_alarm |= fired
    alarms["stale"] = ts[any_alarm]
    return alarms


def score(labels: list[Label], detected: list[tuple[int, int]], background: set[int]) -> dict[str, int]:
    """Counts for precision/recall; ``detected`` holds (first, last) timestamps of each detection.

    A label is found when a detection overlaps its window; the first such detection is a true event,
    further ones on the same label are duplicates (the same anomaly reported twice) and count as
    false. Other detections are false unless the untouched series raised them too (``background``,
    by first timestamp); ``strict_false`` counts them all.
    """
    matched = [False] * len(detected)
    found = duplicates = 0
    for label in labels:
        hits = [k for k, (first, last) in enumerate(detected) if first <= label.end and last >= label.start]
        if hits:
            found += 1
            duplicates += len(hits) - 1
            for k in hits:
                matched[k] = True
    unmatched = [first for (first, _), m in zip(detected, matched, strict=True) if not m]
    return {
        "labels": len(labels),
        "found": found,
        "true_events": found,
        "false_events": sum(1 for t in unmatched if t not in background) + duplicates,
        "strict_false": len(unmatched) + duplicates,
    }


def spans(events: list[AnomalyEvent], kind: str) -> list[tuple[int, int]]:
    return [(e.timestamp, e.end_timestamp) for e in events if e.kind == kind]


def points(timestamps: np.ndarray) -> list[tuple[int, int]]:
    return [(int(t), int(t)) for t in timestamps]


def _prf(counts: dict[str, int]) -> dict[str, float]:
    recall = counts["found"] / counts["labels"] if counts["labels"] else float("nan")
    flagged = counts["true_events"] + counts["false_events"]
    precision = counts["true_events"] / flagged if flagged else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    strict_flagged = counts["true_events"] + counts["strict_false"]
    strict = counts["true_events"] / strict_flagged if strict_flagged else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "strict_precision": strict}


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for key, value in counts.items():
        total[key] = total.get(key, 0) + value


def main() -> None:
    started = time.perf_counter()
    rng = np.random.default_rng(SEED)
    config = AnomalyConfig()
    model_totals: dict[str, dict[str, int]] = {k: {} for k in INJECTORS}
    base_totals: dict[str, dict[str, int]] = {k: {} for k in INJECTORS}
    forest_totals: dict[str, dict[str, int]] = {k: {} for k in STATISTICAL}
    clean_model: dict[str, int] = {}
    clean_base: dict[str, int] = {}
    clean_bars: dict[str, int] = {}
    per_series = []
    for series in load_series():
        clean_events = detect(series.frame, series.interval_ms, config, series.sessions)
        clean_alarms = rolling_zscore_alarms(series.frame)
        for kind in INJECTORS:
            if kind == "volume_burst" and series.close_only:
                continue
            clean_bars[kind] = clean_bars.get(kind, 0) + len(series.frame)
            clean_model[kind] = clean_model.get(kind, 0) + sum(e.kind == kind for e in clean_events)
            clean_base[kind] = clean_base.get(kind, 0) + len(clean_alarms[kind])
        for kind, inject in INJECTORS.items():
            if kind == "volume_burst" and series.close_only:
                continue
            frame, labels = inject(series.frame, rng)
            events = detect(frame, series.interval_ms, config, series.sessions)
            background = {e.timestamp for e in clean_events if e.kind == kind}
            mine = score(labels, spans(events, kind), background)
            base = score(labels, points(rolling_zscore_alarms(frame)[kind]), set(clean_alarms[kind].tolist()))
            _add(model_totals[kind], mine)
            _add(base_totals[kind], base)
            if kind in STATISTICAL:
                forest_bg = {e.timestamp for e in clean_events if e.kind == "isolation_forest"}
                _add(forest_totals[kind], score(labels, spans(events, "isolation_forest"), forest_bg))
            prf = {k: round(v, 3) for k, v in _prf(mine).items()}
            per_series.append({"series": series.name, "kind": kind, **mine, **prf})

    rows, summary = [], {}
    for kind in INJECTORS:
        model, base = _prf(model_totals[kind]), _prf(base_totals[kind])
        group = "structural" if kind in STRUCTURAL else "statistical"
        met = model["f1"] >= GOALS[group] and model["f1"] > base["f1"]
        per_k_bars = 1000 / clean_bars[kind]
        summary[kind] = {
            "labels": model_totals[kind]["labels"],
            "precision": round(model["precision"], 4),
            "recall": round(model["recall"], 4),
            "f1": round(model["f1"], 4),
            "strict_precision": round(model["strict_precision"], 4),
            "clean_alarms_per_1k_bars": round(clean_model[kind] * per_k_bars, 2),
            "baseline_precision": round(base["precision"], 4),
            "baseline_recall": round(base["recall"], 4),
            "baseline_f1": round(base["f1"], 4),
            "baseline_strict_precision": round(base["strict_precision"], 4),
            "baseline_clean_alarms_per_1k_bars": round(clean_base[kind] * per_k_bars, 2),
            "goal_met": bool(met),
        }
        rows.append(
            {
                "kind": kind,
                "labels": model_totals[kind]["labels"],
                "P": model["precision"],
                "R": model["recall"],
                "F1": model["f1"],
                "strict_P": model["strict_precision"],
                "clean/1k": clean_model[kind] * per_k_bars,
                "z_P": base["precision"],
                "z_R": base["recall"],
                "z_F1": base["f1"],
                "z_strict_P": base["strict_precision"],
                "z_clean/1k": clean_base[kind] * per_k_bars,
                "goal": f"F1 >= {GOALS[group]:.2f} and > z_F1",
                "met": met,
            }
        )
    pd.set_option("display.width", 250)
    print("per series (detector):")
    print(pd.DataFrame(per_series).to_string(index=False))
    print()
    print("detector vs rolling z-score baseline (z_*). P/R/F1: background detections set aside; strict_P: every")
    print("detection that is not an injected label counts as false; clean/1k: detections per 1,000 bars of the")
    print("untouched series (real anomalies and false alarms alike).")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    forest = {kind: {k: round(float(v), 3) for k, v in _prf(c).items()} for kind, c in forest_totals.items()}
    print(f"isolation_forest events alone, scored against the statistical labels: {forest}")
    result = {
        "bench": "anomaly",
        "seed": SEED,
        "kinds": summary,
        "isolation_forest": forest,
        "all_goals_met": bool(all(s["goal_met"] for s in summary.values())),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
