"""Approval latency: 1,000 approvals through the services to "submitted" at a fake Live Engine on loopback,
and the inbox in Chromium.

Usage: python bench/approvals.py [--orders 1000] [--inbox 20]
For SQLite and PostgreSQL (127.0.0.1:5432), p50/p99 from approve() to the order being submitted, next to the
bare HTTP round trip of an order create to the same fake server in the same run. With ``--inbox N`` (0 skips
it): a served console (`nexus serve`, SQLite, paper venue) open on the Approvals page in headless Chromium;
median/p95 over N proposals of the time from ``propose()`` to the order's line in the open inbox, and from the
click on Approve to the outcome on screen, next to a bare Streamlit page's click → rerun → text, measured in
the same run. Prints a table, then JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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
from tests.support.azurite import free_port  # noqa: E402
from tests.support.browser import chromium_pages  # noqa: E402
from tests.support.console import console_environment, running_console  # noqa: E402

BARE_PAGE = """import streamlit as st

if st.button("Go"):
    st.session_state["clicks"] = st.session_state.get("clicks", 0) + 1
st.write(f"clicks {st.session_state.get('clicks', 0)}")
"""


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


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def idle(page) -> None:
    """Wait until no script run is in progress (Streamlit's running indicator gone), so a click is timed alone."""
    page.wait_for_timeout(300)  # the indicator shows only after a short delay: let a just-started run show it
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon], "
                           "[data-testid=stStatusWidgetRunningManIcon]')", timeout=60_000)


def inbox_timings(count: int, home: Path) -> tuple[list[float], list[float]]:
    """Proposal → its line in an open inbox, and Approve click → outcome on screen, ``count`` times, in ms."""
    to_line, to_outcome = [], []
    with running_console(home) as url, chromium_pages(1) as (page,):
        runtime = Runtime(load_settings(nexus_home=home))
        price = runtime.prices.quote("IBM")
        page.goto(f"{url}/approvals")
        page.get_by_text("Nothing waits for a decision").wait_for(timeout=60_000)
        for i in range(count):
            quantity = 1 + (i + 1) / 10_000  # each proposal's line is unique: BUY 1.0001 IBM, BUY 1.0002 IBM …
            started = time.perf_counter()
            (order,) = runtime.orders.propose(f"bench-inbox-{i}", [Proposal(
                f"p{i}", "IBM", "buy", quantity, price, dataset_ref="sample/IBM/1d",
                checks=[Check("max order notional", True, round(quantity * price, 2), 1e6)])])
            line = page.get_by_role("button", name=f"BUY {quantity:g} IBM ·")
            line.wait_for(timeout=60_000)
            to_line.append(_ms_since(started))
            line.click()
            page.get_by_role("heading", name=f"BUY {quantity:g} IBM").wait_for(timeout=30_000)
            idle(page)
            started = time.perf_counter()
            page.get_by_role("button", name="Approve", exact=True).click()
            page.get_by_text(f"Approved, sending to paper: BUY {quantity:g} IBM").wait_for(timeout=30_000)
            to_outcome.append(_ms_since(started))
            assert runtime.orders.get(order.id).status != "pending_approval"
        runtime.engine.dispose()
    return to_line, to_outcome


@contextlib.contextmanager
def bare_streamlit(folder: Path) -> Iterator[str]:
    """A one-button Streamlit page served on a free port; its URL."""
    script = folder / "bare.py"
    script.write_text(BARE_PAGE)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                                "--server.headless", "true", "--server.address", "127.0.0.1"],
                               env=console_environment(folder), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def bare_reruns(count: int, folder: Path) -> list[float]:
    """Click → rerun → new text on a bare Streamlit page, ``count`` times, in ms."""
    times = []
    with bare_streamlit(folder) as url, chromium_pages(1) as (page,):
        page.goto(url)
        page.get_by_text("clicks 0").wait_for(timeout=60_000)
        for i in range(count):
            idle(page)
            started = time.perf_counter()
            page.get_by_role("button", name="Go").click()
            page.get_by_text(f"clicks {i + 1}", exact=True).wait_for(timeout=30_000)
            times.append(_ms_since(started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--inbox", type=int, default=20, help="proposals timed in the browser inbox (0 skips)")
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
    if args.inbox:
        with tempfile.TemporaryDirectory() as bare_home, tempfile.TemporaryDirectory() as console_home:
            bare_rerun = bare_reruns(args.inbox, Path(bare_home))
            to_line, to_outcome = inbox_timings(args.inbox, Path(console_home))
        print(f"browser (Chromium), median / p95 of {args.inbox}, ms:")
        for name, values in (("bare Streamlit click → rerun → text", bare_rerun),
                             ("new proposal → its line in the open inbox", to_line),
                             ("Approve click → outcome on screen", to_outcome)):
            median, p95 = statistics.median(values), percentile(values, 0.95)
            results[name] = {"median_ms": round(median, 1), "p95_ms": round(p95, 1)}
            print(f"  {name:44} {median:8.1f} {p95:8.1f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
