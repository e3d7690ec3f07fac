"""Several workers: 20 graph runs and 1,000 approvals through 1, 2 and 3 worker processes.

Usage: python bench/scale.py [--runs 20] [--approvals 1000] [--workers 1,2,3]
Every worker is its own process (``python -m cli.worker --workers 1``) on a shared PostgreSQL (a throwaway
database on 127.0.0.1:5432), a shared Redis queue (a throwaway redis-server) and one blob folder. The
graph runs go to the approval interrupt (tiny predictor budget); each approval is an ``execute`` job that
fills its order on the paper venue. Prints jobs per minute and p50/p99 job latency (queued -> finished)
for each worker count, the ratio to one worker, and the CPU count; then JSON. On 2 cores a second worker
is not expected to help: the claim is correctness under N workers (each job once, every order filled once)
and how per-job time grows with N.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LANGSMITH_TRACING"] = "false"

from bench.approvals import percentile  # noqa: E402
from bench.graph import write_universe  # noqa: E402
from services.agents.runs import get_run, start_run  # noqa: E402
from services.agents.state import RunParams  # noqa: E402
from services.core.auth import local_operator  # noqa: E402
from services.core.config import load_settings  # noqa: E402
from services.jobs.queue import FINISHED  # noqa: E402
from services.runtime import Runtime, set_runtime  # noqa: E402
from services.trading.book import EXECUTE_KIND  # noqa: E402
from services.trading.orders import Proposal  # noqa: E402
from services.trading.risk import Check  # noqa: E402
from tests.conftest import _throwaway_postgres  # noqa: E402
from tests.support.redis import redis_server  # noqa: E402


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    """``count`` worker processes on the shared queue."""
    return [subprocess.Popen([sys.executable, "-m", "cli.worker", "--workers", "1"], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """SIGTERM (graceful) and wait."""
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=60)


def finished_jobs(runtime: Runtime, job_ids: list[str], timeout_s: float) -> list:
    """Wait until every job ended; return them."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [runtime.jobs.get(job_id) for job_id in job_ids]
        if all(job.status in FINISHED for job in jobs):
            return jobs
        if time.monotonic() > deadline:
            raise SystemExit(f"{sum(j.status not in FINISHED for j in jobs)} job(s) unfinished after {timeout_s} s")
        time.sleep(0.5)


def figures(jobs: list) -> dict:
    """Jobs per minute over the batch, p50/p99 latency from queued to finished, failures."""
    latencies = [(j.finished_at - j.created_at).total_seconds() for j in jobs]
    span = (max(j.finished_at for j in jobs) - min(j.created_at for j in jobs)).total_seconds()
    return {"jobs": len(jobs), "failed": sum(j.status != "succeeded" for j in jobs),
            "jobs_per_min": round(len(jobs) / span * 60, 1), "p50_s": round(percentile(latencies, 0.5), 3),
            "p99_s": round(percentile(latencies, 0.99), 3), "ran_twice": sum(j.attempts > 1 for j in jobs)}


def graph_batch(runtime: Runtime, refs: tuple[str, ...], runs: int) -> dict:
    """``runs`` graph runs submitted at once, to the approval interrupt."""
    params = RunParams(refs, horizon=5, lookback=300, window=20, llm=False)
    run_ids = [start_run(runtime, params, local_operator("bench")).id for _ in range(runs)]
    job_ids = [get_run(runtime, run_id).job_id for run_id in run_ids]
    return figures(finished_jobs(runtime, job_ids, timeout_s=1800))


def approval_batch(runtime: Runtime, ref: str, symbol: str, count: int, tag: str) -> dict:
    """``count`` proposals approved one by one, each sent by an execute job; every order must end filled."""
    operator = local_operator("bench")
    price = runtime.prices.require(symbol, ref)
    orders = []
    for index in range(count):
        orders += runtime.orders.propose(f"{tag}-{index}", [Proposal(
            proposal_id=f"{symbol}-buy", symbol=symbol, side="buy", quantity=0.001, reference_price=price,
            dataset_ref=ref, checks=[Check("max order notional", True, price * 0.001, 1e6)])])
    job_ids = []
    for order in orders:
        runtime.orders.approve(order.id, operator)
        job_ids.append(runtime.jobs.submit(EXECUTE_KIND, {"run_id": order.run_id}, actor="bench"))
    result = figures(finished_jobs(runtime, job_ids, timeout_s=1800))
    statuses = [runtime.orders.get(o.id).status for o in orders]
    result["orders_filled"] = statuses.count("filled")
    return result


def main() -> None:
    """Run the batches for each worker count and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[str, dict] = {}
    with _throwaway_postgres() as url, redis_server() as redis_url, tempfile.TemporaryDirectory() as home:
        env = {"DATABASE_URL": url, "REDIS_URL": redis_url, "NEXUS_HOME": home, "APP_ENV": "test",
               "PREDICTOR_MAX_EPOCHS": "1", "PREDICTOR_SAMPLES_PER_EPOCH": "256", "PAPER_INITIAL_CASH": "1e9"}
        runtime = Runtime(load_settings(**{k.lower(): v for k, v in env.items()}))
        set_runtime(runtime)
        refs = write_universe(runtime)[:3]
        symbol = refs[0].split("/")[1]
        for count in counts:
            runtime.queue.flush()
            workers = start_workers(count, env)
            try:
                results[f"{count} worker(s)"] = {
                    "graph_runs": graph_batch(runtime, refs, args.runs),
                    "approvals": approval_batch(runtime, refs[0], symbol, args.approvals, f"bench{count}"),
                }
            finally:
                stop_workers(workers)
    cpus = os.cpu_count()
    print(f"CPU count: {cpus}; {args.runs} graph runs and {args.approvals} approvals per worker count")
    print(f"{'workers':12} {'kind':11} {'jobs/min':>9} {'vs 1':>6} {'p50 s':>8} {'p99 s':>8} {'failed':>7} "
          f"{'twice':>6}")
    base = results[next(iter(results))]
    for label, batch in results.items():
        for kind, row in batch.items():
            ratio = row["jobs_per_min"] / base[kind]["jobs_per_min"]
            print(f"{label:12} {kind:11} {row['jobs_per_min']:9.1f} {ratio:6.2f} {row['p50_s']:8.3f} "
                  f"{row['p99_s']:8.3f} {row['failed']:7d} {row['ran_twice']:6d}")
    print(json.dumps({"cpu_count": cpus, "results": results}, indent=1))


if __name__ == "__main__":
    main()
