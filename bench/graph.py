"""Wall time of a full agent-graph run on 10 symbols x 2,500 daily bars, cold (training) and warm (cached model).

Data: the first 10 of skfolio's 20 US stocks (daily closes, close-only datasets), their last 2,500 days,
written to a fresh NEXUS_HOME. A run goes through the real path (``start_run`` with the job run inline,
SQLite records and checkpoints, local blob store): load data, predictor, anomaly, optimizer, risk gate,
then the approval interrupt. The cold run trains the predictor (settings' training budget) and examines
each dataset; the warm run is the same request again, reusing the cached weights and detector results.
No LLM, no tracing. Goals on a 2-core machine: cold <= 60 s, warm <= 5 s.

Run: ``python bench/graph.py``. Prints a table (seconds per node), then one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["LANGSMITH_TRACING"] = "false"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from bench.package_data import sp500_closes
from services.agents.run_store import GraphRun
from services.agents.state import NODES, RunParams
from services.core.auth import local_operator
from services.core.config import load_settings
from services.market_data.datasets import DatasetRef
from services.runtime import Runtime, set_runtime

SYMBOLS = 10
BARS = 2500
GOALS_S = {"cold": 60.0, "warm": 5.0}


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

        cold_s, cold = timed_run(runtime, params)
        warm_s, warm = timed_run(runtime, params)
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
    goals = {"cold_le_60s": cold_s <= GOALS_S["cold"], "warm_le_5s": warm_s <= GOALS_S["warm"]}
    print(json.dumps({"bench": "graph", "symbols": SYMBOLS, "bars": BARS, "cold_s": round(cold_s, 2),
                      "warm_s": round(warm_s, 2), "train_s": round(cold_model.train_seconds, 2),
                      "warm_cached": warm_model.cached, "goals_met": goals}))


if __name__ == "__main__":
    main()
