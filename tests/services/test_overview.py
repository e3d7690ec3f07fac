"""The Overview's figures without Streamlit: freshness against each dataset's interval, job statuses."""

from __future__ import annotations

from datetime import timedelta

from services.core import clock
from services.jobs.queue import Job
from services.market_data.datasets import CatalogEntry, DatasetRef
from services.ops.overview import freshness, jobs_table

HOUR = 3_600_000


def _entry(ref: str, age_ms: int) -> CatalogEntry:
    last = clock.now_ms() - age_ms
    return CatalogEntry(DatasetRef.parse(ref), 10, last - 10 * HOUR, last, 1, None, False, False)


def test_a_dataset_is_stale_when_its_last_candle_is_several_intervals_old():
    table = freshness([_entry("binance/BTCUSDT/1h", 2 * HOUR), _entry("binance/ETHUSDT/1h", 30 * HOUR),
                       _entry("sample/AAPL/1d", 30 * HOUR)])
    status = dict(zip(table["dataset"], table["status"], strict=True))
    assert status == {"binance/BTCUSDT/1h": "fresh", "binance/ETHUSDT/1h": "stale", "sample/AAPL/1d": "fresh"}
    assert table["dataset"].iloc[0] == "binance/ETHUSDT/1h"


def _job(status: str, result: dict | None) -> Job:
    now = clock.now()
    return Job("j1", "graph_run", status, "graph run", "op", {}, 1.0, "", {}, result, None, False, 1,
               now - timedelta(minutes=1), now, now, now)


def test_a_run_waiting_for_approval_is_not_reported_as_succeeded():
    table = jobs_table([_job("succeeded", {"status": "awaiting_approval", "run_id": "r1"}),
                        _job("succeeded", {"status": "completed"}), _job("failed", None)])
    assert table["status"].tolist() == ["awaiting approval", "succeeded", "failed"]
