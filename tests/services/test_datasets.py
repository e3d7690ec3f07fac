"""Datasets: partitions + manifest, merges, refused writes change nothing, crashes leave old data readable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.core.errors import BadInput, DatasetBusy, DatasetNotFound, InvalidCandles
from services.core.storage import AzureBlobStore, LocalBlobStore
from services.market_data import ohlcv
from services.market_data.datasets import JOURNAL, MANIFEST, ColumnarCache, DatasetRef, Datasets
from tests.support.market import DAY, MINUTE, T0, CountingStore, minute_candles, snapshot


@pytest.fixture
def store(tmp_path) -> CountingStore:
    return CountingStore(tmp_path / "blob")


@pytest.fixture
def datasets(store, tmp_path) -> Datasets:
    return Datasets(store, tmp_path / "cache")


REF = DatasetRef.parse("binance/BTCUSDT/1m")


def test_reference_parsing():
    assert str(DatasetRef.parse("Binance/btcusdt/1h")) == "binance/BTCUSDT/1h"
    for bad in ("binance/BTC-USDT/1h", "binance/BTCUSDT", "binance/BTCUSDT/2h", "bin ance/X/1h"):
        with pytest.raises((BadInput, InvalidCandles)):
            DatasetRef.parse(bad)


def test_write_creates_monthly_partitions_and_manifest(datasets, store):
    frame = minute_candles(3 * 24 * 60, start=T0 + 30 * DAY)  # Jan 31 .. Feb 2
    result = datasets.write(REF, frame, source="test")
    assert result.partitions_written == ["binance/BTCUSDT/1m/2024-01.csv", "binance/BTCUSDT/1m/2024-02.csv"]
    manifest = datasets.manifest(REF)
    assert manifest.rows == len(frame) and manifest.first_ts == frame["timestamp"].iloc[0]
    assert [p.key for p in manifest.partitions] == ["2024-01", "2024-02"]
    assert all(len(p.sha256) == 64 for p in manifest.partitions)
    assert store.info("ohlcv", REF.prefix + JOURNAL) is None
    pd.testing.assert_frame_equal(datasets.read(REF), frame)


def test_daily_data_is_partitioned_by_year(datasets):
    ref = DatasetRef.parse("sample/AAPL/1d")
    frame = minute_candles(400)
    frame["timestamp"] = T0 + DAY * np.arange(400, dtype="int64")
    datasets.write(ref, frame)
    assert [p.key for p in datasets.manifest(ref).partitions] == ["2024", "2025"]


def test_range_read_touches_only_partitions_in_range(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(60 * 24 * 90))  # three months
    fresh = Datasets(store, tmp_path / "other-cache")
    store.gets.clear()
    feb = fresh.read(REF, T0 + 31 * DAY, T0 + 40 * DAY)
    assert feb["timestamp"].min() == T0 + 31 * DAY and feb["timestamp"].max() == T0 + 40 * DAY
    assert store.gets == [REF.prefix + MANIFEST, "binance/BTCUSDT/1m/_columnar/2024-02.arrow"]


def test_warm_read_comes_from_the_columnar_cache(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(5000))
    first = Datasets(store, tmp_path / "cache")  # same cache folder, new process-like instance
    first.read(REF)
    first.flush()  # its cache files are written after the read returns, in the background
    store.gets.clear()
    again = Datasets(store, tmp_path / "cache").read(REF)
    assert len(again) == 5000
    assert store.gets == [REF.prefix + MANIFEST]


def test_cache_files_are_written_out_before_they_are_used(tmp_path, monkeypatch):
    """Left to the kernel's periodic writeback, 200 MB of fresh cache files went out to disk seconds later, in
    the middle of API requests (p99 of 20 concurrent month reads 450 ms against 140 ms): the cache's own
    background thread writes each file out before publishing it."""
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}"))
        synced.append((name.suffix, any(name.parent.glob("*.arrow"))))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    cache = ColumnarCache(tmp_path / "cache")
    cache.put_all([("part-2024-01", "etag-1", pa.table({"timestamp": [1, 2]}))])
    cache.flush()
    assert synced == [(".tmp", False)]  # the temporary file, before it is renamed into place
    assert cache.get("part-2024-01", "etag-1").num_rows == 2


def test_a_frame_of_ones_own_never_changes_what_the_cache_holds(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(60 * 24 * 40))  # two partitions: a cold whole read keeps the version whole
    reader = Datasets(store, tmp_path / "cold")
    own = reader.read(REF)  # cold: read from the columnar copies
    expected = own["close"].to_numpy().copy()
    own["close"] = -1.0
    own.loc[0, "open"] = -1.0
    pd.testing.assert_series_equal(reader.read(REF)["close"], pd.Series(expected, name="close"))
    assert reader.read(REF)["open"].iloc[0] != -1.0


def test_read_columns_are_the_frame_of_read_version_without_a_frame(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(60 * 24 * 40))
    manifest = datasets.manifest(REF)
    for reader in (Datasets(store, tmp_path / "cold"), datasets):  # a cold read, then a cached one
        for start, end in ((None, None), (T0 + DAY, T0 + 35 * DAY), (T0 - 2 * DAY, T0 - DAY)):
            columns = reader.read_columns(manifest, start, end)
            frame = reader.read_version(manifest, start, end)
            assert list(columns) == list(frame.columns)
            for name, values in columns.items():
                np.testing.assert_array_equal(values, frame[name].to_numpy())


def test_merge_appends_and_refuses_conflicting_overlap(datasets):
    frame = minute_candles(100)
    datasets.write(REF, frame.iloc[:60])
    result = datasets.write(REF, frame.iloc[40:])  # identical overlap is fine
    assert (result.rows_added, result.rows_replaced, result.rows_total) == (40, 0, 100)
    changed = frame.iloc[90:].assign(close=lambda f: f["close"] + 0.1)
    with pytest.raises(InvalidCandles, match="10 candle\\(s\\) overlap"):
        datasets.write(REF, changed)
    result = datasets.write(REF, changed, replace_overlap=True)
    assert result.rows_replaced == 10
    assert datasets.read(REF)["close"].iloc[-1] == pytest.approx(changed["close"].iloc[-1])


def test_refused_write_leaves_every_byte_unchanged(datasets, tmp_path):
    datasets.write(REF, minute_candles(100))
    before = snapshot(tmp_path / "blob")
    bad = minute_candles(10, start=T0 + 200 * MINUTE).assign(high=0.5)
    with pytest.raises(InvalidCandles, match="high < low"):
        datasets.write(REF, bad)
    conflicting = minute_candles(10).assign(close=lambda f: f["close"] + 1, high=lambda f: f["high"] + 1)
    with pytest.raises(InvalidCandles, match="overlap"):
        datasets.write(REF, conflicting)
    assert snapshot(tmp_path / "blob") == before


def test_failure_half_way_rolls_back(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(60 * 24 * 40))  # Jan + Feb
    before = snapshot(tmp_path / "blob")
    store.puts, store.fail_on_put = 0, 4  # journal, backup copies..., dies writing partitions
    with pytest.raises(OSError):
        datasets.write(REF, minute_candles(60 * 24 * 40, price=200.0), replace_overlap=True)
    store.fail_on_put = None
    assert snapshot(tmp_path / "blob") == before
    assert datasets.read(REF)["close"].iloc[0] == pytest.approx(100.0)


KILL_SCRIPT = """
import os, sys
import numpy as np, pandas as pd
from pathlib import Path
from services.market_data.datasets import Datasets, DatasetRef
from services.core.storage import LocalBlobStore

