"""Strategies on Lona end to end: records, publishing datasets once, backtest jobs, reports, against the fake."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest

from services.core.auth import local_operator
from services.core.errors import BadInput, DatasetNotFound
from services.strategies import backtests as strategies
from services.strategies.lona.credentials import connect, is_configured, not_configured_message
from services.strategies.lona.errors import LonaAuthError, LonaNotConfigured
from services.worker.kinds import KINDS
from tests.fakes.lona_gateway import API, SECRET, TOKEN
from tests.support.market import HOUR
from tests.support.strategies import CODE, JAN_1, REF, candles

ANA = local_operator("ana")
BO = local_operator("bo")


@pytest.fixture
def runtime_with_data(lona_runtime):
    lona_runtime.datasets.write(REF, candles(JAN_1, 48))
    return lona_runtime


def backtest(runtime, lona_gateway, outcome="COMPLETED", symbols=(str(REF),)):
    lona_gateway.outcome = outcome
    strategy_id = strategies.upload_strategy(runtime, "Cross", CODE, actor=ANA)
    return strategies.start_backtest(runtime, strategy_id, list(symbols), date(2024, 1, 1), date(2024, 1, 2),
                                     actor=ANA, initial_cash=50_000, commission=0.0005)


# --- configuration ---------------------------------------------------------------------------------------
def test_without_a_token_lona_is_not_configured_and_says_what_to_set(runtime):
    assert not is_configured(runtime.settings)
    message = not_configured_message(runtime.settings)
    assert "LONA_AGENT_TOKEN" in message and "nexus lona register" in message
    assert "https://gateway.lona.agency" in message
    with pytest.raises(LonaNotConfigured, match="LONA_AGENT_TOKEN"):
        strategies.list_strategies(runtime)


def test_the_job_kind_is_known_to_the_worker():

    assert KINDS[strategies.JOB_KIND] is strategies.run_follow_job


def test_registration_saves_the_token_privately_and_the_console_uses_it(make_runtime, lona_gateway):
    runtime = make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_registration_secret=SECRET)
    assert not is_configured(runtime.settings)
    registration, path = strategies.register_agent(runtime, actor=ANA)
    saved = json.loads(Path(path).read_text())
    assert saved["lona_token"] == registration.token.get_secret_value() and saved["agent_id"] == "trade-nexus"
    assert stat.S_IMODE(runtime.settings.lona_credentials_path.stat().st_mode) == 0o600
    assert is_configured(runtime.settings)
    assert strategies.list_strategies(runtime).items == []
    assert lona_gateway.requests[-1].headers["x-api-key"] == registration.token.get_secret_value()


def test_a_refused_token_is_never_shown(make_runtime, lona_gateway):
    runtime = make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_token="lona-tok-stale-0042")
    with pytest.raises(LonaAuthError) as info:
        strategies.list_strategies(runtime)
    assert "lona-tok-stale-0042" not in str(info.value) and "expired" in str(info.value)
    assert "lona-tok-stale-0042" not in repr(runtime.settings)


def test_a_corrupt_credentials_file_says_what_to_do(make_runtime):
    runtime = make_runtime()
    runtime.settings.lona_credentials_path.write_text("{not json")
    with pytest.raises(BadInput, match="nexus lona register"):
        connect(runtime.settings)


# --- strategies ------------------------------------------------------------------------------------------
def test_created_and_uploaded_strategies_are_recorded(runtime_with_data, lona_gateway):
    made = strategies.create_strategy(runtime_with_data, "buy when RSI(14) drops below 30", actor=ANA,
                                      name="RSI dip", model="grok-4")
    uploaded = strategies.upload_strategy(runtime_with_data, "Cross", CODE, actor=BO, description="SMA cross")
    history = strategies.strategy_history(runtime_with_data)
    assert [(r.id, r.origin, r.actor) for r in history] == [(uploaded, "uploaded", "bo"),
                                                            (made.strategy_id, "generated", "ana")]
    assert (history[1].provider, history[1].model, history[1].name) == ("xai", "grok-4", "RSI dip")
    assert strategies.get_strategy(runtime_with_data, uploaded).code == CODE
    assert {s.id for s in strategies.list_strategies(runtime_with_data).items} == {made.strategy_id, uploaded}


# --- publishing ------------------------------------------------------------------------------------------
def test_publishing_the_same_dataset_version_twice_uploads_once(runtime_with_data, lona_gateway):
    first = strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    again = strategies.publish_dataset(runtime_with_data, "binance/BTCUSDT/1h", actor=BO)
    assert len(lona_gateway.uploads) == 1
    assert first.uploaded and not again.uploaded and again.symbol_id == first.symbol_id
    assert first.name == "BTCUSDT_1h_20240101_20240102" and first.candles == 48
    assert first.dataset_version == runtime_with_data.datasets.manifest(REF).etag
    (upload,) = lona_gateway.uploads
    assert upload.name == first.name and len(upload.rows) == 48
    assert (upload.rows[0]["timestamp"], upload.rows[-1]["timestamp"]) == ("2024-01-01 00:00:00",
                                                                           "2024-01-02 23:00:00")
    meta = upload.metadata
    assert (meta["data_type"], meta["exchange"], meta["asset_class"], meta["quote_currency"]) == (
        "ohlcv", "BINANCE", "crypto", "USDT")
    assert (meta["frequency"], meta["timezone"]) == ("1h", "UTC")
    assert meta["column_mapping"] == {c: c for c in ("timestamp", "open", "high", "low", "close", "volume")}
    # fetched once after the upload, once more to check it still exists before reusing it
    assert len(lona_gateway.calls("GET", f"{API}/symbols/{first.symbol_id}")) == 2


def test_a_range_is_its_own_symbol_and_is_reused_too(runtime_with_data, lona_gateway):
    day_two = strategies.publish_dataset(runtime_with_data, REF, date(2024, 1, 2), date(2024, 1, 2), actor=ANA)
    assert day_two.name == "BTCUSDT_1h_20240102_20240102" and day_two.candles == 24
    strategies.publish_dataset(runtime_with_data, REF, date(2024, 1, 2), date(2024, 1, 5), actor=ANA)  # same candles
    strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    assert [u.name for u in lona_gateway.uploads] == ["BTCUSDT_1h_20240102_20240102", "BTCUSDT_1h_20240101_20240102"]
    assert strategies.published_symbols(runtime_with_data, REF)[0].name == "BTCUSDT_1h_20240101_20240102"


def test_a_new_data_version_is_uploaded_again(runtime_with_data, lona_gateway):
    before = strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    runtime_with_data.datasets.write(REF, candles(JAN_1 + 48 * HOUR, 24))
    after = strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    assert after.dataset_version != before.dataset_version and after.symbol_id != before.symbol_id
    assert after.name == "BTCUSDT_1h_20240101_20240103" and len(lona_gateway.uploads) == 2


def test_a_symbol_deleted_on_lona_is_uploaded_again(runtime_with_data, lona_gateway):
    before = strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    lona_gateway.symbols.clear()
    after = strategies.publish_dataset(runtime_with_data, REF, actor=ANA)
    assert after.uploaded and after.symbol_id != before.symbol_id and len(lona_gateway.uploads) == 2
    assert [p.symbol_id for p in strategies.published_symbols(runtime_with_data)] == [after.symbol_id]


def test_publishing_nothing_is_refused_before_any_upload(runtime_with_data, lona_gateway):
    with pytest.raises(BadInput, match="no candles between 2025-01-01 and 2025-01-31"):
        strategies.publish_dataset(runtime_with_data, REF, date(2025, 1, 1), date(2025, 1, 31), actor=ANA)
    with pytest.raises(BadInput, match="is after end"):
        strategies.publish_dataset(runtime_with_data, REF, date(2024, 1, 2), date(2024, 1, 1), actor=ANA)
    with pytest.raises(DatasetNotFound):
        strategies.publish_dataset(runtime_with_data, "binance/ETHUSDT/1h", actor=ANA)
    assert not lona_gateway.uploads and not lona_gateway.requests


# --- backtests -------------------------------------------------------------------------------------------
def test_a_backtest_is_recorded_followed_by_a_job_and_completed(runtime_with_data, lona_gateway):
    started = backtest(runtime_with_data, lona_gateway, symbols=(str(REF), "global-AAPL"))
    run = lona_gateway.calls("POST", f"{API}/runner/run")[0].json()
    assert run["simulation_parameters"]["initial_cash"] == 50_000
    assert run["simulation_parameters"]["commission_schema"]["commission"] == 0.0005
    published = strategies.published_symbols(runtime_with_data)[0]
    assert run["data_ids"] == [published.symbol_id, "global-AAPL"]
    recorded = strategies.get_backtest(runtime_with_data, started.report_id)
    assert (recorded.status, recorded.progress, recorded.actor) == ("COMPLETED", 1.0, "ana")
    assert recorded.total_stats["total_return"] == 0.1523 and recorded.error is None
    assert recorded.datasets == [{"ref": str(REF), "version": published.dataset_version, "symbol_id":
                                  published.symbol_id, "first_ts": JAN_1, "last_ts": JAN_1 + 47 * HOUR}]
    assert (recorded.start_date, recorded.end_date) == (date(2024, 1, 1), date(2024, 1, 2))
    job = runtime_with_data.jobs.get(recorded.job_id)
    assert job.kind == "lona_backtest" and job.status == "succeeded" and job.progress == 1.0
    assert job.result["report_id"] == started.report_id and "15.23 %" in job.result["summary"]
    assert len(lona_gateway.calls("GET", f"{API}/reports/{started.report_id}/status")) == 3
    assert [b.report_id for b in strategies.backtest_history(runtime_with_data)] == [started.report_id]


def test_the_report_has_normalised_metrics_curves_and_trades_from_the_records(runtime_with_data, lona_gateway):
    started = backtest(runtime_with_data, lona_gateway)
    asked = len(lona_gateway.requests)
    report = strategies.backtest_report(runtime_with_data, started.report_id)
    assert len(lona_gateway.requests) == asked  # a finished report is read from the records
    assert report.status == "COMPLETED" and report.error is None
    assert report.metrics.total_return_pct == pytest.approx(15.23)
    assert report.metrics.max_drawdown_pct == pytest.approx(8.32)
    assert report.metrics.win_rate_pct == pytest.approx(62.0)
    assert "fractions" in report.metrics.units
    assert list(report.timeline.columns) == ["date", "equity", "drawdown_pct"] and len(report.timeline) == 5
    assert report.timeline["equity"].iloc[0] == 50_000
    assert report.timeline["drawdown_pct"].min() == pytest.approx((0.98 / 1.04 - 1) * 100)
    assert report.trades["pnl"].tolist() == [4000.0, -6000.0, 17000.0]
    assert report.backtest.report_id == started.report_id


@pytest.mark.parametrize("category", ["TIMEOUT_ERROR", "DATA_ERROR", "CODE_ERROR", "EXECUTION_ERROR"])
def test_a_failed_backtest_records_its_category_message_and_stderr(runtime_with_data, lona_gateway, category):
    started = backtest(runtime_with_data, lona_gateway, outcome=category)
    recorded = strategies.get_backtest(runtime_with_data, started.report_id)
    assert recorded.status == "FAILED" and recorded.category == category
    assert recorded.error.startswith(f"Backtest report {started.report_id} failed [{category}]")
    job = runtime_with_data.jobs.get(recorded.job_id)
    assert job.status == "failed" and f"[{category}]" in job.error
    report = strategies.backtest_report(runtime_with_data, started.report_id)
    assert (report.status, report.category, report.error) == ("FAILED", category, recorded.error)
    if category == "CODE_ERROR":
        assert report.stderr.endswith("NameError: name 'sma' is not defined")
    if category == "DATA_ERROR":
        assert "nexus lona publish" in report.error
    assert TOKEN not in report.error


def test_a_poll_timeout_fails_the_job_and_the_report_can_be_read_later(make_runtime, lona_gateway):
    runtime = make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_token=TOKEN, lona_poll_interval_seconds=0.01,
                           lona_poll_timeout_seconds=0.05)
    started = backtest(runtime, lona_gateway, outcome="HANG", symbols=("global-SPY",))
    recorded = strategies.get_backtest(runtime, started.report_id)
    assert recorded.status in ("PENDING", "EXECUTING") and "Timed out waiting for report" in recorded.error
    assert runtime.jobs.get(recorded.job_id).status == "failed"
    assert recorded.datasets == []
    lona_gateway.reports[started.report_id]["outcome"] = "COMPLETED"
    lona_gateway.reports[started.report_id]["polls"] = 10
    report = strategies.backtest_report(runtime, started.report_id)
    assert report.status == "COMPLETED" and len(report.trades) == 3
    assert strategies.get_backtest(runtime, started.report_id).status == "COMPLETED"
    job_id = strategies.follow_backtest(runtime, started.report_id, actor=BO)
    assert runtime.jobs.get(job_id).status == "succeeded"


def test_a_report_started_elsewhere_is_read_but_not_recorded(runtime_with_data, lona_gateway):
    with connect(runtime_with_data.settings) as client:
        strategy_id = client.upload_strategy("Elsewhere", CODE)
        lona_gateway.outcome = "CODE_ERROR"
        report_id = client.run_backtest(strategy_id, ["global-MSFT"], date(2024, 1, 1), date(2024, 2, 1))
    lona_gateway.reports[report_id]["polls"] = 10
    report = strategies.backtest_report(runtime_with_data, report_id)
    assert (report.status, report.category, report.backtest) == ("FAILED", "CODE_ERROR", None)
    assert "NameError" in report.stderr and "[CODE_ERROR]" in report.error
    assert strategies.backtest_history(runtime_with_data) == []
    with pytest.raises(BadInput, match="was started from this console"):
        strategies.follow_backtest(runtime_with_data, report_id, actor=ANA)


@pytest.mark.parametrize(
    ("symbols", "start", "end", "cash", "message"),
    [
        ([], date(2024, 1, 1), date(2024, 1, 2), 1000, "at least one symbol"),
        ([str(REF)], date(2024, 1, 2), date(2024, 1, 2), 1000, "must be before"),
        ([str(REF)], date(2024, 1, 1), date(2024, 1, 2), 0, "initial cash"),
        (["nobody/X/9h"], date(2024, 1, 1), date(2024, 1, 2), 1000, "unknown interval"),
    ],
)
def test_a_bad_backtest_request_changes_nothing(runtime_with_data, lona_gateway, symbols, start, end, cash, message):
    with pytest.raises(BadInput, match=message):
        strategies.start_backtest(runtime_with_data, "strat-x", symbols, start, end, actor=ANA, initial_cash=cash)
    assert not lona_gateway.requests and strategies.backtest_history(runtime_with_data) == []


@pytest.mark.postgres
def test_the_lona_records_work_on_postgresql(make_runtime, lona_gateway, postgres_url):
    runtime = make_runtime(database_url=postgres_url, lona_gateway_url=lona_gateway.url, lona_agent_token=TOKEN,
                           lona_poll_interval_seconds=0.001)
    runtime.datasets.write(REF, candles(JAN_1, 48))
    strategies.publish_dataset(runtime, REF, actor=ANA)
    started = backtest(runtime, lona_gateway)
    assert len(lona_gateway.uploads) == 1
    report = strategies.backtest_report(runtime, started.report_id)
    assert report.status == "COMPLETED" and len(report.timeline) == 5
    assert report.backtest.datasets[0]["ref"] == str(REF) and report.backtest.start_date == date(2024, 1, 1)
    runtime.engine.dispose()


def test_an_unknown_strategy_or_dataset_is_refused_before_anything_is_uploaded(runtime_with_data, lona_gateway):
    with pytest.raises(BadInput, match="strategy strat-missing was not found on Lona"):
        strategies.start_backtest(runtime_with_data, "strat-missing", [str(REF), "global-AAPL"], date(2024, 1, 1),
                                  date(2024, 1, 2), actor=ANA)
    assert not lona_gateway.uploads and strategies.backtest_history(runtime_with_data) == []
    strategy_id = lona_gateway._new_strategy("Cross", CODE, "")["id"]
    with pytest.raises(DatasetNotFound):
        strategies.start_backtest(runtime_with_data, strategy_id, [str(REF), "binance/NOPEUSDT/1h"],
                                  date(2024, 1, 1), date(2024, 1, 2), actor=ANA)
    assert not lona_gateway.uploads and strategies.backtest_history(runtime_with_data) == []
