"""What the Strategies page shows, without Streamlit: pages, choices, uploads, day spans, progress lines, metrics."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from components.views.strategies import (
    BacktestProgress,
    backtest_days,
    backtests_table,
    metric_rows,
    page_count,
    published_table,
    report_choices,
    strategy_choices,
    trades_heading,
    upload_source,
)
from services.core.errors import BadInput
from services.jobs.queue import Job
from services.market_data.datasets import CatalogEntry, DatasetRef
from services.strategies.backtests import Backtest, PublishedSymbol, StrategyRecord
from services.strategies.lona.reports import normalise_metrics
from services.strategies.lona.results import Page, Strategy

JAN_1 = 1_704_067_200_000
DAY = 86_400_000
WHEN = datetime(2024, 3, 1, 12, tzinfo=UTC)
BACKTEST = Backtest(
    report_id="rep-1", strategy_id="strat-1", symbol_ids=["sym-1"], datasets=[], start_date=date(2024, 1, 1),
    end_date=date(2024, 1, 31), initial_cash=1000.0, commission=0.001, status="EXECUTING", progress=0.4,
    total_stats=None, error=None, category=None, stderr=None, actor="ana", job_id="job-1", created_at=WHEN,
    updated_at=WHEN,
)
JOB = Job(
    id="job-1", kind="lona_backtest", status="running", title="", actor="ana", params={}, progress=0.4,
    message="Lona: executing", metrics={}, result=None, error=None, cancel_requested=False, attempts=1,
    created_at=WHEN, started_at=WHEN, heartbeat_at=WHEN, finished_at=None,
)
PUBLISHED = PublishedSymbol(
    symbol_id="sym-1", name="BTCUSDT_1h_20240101_20240105", dataset_ref="binance/BTCUSDT/1h", dataset_version="etag-1",
    first_ts=JAN_1, last_ts=JAN_1 + 4 * DAY, candles=97, actor="ana", created_at=WHEN,
)


def entry(ref: str, first_ts: int | None, last_ts: int | None) -> CatalogEntry:
    return CatalogEntry(DatasetRef.parse(ref), 10, first_ts, last_ts, 100, WHEN, False, False)


@pytest.mark.parametrize(
    ("total", "has_next", "skip", "expected"),
    [(45, True, 0, 3), (40, False, 20, 2), (0, False, 0, 1), (None, True, 20, 3), (None, False, 40, 3)],
)
def test_page_count_trusts_lona_s_total_and_never_hides_a_next_page(total, has_next, skip, expected):
    assert page_count(Page([], has_next, total, skip, 20)) == expected


def test_strategy_choices_put_this_console_s_submissions_first_without_repeating_them():
    listed = [Strategy("strat-2", "Other"), Strategy("strat-1", "Cross (as listed)")]
    submitted = [StrategyRecord("strat-1", "Cross", "", "uploaded", None, None, "ana", WHEN)]
    assert strategy_choices(listed, submitted) == {"strat-1": "Cross (strat-1)", "strat-2": "Other (strat-2)"}


def test_an_uploaded_file_is_named_after_itself_and_pasted_code_needs_a_name():
    assert upload_source("sma_cross.py", "\ufeffimport backtrader\n".encode(), "", "") == ("sma_cross",
                                                                                          "import backtrader\n")
    assert upload_source("a.py", b"x = 1\n", "ignored", " Mine ") == ("Mine", "x = 1\n")
    assert upload_source(None, None, "x = 1\n", "Pasted") == ("Pasted", "x = 1\n")
    with pytest.raises(BadInput, match="give the pasted strategy a name"):
        upload_source(None, None, "x = 1\n", " ")
    with pytest.raises(BadInput, match="nothing to upload"):
        upload_source(None, None, "  \n", "Empty")
    with pytest.raises(BadInput, match=r"latin\.py is not UTF-8"):
        upload_source("latin.py", "café = 1".encode("latin-1"), "", "")


def test_backtest_days_span_the_chosen_symbols_else_the_last_90_days():
    entries = [entry("sample/AAPL/1d", JAN_1 + 10 * DAY, JAN_1 + 40 * DAY), entry("empty/X/1d", None, None)]
    today = date(2024, 6, 30)
    assert backtest_days(["sym-1"], [PUBLISHED], entries, today) == (date(2024, 1, 1), date(2024, 1, 5))
    assert backtest_days(["sym-1", "sample/AAPL/1d"], [PUBLISHED], entries, today) == (date(2024, 1, 1),
                                                                                      date(2024, 2, 10))
    assert backtest_days(["global-SPY", "empty/X/1d"], [PUBLISHED], entries, today) == (date(2024, 4, 1), today)


def test_a_report_from_the_url_is_offered_even_when_started_elsewhere():
    choices = report_choices([BACKTEST], "rep-9")
    assert list(choices) == ["rep-9", "rep-1"]
    assert choices["rep-1"] == "rep-1 · executing · strategy strat-1 · 2024-01-01 → 2024-01-31"
    assert list(report_choices([BACKTEST], "rep-1")) == ["rep-1"]


def test_a_progress_line_says_how_far_why_it_failed_or_that_nothing_follows_it():
    running = BacktestProgress(BACKTEST, JOB)
    assert (running.fraction, running.text, running.stalled) == (0.4, "rep-1 · executing · Lona: executing", False)
    failed = BacktestProgress(replace(BACKTEST, status="FAILED", category="CODE_ERROR"), replace(JOB, status="failed"))
    assert (failed.fraction, failed.text, failed.stalled) == (1.0, "rep-1 · failed · CODE_ERROR", False)
    timed_out = BacktestProgress(replace(BACKTEST, error="Timed out waiting"), replace(JOB, status="failed"))
    assert timed_out.stalled and timed_out.text == "rep-1 · executing · no longer followed: Timed out waiting"
    orphan = BacktestProgress(replace(BACKTEST, progress=7.0), None)
    assert orphan.stalled and orphan.fraction == 1.0 and orphan.text.endswith("its job is gone")
    done = BacktestProgress(replace(BACKTEST, status="COMPLETED", progress=None), replace(JOB, status="succeeded"))
    assert (done.fraction, done.text, done.stalled) == (1.0, "rep-1 · completed", False)


def test_metric_rows_show_percents_and_say_what_was_not_reported():
    rows = metric_rows(normalise_metrics({"total_return": 0.1523, "max_drawdown": -0.0832, "sharpe_ratio": 1.414}))
    assert rows == [("Total return", "15.23 %"), ("Max drawdown", "8.32 %"), ("Win rate", "n/a"),
                    ("Sharpe ratio", "1.41"), ("Trades", "n/a")]


def test_tables_have_one_row_per_item_and_readable_times():
    published = published_table([PUBLISHED])
    assert published["first candle"].iloc[0] == datetime(2024, 1, 1, tzinfo=UTC)
    assert published["symbol id"].tolist() == ["sym-1"]
    backtests = backtests_table([BACKTEST, replace(BACKTEST, report_id="rep-2", status="COMPLETED", progress=None)])
    assert backtests["progress"].tolist() == [0.4, 1.0] and backtests["symbols"].tolist() == ["sym-1", "sym-1"]
    assert backtests_table([]).empty and published_table([]).empty


def test_the_trade_list_heading_agrees_with_the_trades_metric():
    assert trades_heading(3, 3) == "**Trade history** (3 trades)"
    assert trades_heading(None, 2) == "**Trade history** (2 trades)"
    assert trades_heading(42, 0) == "**Trade history**: Lona counted 42 trades but sent no trade list"
    assert trades_heading(42, 10) == "**Trade history**: 10 of the 42 trades Lona counted"
