"""API speed: 1M one-minute candles through GET /api/v1/candles (Arrow, JSON) next to Datasets.read in process,
and 20 concurrent clients asking for one month each while the console serves its pages.

Usage: python bench/api.py [--rows 1000000] [--clients 20] [--rounds 5]
The console runs as a user starts it (``nexus serve``, the API mounted at /api) on a temp NEXUS_HOME; the
in-process baseline reads the same blob folder in this process. The bench waits for the console's start-up jobs
(its worker's first upkeep queues a knowledge-base refresh, ~20 s of CPU on two cores) before measuring. Every
figure is the best of three (warm caches on both sides) except the "cold" ones and the first JSON answer
(encoded for that request: later ones are slices of the version's kept records); ratios are against the
in-process read measured in this run. The client is urllib3 (requests' engine): Arrow is decoded from the
stream as it arrives (``pa.ipc.open_stream(response)``), JSON parsed from the body with orjson; the Arrow
figure through httpx (whole body first: h11 in Python, 64 KB reads) is printed beside it. The JSON encoding of
the whole dataset is also timed in process, Lona's records written from column arrays (``api.data.json_records``)
next to a dict per candle through orjson, as is the client's parse of that body. The concurrent clients each
keep one connection (opened before the first month is asked for) for their requests.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.data import json_records  # noqa: E402
from bench.browse import START, candles  # noqa: E402
from services.core.auth import local_operator  # noqa: E402
from services.core.config import load_settings  # noqa: E402
from services.knowledge.harvest import JOB_KIND as KNOWLEDGE_REFRESH  # noqa: E402
from services.market_data.datasets import DatasetRef, Datasets  # noqa: E402
from services.market_data.ohlcv import BASE_COLUMNS  # noqa: E402
from services.runtime import Runtime  # noqa: E402
from tests.support.console import running_console  # noqa: E402

REF = DatasetRef.parse("bench/BTCUSDT/1m")
MONTH_MS = 30 * 86_400_000


def best(fn, repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs, seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def settle(runtime: Runtime, timeout_s: float = 240) -> float:
    """Wait until the console's start-up chores are done (its worker's first upkeep, at the next whole minute,
    queues a knowledge-base refresh: ~20 s of CPU on this machine's two cores) and no job is queued or running:
    the figures are the console's steady state, not its first minutes. Seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        refreshed = runtime.jobs.list(kind=KNOWLEDGE_REFRESH, limit=1)
        if refreshed and not any(job.active for job in runtime.jobs.list(limit=20)):
            return time.monotonic() - began
        time.sleep(1)
    raise SystemExit(f"the console's start-up jobs were still running after {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="requests per client")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    runtime = Runtime(load_settings(nexus_home=home, app_env="local"))
    runtime.datasets.write(REF, candles(args.rows))
    secret = runtime.tokens.issue(local_operator("admin"), "bench@bank.com", scopes=["data:read"])[1]
    auth = {"Authorization": f"Bearer {secret}"}
    whole = {"dataset": str(REF)}

    cold_reader = Datasets(runtime.store, home / "cold-cache", runtime.settings.ohlcv_container)
    began = time.perf_counter()
    assert len(cold_reader.read(REF)) == args.rows
    in_process_cold = time.perf_counter() - began
    in_process = best(lambda: runtime.datasets.read(REF))
    frame = runtime.datasets.read(REF)
    columns = {c: np.asarray(frame[c], dtype="int64" if c == "timestamp" else "float64") for c in BASE_COLUMNS}
    encode_columns = best(lambda: json_records(columns))
    encode_dicts = best(lambda: orjson.dumps([dict(zip(BASE_COLUMNS, row, strict=True)) for row in zip(
        *(c.tolist() for c in columns.values()), strict=True)]))  # the baseline: a dict per candle
    body = b'{"data":[' + json_records(columns) + b"]}"
    client_parse = best(lambda: orjson.loads(body))

    gc.freeze()  # this process's million-row frames are no client's: its full collections (130-160 ms) are not
    # the API's latency
    with running_console(home, start_timeout_s=600, API_RATE_LIMIT_PER_MINUTE="0") as url, \
            httpx.Client(base_url=url, headers=auth, timeout=120) as client:
        settled_s = settle(runtime)
        port = int(url.rsplit(":", 1)[1])
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, headers=auth, timeout=120)

        def candles_path(**params: str) -> str:
            return str(httpx.URL("/api/v1/candles", params={**whole, **params}))

        def arrow() -> pd.DataFrame:  # the stream read as it arrives, a record batch at a time
            answer = pool.request("GET", candles_path(format="arrow"), preload_content=False)
            try:
                return pa.ipc.open_stream(answer).read_all().to_pandas()
            finally:
                answer.release_conn()

        def arrow_httpx() -> pd.DataFrame:  # the whole body first (httpx: h11 in Python, 64 KB reads)
            answer = client.get("/api/v1/candles", params={**whole, "format": "arrow"})
            return pa.ipc.open_stream(answer.content).read_all().to_pandas()

        def as_json() -> list:
            return orjson.loads(pool.request("GET", candles_path()).data)["data"]

        began = time.perf_counter()
        assert len(arrow()) == args.rows
        arrow_cold = time.perf_counter() - began
        assert arrow().equals(arrow_httpx())
        arrow_s = best(arrow)
        arrow_httpx_s = best(arrow_httpx)
        began = time.perf_counter()
        assert len(as_json()) == args.rows
        json_first = time.perf_counter() - began  # encoded for this request; the version's records meanwhile
        json_s = best(as_json)
        assert len(as_json()) == args.rows

        rng = np.random.default_rng(3)
        span = args.rows * 60_000 - MONTH_MS
        starts = [START + int(rng.integers(0, max(span, 1))) for _ in range(args.clients * args.rounds)]
        latencies: dict[str, list[float]] = {"arrow": [], "json": []}
        pages: list[float] = []
        stop = threading.Event()

        def page_load() -> None:  # the console keeps serving its pages meanwhile
            with httpx.Client(base_url=url, timeout=30) as browser:
                while not stop.is_set():
                    began = time.perf_counter()
                    for path in ("/", "/_stcore/health", "/health"):
                        browser.get(path)
                    pages.append(time.perf_counter() - began)

        def months(fmt: str, own: urllib3.HTTPConnectionPool, index: int) -> None:  # one client, in turn
            for start in starts[index::args.clients]:
                began = time.perf_counter()
                answer = own.request("GET", candles_path(start=str(start), end=str(start + MONTH_MS - 1),
                                                         format=fmt))
                assert answer.status == 200 and answer.data
                latencies[fmt].append(time.perf_counter() - began)

        pager = threading.Thread(target=page_load)
        pager.start()
        # each client keeps its connection, as a real one does (a client made per request spent more time
        # building its TLS context, under this process's GIL, than the server spent on the month)
        own = [urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, headers=auth, timeout=60)
               for _ in range(args.clients)]
        with ThreadPoolExecutor(max_workers=args.clients) as pool_:  # connected before the first month
            list(pool_.map(lambda c: c.request("GET", "/health"), own))
        for fmt in ("arrow", "json"):
            with ThreadPoolExecutor(max_workers=args.clients) as pool_:
                list(pool_.map(lambda c, i, f=fmt: months(f, c, i), own, range(args.clients)))
        for client_ in own:
            client_.close()
        pool.close()
        stop.set()
        pager.join()

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) * 1000

    result = {
        "rows": args.rows, "settled_after_s": round(settled_s, 1), "in_process_read_s": round(in_process, 3),
        "in_process_cold_s": round(in_process_cold, 3),
        "arrow_s": round(arrow_s, 3), "arrow_httpx_s": round(arrow_httpx_s, 3), "arrow_cold_s": round(arrow_cold, 3),
        "json_s": round(json_s, 3),
        "json_first_s": round(json_first, 3),
        "arrow_ratio": round(arrow_s / in_process, 2), "arrow_httpx_ratio": round(arrow_httpx_s / in_process, 2),
        "json_ratio": round(json_s / in_process, 2),
        "json_first_ratio": round(json_first / in_process, 2),
        "arrow_cold_ratio": round(arrow_cold / in_process_cold, 2),
        "json_encode_columns_s": round(encode_columns, 3), "json_encode_dict_per_candle_s": round(encode_dicts, 3),
        "json_encode_speedup": round(encode_dicts / encode_columns, 2), "json_client_parse_s": round(client_parse, 3),
        "clients": args.clients, "requests": len(starts),
        **{f"month_{fmt}_p50_ms": round(pct(v, 50), 1) for fmt, v in latencies.items()},
        **{f"month_{fmt}_p99_ms": round(pct(v, 99), 1) for fmt, v in latencies.items()},
        "pages_while_loaded_median_ms": round(statistics.median(pages) * 1000, 1) if pages else None,
        "page_rounds": len(pages),
    }
    print(f"{'what':44} {'value':>10}")
    for key, value in result.items():
        print(f"{key:44} {value!s:>10}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
