"""Ingest speed: 1-minute candles from the fake Binance through the real ccxt client into Azurite.

Usage: python bench/ingest.py [--candles 500000] [--rounds 9]
Measures, in one run and against the same fake server (in its own process, as a remote exchange is):
(1) the bare ccxt client fetching the pages and storing nothing, (2) our connector turning the same pages
into contract frames, storing nothing, (3) the full ingestion (validation, partitioned atomic writes to
Azurite); ccxt's rate limiter is off in all. They run one after the other in each of ``--rounds`` rounds,
in reverse order every other round. The ratio is the median of the rounds' own ratios: a round's runs share
the moment, so when this shared machine slows down for a while it slows both sides of that round's ratio
(the ratio of the best times, each measure's luckiest moment, is printed too). An untimed first pass lets
the fake render its pages, which it then serves from memory, so its CPU (a remote exchange's, in real life)
is charged to neither side (``--render-each-page`` renders every answer anew, on the cores being measured,
as earlier versions did).
Then the bytes written to the blob store by a one-day update of a two-year 1-minute dataset. Prints a table,
then one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.core.auth import local_operator  # noqa: E402
from services.core.storage import AzureBlobStore  # noqa: E402
from services.market_data.connectors.ccxt_source import CcxtSource  # noqa: E402
from services.market_data.datasets import DatasetRef, Datasets  # noqa: E402
from services.market_data.ingest import ingest, update  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.candles import synthetic  # noqa: E402
from tests.support.azurite import azurite  # noqa: E402

MINUTE = 60_000
DAY = 1440 * MINUTE
NOW = 1_735_689_600_000  # 2025-01-01T00:00Z, the fake's clock


@contextlib.contextmanager
def fake_binance(now_ms: int, render_once: bool = True) -> Iterator[str]:
    """The fake Binance in a process of its own, as a real exchange is: serving it from this interpreter would
    charge its request handling to our own threads (one GIL). Yields its URL."""
    context = multiprocessing.get_context("fork")
    urls = context.Queue()

    def serve() -> None:
        with FakeBinance(now_ms=now_ms, render_once=render_once) as fake:
            urls.put(fake.url)
            threading.Event().wait()

    process = context.Process(target=serve, daemon=True)
    process.start()
    try:
        yield urls.get(timeout=30)
    finally:
        process.terminate()
        process.join(10)


def baseline(url: str, start: int, end: int) -> tuple[float, int]:
    """Seconds and candles for the bare ccxt client paging through [start, end), storing nothing."""
    source = CcxtSource("binance", api_url=url, rate_limit=False)
    exchange = source.exchange
    exchange.load_markets()
    since, count = start, 0
    started = time.perf_counter()
    while since < end:
        rows = exchange.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=min(1000, (end - since) // MINUTE))
        if not rows:
            break
        count += len(rows)
        since = rows[-1][0] + MINUTE
    return time.perf_counter() - started, count


def two_year_dataset(datasets: Datasets, ref: DatasetRef, end: int) -> int:
    """Write two years of 1-minute candles ending at ``end`` straight into the dataset; return its rows."""
    opens = np.arange(end - 730 * DAY, end, MINUTE, dtype=np.int64)
    frame = pd.DataFrame({"timestamp": opens, **{k: v for k, v in synthetic(opens).items() if k != "trades"}})
    datasets.write(ref, frame, source="bench")
    return len(frame)


def main() -> None:
    """Run the measures, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--render-each-page", action="store_true",
                        help="the fake renders every answer anew, on the cores being measured (slows both sides)")
    args = parser.parse_args()
    start = NOW - args.candles * MINUTE
    render_once = not args.render_each_page
    with azurite() as connection, fake_binance(NOW, render_once) as url, tempfile.TemporaryDirectory() as cache:
        store = AzureBlobStore(connection_string=connection)
        datasets = Datasets(store, Path(cache), "ohlcv")

        source = CcxtSource("binance", api_url=url, rate_limit=False)
        baseline(url, start, NOW)  # untimed: the fake renders each page once (an exchange's CPU is not ours)
        target = DatasetRef("binance", "BTCUSDT", "1m")

        def frames() -> tuple[float, int]:
            started = time.perf_counter()
            count = sum(len(page) for page in source.fetch("BTC/USDT", "1m", start, NOW))
            return time.perf_counter() - started, count

        def into_azurite() -> tuple[float, int]:
            if datasets.exists(target):
                datasets.delete(target)
            started = time.perf_counter()
            result = ingest(datasets, source, "BTC/USDT", "1m", start, NOW, actor=local_operator("bench"), now_ms=NOW)
            return time.perf_counter() - started, result.candles

        measures = {"bare": lambda: baseline(url, start, NOW), "frames": frames, "ingest": into_azurite}
        rounds = []
        for index in range(args.rounds):
            times = {}
            for name in measures if index % 2 == 0 else reversed(measures):
                times[name], count = measures[name]()
                assert count == args.candles, (name, count)
            rounds.append(times)
        base_s, frames_s, ingest_s = (min(times[name] for times in rounds) for name in measures)
        paired = sorted(times["bare"] / times["ingest"] for times in rounds)
        storing = float(np.median([times["frames"] / times["ingest"] for times in rounds]))
        partitions = len(datasets.manifest(target).partitions)

        ref = DatasetRef("bench", "BTCUSDT", "1m")
        mid_month = NOW + 14 * DAY  # the last partition is half full, as it is on a normal day
        rows = two_year_dataset(datasets, ref, mid_month)
        dataset_bytes = sum(p.size for p in datasets.manifest(ref).partitions)
        with fake_binance(mid_month + DAY) as later:
            updated = update(datasets, ref, "bench", source=CcxtSource("binance", api_url=later, rate_limit=False),
                             now_ms=mid_month + DAY)

    figures = {
        "candles": args.candles,
        "rounds": args.rounds,
        "baseline_candles_per_s": round(args.candles / base_s),
        "connector_candles_per_s": round(args.candles / frames_s),
        "ingest_candles_per_s": round(args.candles / ingest_s),
        "ratio": round(float(np.median(paired)), 3),
        "ratio_rounds": [round(r, 3) for r in paired],
        "ratio_of_best_times": round(base_s / ingest_s, 3),
        "ratio_to_connector": round(storing, 3),
        "partitions_written": partitions,
        "update_candles": updated.candles,
        "update_partitions": updated.partitions,
        "update_bytes_written": updated.bytes_written,
        "dataset_rows": rows,
        "dataset_bytes": dataset_bytes,
    }
    print(f"bare ccxt fetch, storing nothing : {figures['baseline_candles_per_s']:>10,} candles/s ({base_s:.2f} s)")
    print(f"connector pages as frames        : {figures['connector_candles_per_s']:>10,} candles/s ({frames_s:.2f} s)")
    print(f"ingest into Azurite              : {figures['ingest_candles_per_s']:>10,} candles/s ({ingest_s:.2f} s, "
          f"{partitions} partitions)")
    print(f"ratio ingest / bare fetch        : {figures['ratio']:>10.3f}  (target >= 0.8; median of the rounds' "
          f"ratios, {paired[0]:.3f}-{paired[-1]:.3f})")
    print(f"ratio of the best times          : {figures['ratio_of_best_times']:>10.3f}")
    print(f"ratio ingest / connector frames  : {figures['ratio_to_connector']:>10.3f}  (validating and storing alone)")
    print(f"one-day update of {rows:,} rows ({dataset_bytes / 1e6:.1f} MB of CSV): "
          f"{updated.bytes_written / 1e6:.2f} MB uploaded for {updated.candles} candles: partition "
          f"{', '.join(updated.partitions)}, its columnar copy, the manifest, the journal, the partition's backup")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
