"""Approval latency: 1,000 approvals through the services to "submitted" at a fake Live Engine on loopback.

Usage: python bench/approvals.py [--orders 1000]
For SQLite and PostgreSQL (127.0.0.1:5432), p50/p99 from approve() to the order being submitted, next to the
bare HTTP round trip of an order create to the same fake server in the same run. Prints a table, then JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.core.auth import local_operator  # noqa: E402
from services.core.config import load_settings  # noqa: E402
from services.runtime import Runtime  # noqa: E402
from services.trading.orders import Proposal  # noqa: E402
from services.trading.risk import Check  # noqa: E402
from tests.conftest import _throwaway_postgres  # noqa: E402
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bare_round_trips(url: str, count: int) -> list[float]:
    """POST an order create straight to the fake, ``count`` times, in ms."""
    times = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SERVICE_KEY}"}) as client:
        for _ in range(count):
            body = {"symbol": "ETHUSDT", "side": "buy", "type": "market", "quantity": 0.01, "price": None,
                    "deploymentId": None, "idempotencyKey": uuid.uuid4().hex}
            started = time.perf_counter()
            client.post("/api/internal/orders", json=body).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def approvals(settings: dict, count: int) -> list[float]:
    """Approve and send ``count`` proposed orders one by one; ms from approve() to submitted."""
    runtime = Runtime(load_settings(**settings))
    checks = [Check("max order notional", True, 30.0, 1e6)]
    proposals = [Proposal(f"p{i}", "ETHUSDT", "buy", 0.01, 3000.0, checks=checks) for i in range(count)]
    orders = runtime.orders.propose(f"bench-{uuid.uuid4().hex[:6]}", proposals)
    operator = local_operator("bench")
    times = []
    for order in orders:
        started = time.perf_counter()
        runtime.orders.approve(order.id, operator)
        sent = runtime.orders.submit(order.id)
        times.append((time.perf_counter() - started) * 1000)
        assert sent.status in ("submitted", "filled"), sent.status
    runtime.engine.dispose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    results = {"bench": "approvals", "orders": args.orders}
    rows = []
    with FakeLiveEngine(fill_on_get=False) as fake, tempfile.TemporaryDirectory() as home:
        bare = bare_round_trips(fake.url, 200)
        results["bare_p50_ms"] = round(percentile(bare, 0.5), 3)
        base = {"execution_venue": "live-engine", "live_engine_url": fake.url,
                "live_engine_service_api_key": SERVICE_KEY, "nexus_home": Path(home)}
        with _throwaway_postgres() as postgres_url:
            for name, extra in (("sqlite", {}), ("postgresql", {"database_url": postgres_url})):
                times = approvals({**base, **extra}, args.orders)
                p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
                results[f"{name}_p50_ms"], results[f"{name}_p99_ms"] = round(p50, 3), round(p99, 3)
                rows.append((name, p50, p99, statistics.mean(times)))
    print(f"bare HTTP round trip to the fake Live Engine: p50 {results['bare_p50_ms']:.2f} ms")
    print(f"{'database':12} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}  p50 - bare (target ≤ 20)  p99 (target ≤ 200)")
    for name, p50, p99, mean in rows:
        print(f"{name:12} {p50:8.2f} {p99:8.2f} {mean:8.2f}  {p50 - results['bare_p50_ms']:24.2f}  {p99:8.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
