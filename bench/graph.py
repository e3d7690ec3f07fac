"""Wall time of a full agent-graph run on 10 symbols x 2,500 daily bars, cold (training) and warm (cached model).

Data: the first 10 of skfolio's 20 US stocks (daily closes, close-only datasets), their last 2,500 days,
written to a fresh NEXUS_HOME. A run goes through the real path (``start_run`` with the job run inline,
SQLite records and checkpoints, local blob store): load data, predictor, anomaly, optimizer, risk gate,
then the approval interrupt. The cold run trains the predictor (settings' training budget) and examines
each dataset; the warm run is the same request again, reusing the cached weights and detector results.
No LLM, no tracing. Goals on a 2-core machine: cold <= 60 s, warm <= 5 s.

The context step (news sentiment and knowledge search before the optimizer) is then measured warm: the same run
with 100 news items per symbol in the lookback window and 50 patterns in the knowledge base (sqlite-vec, the
packaged embedding model), against the graph built without the context node, alternating, ``REPEATS`` runs each;
the ratio of the best runs is the figure (other work on a shared machine only ever adds time), the ratio of the
medians is printed beside it. Goal: with / without <= 1.3.

Run: ``python bench/graph.py``. Prints a table (seconds per node), then one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ["LANGSMITH_TRACING"] = "false"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.package_data import sp500_closes
from services.agents import nodes
from services.agents.context import as_of
from services.agents.run_store import GraphRun
from services.agents.state import NODES, RunParams
from services.core import clock
from services.core.auth import Actor, local_operator
from services.core.config import load_settings
from services.market_data.datasets import DatasetRef
from services.news.store import RawItem, Scored
from services.runtime import Runtime, set_runtime

SYMBOLS = 10
BARS = 2500
GOALS_S = {"cold": 60.0, "warm": 5.0}
NEWS_PER_SYMBOL = 100
PATTERNS = 50
REPEATS = 7
CONTEXT_RATIO_GOAL = 1.3


def write_universe(runtime: Runtime) -> tuple[str, ...]:
    """The last BARS closes of the first SYMBOLS stocks as close-only datasets; their refs."""
    closes = sp500_closes().iloc[-BARS:, :SYMBOLS]
    stamps = closes.index.tz_localize("UTC").as_unit("ms").asi8
    refs = []
    for ticker in closes.columns:
        close = closes[ticker].to_numpy(dtype=np.float64)
        frame = pd.DataFrame({"timestamp": stamps, "open": close, "high": close, "low": close, "close": close,
                              "volume": np.zeros_like(close)})
        ref = DatasetRef.of("bench", ticker, "1d")
        runtime.datasets.write(ref, frame, close_only=True)
        refs.append(str(ref))
    return tuple(refs)


def write_context(runtime: Runtime, refs: tuple[str, ...]) -> None:
    """NEWS_PER_SYMBOL scored items per symbol inside the lookback before the run's as-of time, and PATTERNS
    patterns spread over the symbols (synthetic text; the scores are seeded, not a model's)."""
    rng = np.random.default_rng(7)
    symbols = [DatasetRef.parse(r).symbol for r in refs]
    last = max(runtime.datasets.manifest(DatasetRef.parse(r)).last_ts for r in refs)
    when = as_of(last, 86_400_000, clock.now())
    items = []
    for symbol in symbols:
        for i in range(NEWS_PER_SYMBOL):
            score = float(rng.uniform(-1, 1))
            label = "negative" if score < -0.2 else "positive" if score > 0.2 else "neutral"
            published = when - timedelta(hours=float(rng.uniform(0.1, 47.9)))
            items.append(Scored(RawItem("bench", f"{symbol} headline {i}", symbols=(symbol,), published_at=published),
                                score, label, "bench-seeded"))
    runtime.news.add(items)
    trader = Actor("bench", frozenset({"trader"}))
    for i in range(PATTERNS):
        symbol = symbols[i % len(symbols)]
        runtime.knowledge.add_pattern(trader, f"{symbol} pattern {i}", "momentum",
                                      f"{symbol} tends to keep moving after a strong week ({i})", assets=[symbol])


def context_ratio(runtime: Runtime, params: RunParams) -> dict:
    """Warm seconds with the context step and without its node (alternating): best and median of each, ratios."""
    with_s, without_s = [], []
    full = nodes.NODES
    try:
        for _ in range(REPEATS):
            nodes.NODES = tuple(n for n in full if n != "context")
            without_s.append(timed_run(runtime, params)[0])
            nodes.NODES = full
            seconds, run = timed_run(runtime, params)
            with_s.append(seconds)
    finally:
        nodes.NODES = full
    counted = sum(c.count for c in run.results.context.context.symbols.values())
    matched = sum(len(c.matches) for c in run.results.context.context.symbols.values())
    with_m, without_m = statistics.median(with_s), statistics.median(without_s)
    return {"with_s": round(min(with_s), 3), "without_s": round(min(without_s), 3),
            "ratio": round(min(with_s) / min(without_s), 3), "median_with_s": round(with_m, 3),
            "median_without_s": round(without_m, 3), "median_ratio": round(with_m / without_m, 3),
            "context_step_s": round(run.step("context").seconds, 3), "news_counted": counted,
            "matches": matched}


def timed_run(runtime: Runtime, params: RunParams) -> tuple[float, GraphRun]:
    """Wall seconds of one run to the approval interrupt, and the run as stored."""
    from services.agents.runs import start_run

    started = time.perf_counter()
    run = start_run(runtime, params, local_operator("bench"), inline=True)
    seconds = time.perf_counter() - started
    if run.status != "awaiting_approval":
        raise SystemExit(f"the run ended {run.status}: {run.error or run.outcome}")
    return seconds, run


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        runtime = Runtime(load_settings(nexus_home=Path(home)))
        set_runtime(runtime)
        refs = write_universe(runtime)
        params = RunParams(refs, horizon=5, lookback=BARS, window=60, llm=False)
        import services.worker.consumer  # noqa: F401  (job kinds and the queue, as a worker process has them)

        write_context(runtime, refs)
        cold_s, cold = timed_run(runtime, params)
        warm_s, warm = timed_run(runtime, params)
        context = context_ratio(runtime, params)
    budget = params.predictor_config(runtime.settings.predictor_max_epochs,
                                     runtime.settings.predictor_samples_per_epoch)
    print(f"agent graph, {SYMBOLS} symbols x {BARS} daily bars (skfolio closes), window 60, horizon 5, "
          f"training budget {budget.max_epochs} epochs x {budget.samples_per_epoch} windows, "
          f"{budget.num_threads} torch thread(s), {os.cpu_count()} CPUs")
    print(f"{'node':12} {'cold s':>9} {'warm s':>9}")
    for node in NODES:
        row = [r.step(node).seconds for r in (cold, warm)]
        print(f"{node:12} " + " ".join(f"{v:9.2f}" if v is not None else f"{'-':>9}" for v in row))
    print(f"{'total':12} {cold_s:9.2f} {warm_s:9.2f}   (wall time of start_run, job inline)")
    cold_model, warm_model = cold.results.predictor.model, warm.results.predictor.model
    print(f"cold: trained in {cold_model.train_seconds:.1f} s, epochs {list(cold_model.fold_epochs)} + "
          f"{cold_model.epochs}; warm: model cached = {warm_model.cached}; {len(cold.results.orders)} orders proposed")
    print(f"context step (warm, best of {REPEATS}): with {context['with_s']:.2f} s, without the node "
          f"{context['without_s']:.2f} s, ratio {context['ratio']:.2f} (goal <= {CONTEXT_RATIO_GOAL}; medians "
          f"{context['median_with_s']:.2f} / {context['median_without_s']:.2f} s = {context['median_ratio']:.2f}); "
          f"the step itself {context['context_step_s']:.3f} s for {context['news_counted']} news items and "
          f"{context['matches']} knowledge matches")
    goals = {"cold_le_60s": cold_s <= GOALS_S["cold"], "warm_le_5s": warm_s <= GOALS_S["warm"],
             "context_ratio_le_1_3": context["ratio"] <= CONTEXT_RATIO_GOAL}
    print(json.dumps({"bench": "graph", "symbols": SYMBOLS, "bars": BARS, "cold_s": round(cold_s, 2),
                      "warm_s": round(warm_s, 2), "train_s": round(cold_model.train_seconds, 2),
                      "warm_cached": warm_model.cached, "context": context, "goals_met": goals}))


if __name__ == "__main__":
    main()
