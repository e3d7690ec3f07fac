"""Importing candle files (preview, variants, limits) and exporting for Lona; quality report; seeding."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from services.core.auth import local_operator
from services.core.errors import BadInput, InvalidCandles
from services.market_data.datasets import DatasetRef
from services.market_data.exports import export
from services.market_data.imports import check_size, import_file, preview
from services.market_data.quality import assess
from services.market_data.seed import seed
from tests.support.market import HOUR, T0, hourly_csv

REF = DatasetRef.parse("upload/TEST/1h")

TRADER = local_operator("tester")


def test_preview_reports_problem_without_writing(runtime):
    data = hourly_csv().replace(b",5.0\n", b",-5.0\n", 1)
    shown = preview(data, "bad.csv", "1h")
    assert not shown.ok and "volume must be >= 0" in shown.problem and "row 1" in shown.problem
    assert shown.interval_guess == "1h"
    assert runtime.datasets.catalog() == []


def test_import_new_then_merge(runtime):
    result = import_file(runtime.datasets, REF, hourly_csv(24), "day1.csv", actor=TRADER)
    assert result.rows_total == 24
    result = import_file(runtime.datasets, REF, hourly_csv(48), "two-days.csv", actor=TRADER)
    assert (result.rows_added, result.rows_total) == (24, 48)
    history = runtime.datasets.manifest(REF).imports
    assert [h["source"] for h in history] == ["day1.csv", "two-days.csv"] and history[-1]["actor"] == "tester"


def test_zero_byte_and_oversized_uploads_are_refused(runtime):
    with pytest.raises(InvalidCandles, match="0 bytes"):
        import_file(runtime.datasets, REF, b"", "empty.csv", actor=TRADER)
    with pytest.raises(InvalidCandles, match="over the 100 MB import limit"):
        check_size(200 * 1024 * 1024, "huge.csv")


def test_refused_import_writes_nothing(runtime):
    import_file(runtime.datasets, REF, hourly_csv(24), "ok.csv", actor=TRADER)
    before = runtime.datasets.manifest(REF).to_json()
    unsorted = b"\n".join(hourly_csv(24, start=T0 + 24 * HOUR).splitlines()[::-1][:-1])
    header = hourly_csv(1).splitlines()[0]
    with pytest.raises(InvalidCandles, match="out of order"):
        import_file(runtime.datasets, REF, header + b"\n" + unsorted, "reversed.csv", actor=TRADER)
    assert runtime.datasets.manifest(REF).to_json() == before
    result = import_file(runtime.datasets, REF, header + b"\n" + unsorted, "reversed.csv", repair_order=True,
                         actor=TRADER)
    assert result.rows_total == 48
    assert runtime.datasets.manifest(REF).imports[-1]["rows_reordered"] > 0


def test_export_csv_and_json_to_the_exports_container(runtime):
    import_file(runtime.datasets, REF, hourly_csv(48), "x.csv", actor=TRADER)
    result = export(runtime.datasets, runtime.store, REF, "csv", T0 + 24 * HOUR, None, actor=TRADER)
    assert result.blob_name == "TEST_1h_20240102_20240102.csv" and result.rows == 24
    stored, _ = runtime.store.get("exports", result.blob_name)
    assert stored.decode().splitlines()[0] == "timestamp,open,high,low,close,volume"
    result = export(runtime.datasets, runtime.store, REF, "json", name="my-export", actor=TRADER)
    payload = json.loads(runtime.store.get("exports", "my-export.json")[0])
    assert len(payload["data"]) == 48 and set(payload["data"][0]) == {"timestamp", "open", "high", "low", "close",
                                                                      "volume"}


def test_a_daily_file_imported_as_hourly_is_refused_naming_both_intervals(runtime):
    daily = hourly_csv(30).decode().splitlines()
    data = "\n".join([daily[0], *[line.replace(line.split(",")[0], str(pd.Timestamp(T0 + i * 24 * HOUR, unit="ms",
                                                                                      tz="UTC")))
                                   for i, line in enumerate(daily[1:])]]).encode()
    shown = preview(data, "daily.csv", "1h")
    assert shown.interval_guess == "1d" and not shown.ok and "1d" in shown.problem and "1h" in shown.problem
    with pytest.raises(InvalidCandles, match="timestamps are 1d apart"):
        import_file(runtime.datasets, REF, data, "daily.csv", actor=TRADER)
    assert REF not in [entry.ref for entry in runtime.datasets.catalog()]
    import_file(runtime.datasets, DatasetRef.parse("upload/TEST/1d"), data, "daily.csv", actor=TRADER)


def test_export_for_lona_offers_the_data_format_and_the_symbol_upload_csv(runtime):
    import_file(runtime.datasets, REF, hourly_csv(3), "x.csv", actor=TRADER)
    data = export(runtime.datasets, runtime.store, REF, "csv", actor=TRADER)
    assert data.data.decode().splitlines()[1].startswith(f"{T0},")
    upload = export(runtime.datasets, runtime.store, REF, "upload-csv", actor=TRADER)
    assert upload.blob_name == "TEST_1h_20240101_20240101_upload.csv" and upload.media_type == "text/csv"
    lines = upload.data.decode().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume" and lines[1].startswith("2024-01-01 00:00:00,")
    assert runtime.store.get("exports", upload.blob_name)[0] == upload.data


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "x y", ""])
def test_export_names_never_become_paths(runtime, name):
    import_file(runtime.datasets, REF, hourly_csv(2), "x.csv", actor=TRADER)
    with pytest.raises(BadInput):
        export(runtime.datasets, runtime.store, REF, "csv", name=name or "..", actor=TRADER)


def test_quality_finds_gaps_and_zero_volume_runs(runtime):
    data = pd.read_csv(pd.io.common.BytesIO(hourly_csv(48)))
    data = data.drop(index=[10, 11, 12]).reset_index(drop=True)
    data.loc[20:24, "Volume"] = 0.0
    import_file(runtime.datasets, REF, data.to_csv(index=False).encode(), "gappy.csv", actor=TRADER)
    report = assess(runtime.datasets.read(REF), runtime.datasets.manifest(REF), "1h")
    assert report.missing == 3 and report.gaps[0].candles == 3 and report.gaps[0].start_ms == T0 + 10 * HOUR
    assert report.zero_volume_runs[0].candles == 5


def test_seed_brings_every_sample_set_once(runtime):
    first = seed(runtime.datasets)
    refs = {str(r.ref) for r in first}
    assert {"sample/EURUSD/1h", "sample/BTCUSD/1M", "sample/GOOG/1d", "sample/AAPL/1d", "sample/IBM/1d",
            "sample/MSFT/1d", "sample-close/AAPL/1d", "sample-close/XOM/1d"} <= refs
    assert len(refs) == 26
    assert seed(runtime.datasets) == []
    assert runtime.datasets.manifest(DatasetRef.parse("sample-close/AAPL/1d")).close_only
    btc = runtime.datasets.read(DatasetRef.parse("sample/BTCUSD/1M"))
    assert pd.Timestamp(btc["timestamp"].iloc[0], unit="ms").day == 1
