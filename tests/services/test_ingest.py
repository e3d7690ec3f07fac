"""Ingestion: partition-by-partition writes, resume after failures, updates, validation, jobs and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.ingest import app as ingest_cli
from services.core import clock
from services.core.auth import local_operator
from services.core.errors import InvalidCandles, ServiceUnavailable
from services.jobs.queue import JobCancelled
from services.market_data.connectors import ccxt_source
from services.market_data.datasets import DatasetRef
from services.market_data.ingest import ingest, start_ingest, start_update, update, update_all
from services.market_data.ingest_writer import PartitionWriter

MINUTE = 60_000
DAY = 1440 * MINUTE
NOW = 1_735_689_600_000  # the fakes' clock, 2025-01-01T00:00Z
NOV_20 = NOW - 42 * DAY
DEC_1 = NOW - 31 * DAY
STEP = 5 * MINUTE  # 5-minute candles: monthly partitions, few pages
PER_DAY = DAY // STEP
REF = DatasetRef("binance", "BTCUSDT", "5m")

TRADER = local_operator("tester")

OPERATOR = local_operator("operator")


@pytest.fixture(autouse=True)
def batches_by_size_only(monkeypatch):
    """A batch of pages also closes after BATCH_S seconds; pinned out here so no test depends on machine speed."""
    monkeypatch.setattr(ccxt_source, "BATCH_S", 3600.0)


def starts(fake) -> list[int]:
    return [int(c.query["startTime"]) for c in fake.klines_calls()]


def partitions(runtime, ref=REF) -> list[str]:
    return [p.key for p in runtime.datasets.manifest(ref).partitions]


def test_ingest_writes_partitions_and_never_stores_the_open_candle(market_runtime, fake_binance):
    seen = []
    result = ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, None, actor=TRADER, progress=seen.append,
                    now_ms=NOW + 30_000)
    manifest = market_runtime.datasets.manifest(REF)
    assert partitions(market_runtime) == ["2024-11", "2024-12"]
    assert manifest.first_ts == NOV_20 and manifest.last_ts == NOW - STEP  # the 00:00 candle is still open
    assert result.candles == manifest.rows == 42 * PER_DAY and result.ref == str(REF)
    assert manifest.imports[-1]["source_symbol"] == "BTC/USDT" and manifest.imports[-1]["actor"] == "tester"
    assert seen[-1].fraction == pytest.approx(1.0) and seen[-1].candles == 42 * PER_DAY
    # progress comes a batch of pages at a time: the first one holds 10,000 candles
    assert seen[0].eta_s is not None and "10,000 candles" in seen[0].message()
    assert "reached 2024-12-24T17:15:00Z" in seen[0].message()


def test_a_slow_exchange_still_reports_progress_page_by_page(market_runtime, fake_binance, monkeypatch):
    monkeypatch.setattr(ccxt_source, "BATCH_S", 0.0)  # every page takes longer than the bound: a batch each
    seen = []
    ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, progress=seen.append, now_ms=NOW, actor=TRADER)
    assert [p.candles for p in seen[:3]] == [1000, 2000, 3000]
    assert market_runtime.datasets.manifest(REF).rows == 42 * PER_DAY


def test_a_rerun_and_an_update_with_nothing_new_fetch_nothing(market_runtime, fake_binance):
    ingest(market_runtime, "binance", "BTC/USDT", "5m", NOW - DAY, None, now_ms=NOW, actor=TRADER)
    asked = len(fake_binance.requests)
    again = ingest(market_runtime, "binance", "BTC/USDT", "5m", NOW - DAY, None, now_ms=NOW + 59_000, actor=TRADER)
    nothing = update(market_runtime, REF, now_ms=NOW + 59_000, actor=TRADER)
    assert again.candles == nothing.candles == 0 and "up to date" in nothing.summary
    assert len(fake_binance.klines_calls()) == 1 and len(fake_binance.requests) == asked  # no klines, not even markets


def test_update_fetches_only_new_candles_and_rewrites_one_partition(market_runtime, fake_binance):
    ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, None, now_ms=NOW, actor=TRADER)
    before = len(fake_binance.klines_calls())
    fake_binance.now_ms = NOW + 3 * 60 * MINUTE
    result = update(market_runtime, str(REF), actor=TRADER, now_ms=fake_binance.now_ms + 1)
    assert starts(fake_binance)[before:] == [NOW]
    assert result.candles == 36 and result.partitions == ["binance/BTCUSDT/5m/2025-01.csv"]
    assert result.bytes_written < 10_000
    assert market_runtime.datasets.manifest(REF).last_ts == NOW + 175 * MINUTE


def test_a_candle_with_high_below_low_stops_the_job_naming_it(market_runtime, fake_binance):
    fake_binance.bad_candle_at = DEC_1 + 5 * DAY + 10 * MINUTE
    with pytest.raises(InvalidCandles, match=r"binance BTC/USDT 5m candle at 2024-12-06T00:10:00Z: high < low"):
        ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, now_ms=NOW, actor=TRADER)
    assert partitions(market_runtime) == ["2024-11"]  # complete partitions kept, none half-written
    assert market_runtime.datasets.manifest(REF).last_ts == DEC_1 - STEP


def test_a_page_that_does_not_start_after_the_last_one_is_refused_naming_its_candle(market_runtime):
    opens = NOV_20 + STEP * np.arange(10, dtype=np.int64)
    page = pd.DataFrame({"timestamp": opens, **{c: 1.0 for c in ("open", "high", "low", "close", "volume")}})
    with PartitionWriter(market_runtime.datasets, REF, "binance BTC/USDT", "tester", {}) as writer:
        writer.add(page, opens)
        again = page.iloc[9:]  # starts at the last candle accepted
        with pytest.raises(InvalidCandles, match=r"binance BTC/USDT 5m candle at 2024-11-20T00:45:00Z: candles out"):
            writer.add(again, opens[9:])
        writer.flush()
    assert market_runtime.datasets.manifest(REF).rows == 10  # the first page only


def test_a_crash_half_way_keeps_finished_partitions_and_the_rerun_fetches_only_the_rest(market_runtime, fake_binance):
    def crash(state) -> None:
        if state.reached_ms > DEC_1 + 3 * DAY:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, progress=crash, now_ms=NOW, actor=TRADER)
    assert partitions(market_runtime) == ["2024-11"]
    before = len(fake_binance.klines_calls())
    result = ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, now_ms=NOW, actor=TRADER)
    assert starts(fake_binance)[before] == DEC_1 and min(starts(fake_binance)[before:]) == DEC_1
    assert result.candles == 31 * PER_DAY
    assert market_runtime.datasets.manifest(REF).rows == 42 * PER_DAY


def test_an_outage_keeps_what_was_fetched_and_says_how_far_it_got(market_runtime, fake_binance):
    def outage_after_five_pages() -> None:
        if len(fake_binance.klines_calls()) == 5:
            fake_binance.server_error_next(100)

    fake_binance.on_klines = outage_after_five_pages
    with pytest.raises(ServiceUnavailable) as caught:
        ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, now_ms=NOW, actor=TRADER)
    stored = market_runtime.datasets.manifest(REF).last_ts
    assert stored == NOV_20 + 5 * 1000 * STEP - STEP
    assert f"stored through {clock.from_ms(stored):%Y-%m-%dT%H:%M:%SZ}" in str(caught.value)
    assert "failed (OperationFailed: binance {\"code\": -1000" in str(caught.value)
    fake_binance.heal()
    before = len(fake_binance.klines_calls())
    ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, now_ms=NOW, actor=TRADER)
    assert starts(fake_binance)[before] == stored + STEP
    assert market_runtime.datasets.manifest(REF).rows == 42 * PER_DAY


def test_cancel_keeps_what_was_fetched(market_runtime, fake_binance):
    with pytest.raises(JobCancelled):
        ingest(market_runtime, "binance", "BTC/USDT", "5m", NOV_20, NOW, cancelled=lambda: True, now_ms=NOW,
               actor=TRADER)
    assert market_runtime.datasets.manifest(REF).rows == 10_000  # the first batch of pages, written whole


def test_an_earlier_start_fetches_only_the_missing_head(market_runtime, fake_binance):
    ingest(market_runtime, "binance", "BTC/USDT", "1h", NOW - 5 * DAY, NOW, now_ms=NOW, actor=TRADER)
    before = len(fake_binance.klines_calls())
    ingest(market_runtime, "binance", "BTC/USDT", "1h", NOW - 8 * DAY, NOW, now_ms=NOW, actor=TRADER)
    assert starts(fake_binance)[before:] == [NOW - 8 * DAY]
    assert market_runtime.datasets.manifest(DatasetRef("binance", "BTCUSDT", "1h")).rows == 8 * 24


def test_alpaca_stock_candles_keep_vwap_and_trades(market_runtime):
    result = ingest(market_runtime, "alpaca", "AAPL", "5m", NOW - 7 * DAY, NOW, now_ms=NOW, actor=TRADER)
    ref = DatasetRef("alpaca", "AAPL", "5m")
    frame = market_runtime.datasets.read(ref)
    assert result.candles == 5 * 78 and list(frame.columns)[-2:] == ["vwap", "trades"]


def test_update_all_updates_sourced_datasets_and_skips_others(market_runtime, fake_binance, fake_alpaca):
    ingest(market_runtime, "binance", "ETHUSDT", "1h", NOW - 2 * DAY, None, now_ms=NOW, actor=TRADER)
    ingest(market_runtime, "alpaca-crypto", "BTC/USD", "1h", NOW - 2 * DAY, None, now_ms=NOW, actor=TRADER)
    sample = market_runtime.datasets.read(DatasetRef("binance", "ETHUSDT", "1h"))
    market_runtime.datasets.write(DatasetRef("sample", "ETHUSDT", "1h"), sample)
    fake_binance.now_ms = fake_alpaca.now_ms = NOW + 5 * 60 * MINUTE
    outcome = update_all(market_runtime, actor=TRADER, now_ms=NOW + 5 * 60 * MINUTE)
    assert {r.ref: r.candles for r in outcome.results} == {"alpaca-crypto/BTCUSD/1h": 5, "binance/ETHUSDT/1h": 5}
    assert outcome.skipped == ["sample/ETHUSDT/1h"] and not outcome.failed


# --- jobs -----------------------------------------------------------------------------------------------
def test_ingest_and_update_jobs_run_through_the_queue(market_runtime, fake_binance):
    job_id = start_ingest(market_runtime.jobs, "binance", "BTC/USDT", "15m", NOW - 10 * DAY, NOW - DAY, OPERATOR)
    job = market_runtime.jobs.get(job_id)
    assert job.status == "succeeded", job.error
    assert job.kind == "ingest" and job.actor == "operator" and job.progress == 1.0
    assert job.result["candles"] == 9 * 96 and job.message == job.result["summary"]
    update_id = start_update(market_runtime.jobs, "binance/BTCUSDT/15m", OPERATOR)
    assert market_runtime.jobs.get(update_id).status == "succeeded"
    # new candles may settle decided orders: each ingestion queues a decision review (run inline here)
    reviews = market_runtime.jobs.list(kind="decision_review")
    assert [(j.actor, j.status) for j in reviews] == [("ingest", "succeeded")] * 2


def test_cancelling_a_running_ingest_job_keeps_what_it_fetched(market_runtime, fake_binance):
    def operator_cancels() -> None:
        for job in market_runtime.jobs.list(kind="ingest", status="running"):
            market_runtime.jobs.cancel(job.id, "operator")

    fake_binance.on_klines = operator_cancels
    job_id = start_ingest(market_runtime.jobs, "binance", "BTC/USDT", "5m", NOV_20, NOW, OPERATOR)
    job = market_runtime.jobs.get(job_id)
    assert job.status == "cancelled" and job.error == "cancelled by an operator"
    assert market_runtime.datasets.manifest(REF).rows == 10_000  # the first batch of pages, written whole


def test_a_failing_ingest_job_records_the_reason(market_runtime, fake_binance):
    fake_binance.bad_candle_at = NOW - 3 * DAY
    job_id = start_ingest(market_runtime.jobs, "binance", "BTCUSDT", "1h", NOW - 5 * DAY, NOW, local_operator("op"))
    job = market_runtime.jobs.get(job_id)
    assert job.status == "failed" and "candle at 2024-12-29T00:00:00Z: high < low" in job.error


# --- CLI ------------------------------------------------------------------------------------------------
def test_cli_ingest_update_and_exit_codes(market_runtime, fake_binance):
    runner = CliRunner()
    done = runner.invoke(ingest_cli, ["ingest", "--symbol", "BTC/USDT", "--interval", "1d", "--start", "2024-12-01",
                                      "--end", "2024-12-10"])
    assert done.exit_code == 0, done.output
    assert "binance/BTCUSDT/1d: 10 candles" in done.stdout
    bad = runner.invoke(ingest_cli, ["ingest", "--source", "alpaca", "--symbol", "AAPL", "--interval", "4h",
                                     "--start", "2024-12-01"])
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: alpaca has no '4h' candles (choose one of " \
                                                        "1m 5m 15m 30m 1h 1d 1w 1M)"
    assert runner.invoke(ingest_cli, ["update"]).exit_code == 2
    assert runner.invoke(ingest_cli, ["update", "binance/BTCUSDT/1d"]).exit_code == 0


def test_cli_names_missing_alpaca_credentials(make_runtime):
    make_runtime()
    result = CliRunner().invoke(ingest_cli, ["ingest", "--source", "alpaca", "--symbol", "AAPL", "--interval", "1d",
                                             "--start", "2024-01-01"])
    assert result.exit_code == 2
    assert "ALPACA_API_KEY and ALPACA_API_SECRET" in result.stderr and "Traceback" not in result.output
