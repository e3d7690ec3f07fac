"""Columnar copies beside the CSV partitions: read instead of the CSV when current, never trusted when not."""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa
import pytest

from services.core.storage import LocalBlobStore
from services.market_data import columnar
from services.market_data.datasets import MANIFEST, DatasetRef, Datasets
from tests.support.market import DAY, T0, CountingStore, minute_candles, snapshot

REF = DatasetRef.parse("binance/BTCUSDT/1m")
TWO_MONTHS = 60 * 24 * 40  # Jan 1 .. Feb 9


def copy_of(month: str) -> str:
    return f"{REF.prefix}_columnar/{month}.arrow"


@pytest.fixture
def store(tmp_path) -> CountingStore:
    return CountingStore(tmp_path / "blob")


@pytest.fixture
def written(store, tmp_path) -> pd.DataFrame:
    frame = minute_candles(TWO_MONTHS)
    Datasets(store, tmp_path / "writer-cache").write(REF, frame)
    return frame


def cold_reader(store, tmp_path, name: str) -> Datasets:
    store.gets.clear()
    return Datasets(store, tmp_path / name)


def test_copy_names_sit_beside_the_partition():
    assert columnar.copy_name("binance/BTCUSDT/1m/2024-03.csv") == "binance/BTCUSDT/1m/_columnar/2024-03.arrow"
    assert columnar.copy_name("sample/AAPL/1d/2004.csv") == "sample/AAPL/1d/_columnar/2004.arrow"


def test_a_cold_read_fetches_the_copies_and_no_csv(written, store, tmp_path):
    reader = cold_reader(store, tmp_path, "cold")
    pd.testing.assert_frame_equal(reader.read(REF), written)
    assert sorted(store.gets) == sorted([REF.prefix + MANIFEST, copy_of("2024-01"), copy_of("2024-02")])


def test_decode_accepts_only_the_copy_of_that_csv():
    table = pa.Table.from_pandas(minute_candles(10), preserve_index=False)
    data = columnar.encode(table, "a" * 64)
    assert columnar.decode(data, "a" * 64, 10).equals(table.replace_schema_metadata(None))
    assert columnar.decode(data, "b" * 64, 10) is None  # made from another version of the CSV
    assert columnar.decode(data, "a" * 64, 11) is None
    assert columnar.decode(b"\x89PNG\r\n\x1a\n not arrow", "a" * 64, 10) is None
    other = pa.table({"when": [1], "price": [1.0]})
    assert columnar.decode(columnar.encode(other, "a" * 64), "a" * 64, 1) is None


def test_stale_missing_or_corrupt_copies_fall_back_to_the_csv_and_are_restored(written, store, tmp_path):
    blobs = tmp_path / "blob" / "ohlcv"
    jan_copy = (blobs / copy_of("2024-01")).read_bytes()
    (blobs / copy_of("2024-02")).write_bytes(jan_copy)  # valid Arrow, but made from another CSV
    reader = cold_reader(store, tmp_path, "stale")
    pd.testing.assert_frame_equal(reader.read(REF), written)
    assert f"{REF.prefix}2024-02.csv" in store.gets and f"{REF.prefix}2024-01.csv" not in store.gets
    reader.flush()
    assert (blobs / copy_of("2024-02")).read_bytes() != jan_copy  # restored after the read

    (blobs / copy_of("2024-01")).unlink()
    (blobs / copy_of("2024-02")).write_bytes(b"\x89PNG\r\n\x1a\n")
    reader = cold_reader(store, tmp_path, "broken")
    pd.testing.assert_frame_equal(reader.read(REF), written)
    reader.flush()
    reader = cold_reader(store, tmp_path, "healed")
    pd.testing.assert_frame_equal(reader.read(REF), written)
    assert not [name for name in store.gets if name.endswith(".csv")]


def test_copies_are_written_and_read_on_the_local_folder_too(tmp_path):
    store = LocalBlobStore(tmp_path / "blob")
    frame = minute_candles(100, start=T0 + 3 * DAY)
    Datasets(store, tmp_path / "a").write(REF, frame)
    assert store.info("ohlcv", copy_of("2024-01")) is not None
    pd.testing.assert_frame_equal(Datasets(store, tmp_path / "b").read(REF), frame)


class FailingStore(CountingStore):
    """Fails the puts whose numbers it is given (1-based), once each."""

    def __init__(self, root, fail_at: set[int]):
        super().__init__(root)
        self.fail_at = fail_at

    def put(self, container, name, data, **kwargs):
        if self.puts + 1 in self.fail_at:
            self.puts += 1
            self.fail_at.discard(self.puts)
            raise OSError("disk went away")
        return super().put(container, name, data, **kwargs)


def test_a_write_undone_at_the_manifest_leaves_no_copy_of_the_undone_data(tmp_path):
    store = FailingStore(tmp_path / "blob", set())
    original = minute_candles(TWO_MONTHS)
    Datasets(store, tmp_path / "w").write(REF, original)
    csv_and_manifest = {name: data for name, data in snapshot(tmp_path / "blob").items() if "_columnar" not in name}
    # take, journal, two backups, CSV + copy for January, CSV + copy for February, then the manifest fails
    store.puts, store.fail_at = 0, {9}
    with pytest.raises(OSError):
        Datasets(store, tmp_path / "w2").write(REF, minute_candles(TWO_MONTHS, price=200.0), replace_overlap=True)
    after = snapshot(tmp_path / "blob")
    assert {name: data for name, data in after.items() if "_columnar" not in name} == csv_and_manifest
    reader = Datasets(store, tmp_path / "r")
    pd.testing.assert_frame_equal(reader.read(REF), original)
    reader.flush()
    pd.testing.assert_frame_equal(Datasets(store, tmp_path / "r2").read(REF), original)


def test_a_copy_that_cannot_be_restored_does_not_fail_the_read(written, store, tmp_path, caplog):
    (tmp_path / "blob" / "ohlcv" / copy_of("2024-01")).unlink()
    store.fail_on_put, store.puts = 1, 0  # read-only credentials, say
    reader = cold_reader(store, tmp_path, "readonly")
    with caplog.at_level(logging.WARNING, logger="services.market_data.datasets"):
        pd.testing.assert_frame_equal(reader.read(REF), written)
        reader.flush()
    assert "columnar copy of binance/BTCUSDT/1m/2024-01.csv not restored" in caplog.text