class DyingStore(LocalBlobStore):
    puts = 0
    def put(self, container, name, data, **kw):
        if name.endswith('.csv') and not name.split('/')[-2] == '_backup' and '_backup' not in name:
            DyingStore.puts += 1
            if DyingStore.puts == 2:
                os._exit(9)  # killed half-way: one partition rewritten, manifest not
        return super().put(container, name, data, **kw)

root = Path(sys.argv[1])
n = 60 * 24 * 40
close = np.full(n, 200.0)
frame = pd.DataFrame({'timestamp': 1704067200000 + 60000 * np.arange(n, dtype='int64'), 'open': close,
                      'high': close + 1, 'low': close - 1, 'close': close, 'volume': np.ones(n)})
Datasets(DyingStore(root / 'blob'), root / 'cache2').write(DatasetRef.parse('binance/BTCUSDT/1m'), frame,
                                                           replace_overlap=True)
"""


def test_killed_writer_leaves_old_data_readable_and_next_writer_recovers(datasets, tmp_path):
    original = minute_candles(60 * 24 * 40)
    datasets.write(REF, original)
    manifest_before = (tmp_path / "blob" / "ohlcv" / REF.prefix / MANIFEST).read_bytes()
    done = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], cwd=Path(__file__).parents[2],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    assert (tmp_path / "blob" / "ohlcv" / REF.prefix / JOURNAL).exists()
    assert (tmp_path / "blob" / "ohlcv" / REF.prefix / MANIFEST).read_bytes() == manifest_before
    fresh = Datasets(LocalBlobStore(tmp_path / "blob"), tmp_path / "fresh-cache")
    pd.testing.assert_frame_equal(fresh.read(REF), original)  # old data, read around the torn partition
    fresh.write(REF, minute_candles(10, start=T0 + 60 * 24 * 40 * MINUTE))  # recovers, then writes
    after = fresh.read(REF)
    assert len(after) == len(original) + 10
    assert after["close"].iloc[0] == pytest.approx(100.0)
    assert not (tmp_path / "blob" / "ohlcv" / REF.prefix / JOURNAL).exists()


def test_a_live_writer_makes_others_wait(datasets, store):
    datasets.write(REF, minute_candles(10))
    journal = {"host": __import__("socket").gethostname(), "pid": __import__("os").getpid(),
               "started": "2099-01-01T00:00:00+00:00"}
    store.put("ohlcv", REF.prefix + JOURNAL, json.dumps(journal).encode())
    with pytest.raises(DatasetBusy):
        datasets.write(REF, minute_candles(5, start=T0 + 10 * MINUTE))


def test_readers_during_a_write_see_old_or_new_never_a_mix(datasets, store, tmp_path):
    datasets.write(REF, minute_candles(60 * 24 * 40))
    release, reached = threading.Event(), threading.Event()
    original_put = store.put

    def slow_put(container, name, data, **kwargs):
        if name.endswith(MANIFEST):
            reached.set()
            release.wait(10)
        return original_put(container, name, data, **kwargs)

    store.put = slow_put
    writer = threading.Thread(target=lambda: datasets.write(
        REF, minute_candles(60 * 24 * 40, price=200.0), replace_overlap=True))
    writer.start()
    assert reached.wait(10)
    during = Datasets(store, tmp_path / "reader-cache").read(REF)
    release.set()
    writer.join()
    assert during["close"].iloc[0] == pytest.approx(100.0) and during["close"].iloc[-1] == pytest.approx(
        100 + np.sin((len(during) - 1) / 10))
    assert Datasets(store, tmp_path / "reader-cache2").read(REF)["close"].iloc[0] == pytest.approx(200.0)


def test_dropped_in_lona_json_partitions_are_browsable(datasets, store):
    frame = minute_candles(30)
    records = json.loads(frame.to_json(orient="records"))
    store.put("ohlcv", "lona/ETHUSDT/1m/2024-01.json",
              json.dumps({"symbol": "ETHUSDT", "interval": "1m", "exchange": "lona", "data": records}).encode())
    entry = next(e for e in datasets.catalog() if str(e.ref) == "lona/ETHUSDT/1m")
    assert entry.external and entry.rows is None
    pd.testing.assert_frame_equal(datasets.read(DatasetRef.parse("lona/ETHUSDT/1m")), frame)
    with pytest.raises(BadInput, match="without a manifest"):
        datasets.write(DatasetRef.parse("lona/ETHUSDT/1m"), minute_candles(5, start=T0 + 100 * MINUTE))


def test_unknown_dataset(datasets):
    with pytest.raises(DatasetNotFound):
        datasets.read(DatasetRef.parse("nowhere/X/1d"))


def test_catalog_and_delete(datasets):
    datasets.write(REF, minute_candles(10))
    datasets.write(DatasetRef.parse("sample/AAPL/1d"), ohlcv.resample(minute_candles(3 * 1440), "1d"))
    assert [str(e.ref) for e in datasets.catalog()] == ["binance/BTCUSDT/1m", "sample/AAPL/1d"]
    datasets.delete(REF)
    assert [str(e.ref) for e in datasets.catalog()] == ["sample/AAPL/1d"]


def test_same_behaviour_on_azure_blob(azurite_connection_string, tmp_path):
    azure = Datasets(AzureBlobStore(connection_string=azurite_connection_string), tmp_path / "cache",
                     container="ohlcv-test")
    frame = minute_candles(60 * 24 * 35)
    azure.write(REF, frame.iloc[:1000])
    azure.write(REF, frame.iloc[500:])
    pd.testing.assert_frame_equal(azure.read(REF), frame)
    assert len(azure.read(REF, T0 + 32 * DAY, None)) == 3 * 1440


def test_the_local_cache_folder_stays_within_its_bound_dropping_the_least_recently_used(tmp_path):
    table = pa.table({"timestamp": np.arange(500, dtype="int64"), "close": np.ones(500)})
    cache = ColumnarCache(tmp_path / "bounded", max_bytes=40_000)
    for index in range(30):
        cache.put_all([(f"part-{index}.csv", "etag", table)])
    cache.flush()

    files = list((tmp_path / "bounded").rglob("*.arrow"))
    assert sum(f.stat().st_size for f in files) <= 40_000 and files
    fresh = ColumnarCache(tmp_path / "bounded", max_bytes=40_000)  # nothing in memory: from the folder
    assert fresh.get("part-29.csv", "etag") is not None and fresh.get("part-0.csv", "etag") is None


def test_the_catalog_rereads_a_manifest_only_when_its_etag_changed(datasets, store):
    other = DatasetRef.parse("binance/ETHUSDT/1m")
    datasets.write(REF, minute_candles(10), source="test")
    datasets.write(other, minute_candles(10), source="test")
    datasets.catalog()
    store.gets.clear()
    assert [e.rows for e in datasets.catalog()] == [10, 10]
    assert not [name for name in store.gets if name.endswith(MANIFEST)]
    datasets.write(REF, minute_candles(5, start=T0 + 10 * 60_000), source="test")
    store.gets.clear()
    assert {str(e.ref): e.rows for e in datasets.catalog()} == {str(REF): 15, str(other): 10}
    assert [name for name in store.gets if name.endswith(MANIFEST)] == [REF.prefix + MANIFEST]
