"""A writer killed half-way, then four replicas importing into the same dataset: one consistent version after."""

from __future__ import annotations

import json

import pytest

from services.core.storage import AzureBlobStore, sha256_hex
from services.market_data.datasets import JOURNAL, DatasetRef, Datasets
from tests.scale.replica import HOUR, IMPORT_CANDLES
from tests.support.replicas import flat_candles, replica_env, start_together

REF = DatasetRef.parse("binance/EURUSD/1h")
PRICES = ["1.1", "2.2", "3.3", "4.4"]


def test_replicas_recover_a_dead_writer_once_and_leave_one_consistent_version(shared, tmp_path):
    where, store = "azure", AzureBlobStore(connection_string=shared["AZURE_STORAGE_CONNECTION_STRING"])
    container = shared["OHLCV_CONTAINER"]
    env = replica_env(shared, tmp_path / "replica")
    [dead] = start_together([["die-while-writing", where, str(REF), "1.5"]], env=env, lead_s=0)
    assert dead.code == 9, dead.output[-2000:]
    data, _ = store.get(container, REF.prefix + JOURNAL)
    journal = json.loads(data)
    # the writer was on another host: only its lease can tell that it is dead
    store.put(container, REF.prefix + JOURNAL, json.dumps({**journal, "host": "replica-elsewhere"}).encode())

    finished = start_together([["import-replacing", where, str(REF), price, "3"] for price in PRICES], env=env)

    assert [f.code for f in finished] == [0] * 4, "\n".join(f.output[-1500:] for f in finished if f.code)
    assert store.info(container, REF.prefix + JOURNAL) is None
    assert not [b.name for b in store.list(container, REF.prefix) if "_backup/" in b.name]
    datasets = Datasets(store, tmp_path / "checker-cache", container)
    manifest = datasets.manifest(REF)
    for part in manifest.partitions:  # the manifest describes exactly what the partitions hold
        content, _ = store.get(container, part.name)
        assert sha256_hex(content) == part.sha256, part.name
    frame = datasets.read(REF)
    assert len(frame) == IMPORT_CANDLES and frame["close"].nunique() == 1
    assert f"{frame['close'].iloc[0]:.1f}" in PRICES
    datasets.write(REF, flat_candles(HOUR, IMPORT_CANDLES, 9.9), replace_overlap=True)  # the next import works
    assert datasets.read(REF)["close"].iloc[-1] == pytest.approx(9.9)
