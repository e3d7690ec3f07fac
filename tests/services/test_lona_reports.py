"""Reading Lona reports without a network: diagnostics walk, failure categories, metric units, frames."""

from __future__ import annotations

import pytest

from services.strategies.lona.failures import backtest_failure, classify, collect_diagnostics
from services.strategies.lona.reports import normalise_metrics, timeline_frame, trades_frame


def test_diagnostics_walk_keys_to_depth_five_and_keeps_eight():
    deep = {"a": {"b": {"c": {"d": {"stderr": "level 5"}}}}}
    too_deep = {"a": {"b": {"c": {"d": {"e": {"stderr": "level 6"}}}}}}
    assert collect_diagnostics(deep) == [("stderr", "level 5")]
    assert collect_diagnostics(too_deep) == []
    many = {"logs": [{"message": f"m{n}"} for n in range(20)], "error": " ", "name": "not a diagnostic"}
    assert [text for _, text in collect_diagnostics(many)] == [f"m{n}" for n in range(8)]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("deadline exceeded while symbol data not found", "TIMEOUT_ERROR"),  # order: timeout wins
        ("Symbol abc was not found", "DATA_ERROR"),
        ("no data for BTC: not found", "DATA_ERROR"),
        ("ModuleNotFoundError: No module named 'talib'", "CODE_ERROR"),
        ("Traceback (most recent call last): ...", "CODE_ERROR"),
        ("margin call", "EXECUTION_ERROR"),
        ("", "EXECUTION_ERROR"),
    ],
)
def test_categories_are_checked_in_order(text, category):
    assert classify(text) == category


def test_a_failure_without_any_message_still_says_what_happened():
    failure = backtest_failure("r1", None, None)
    assert str(failure).startswith("Backtest report r1 failed [EXECUTION_ERROR]: no error message from Lona")
    assert failure.stderr == ""


def test_the_merged_error_is_cut_to_420_characters():
    failure = backtest_failure("r1", "boom", {"runner": {"message": "x" * 1000}})
    assert failure.error == "boom | " + "x" * 420


def test_fraction_metrics_are_shown_as_percents_and_say_so():
    metrics = normalise_metrics({"total_return": 0.1523, "sharpe_ratio": 1.41, "max_drawdown": -0.0832,
                                 "win_rate": 0.62, "total_trades": 37, "profit_factor": "1.8", "note": "x"})
    assert metrics.total_return_pct == pytest.approx(15.23)
    assert metrics.max_drawdown_pct == pytest.approx(8.32)
    assert metrics.win_rate_pct == pytest.approx(62.0)
    assert (metrics.sharpe_ratio, metrics.total_trades) == (1.41, 37)
    assert "as fractions" in metrics.units and "win_rate 0.62" in metrics.units
    assert metrics.other == {"profit_factor": 1.8}


def test_percent_metrics_are_recognised_by_a_win_rate_above_one():
    metrics = normalise_metrics({"total_return": 18.4, "max_drawdown": 11.0, "win_rate": 54.1, "sharpe_ratio": 1.12})
    assert (metrics.total_return_pct, metrics.max_drawdown_pct, metrics.win_rate_pct) == (18.4, 11.0, 54.1)
    assert "as percents" in metrics.units and "cannot be a fraction" in metrics.units


def test_pct_keys_are_percents_whatever_their_size():
    metrics = normalise_metrics({"totalReturnPct": 0.5, "maxDrawdownPct": 0.2, "winRatePct": 0.9,
                                 "sharpeRatio": "2.0"})
    assert (metrics.total_return_pct, metrics.max_drawdown_pct, metrics.win_rate_pct) == (0.5, 0.2, 0.9)
    assert metrics.sharpe_ratio == 2.0 and metrics.units == "percents as reported (keys marked _pct)"


def test_a_lone_return_is_read_by_its_size_and_flagged_ambiguous():
    assert normalise_metrics({"total_return": 0.3}).total_return_pct == pytest.approx(30.0)
    big = normalise_metrics({"total_return": 250.0})
    assert big.total_return_pct == 250.0 and "ambiguous" in big.units


def test_non_numbers_and_no_stats_give_empty_metrics():
    metrics = normalise_metrics({"total_return": "n/a", "win_rate": None, "sharpe_ratio": float("nan"),
                                 "total_trades": True})
    assert metrics.total_return_pct is None and metrics.sharpe_ratio is None and metrics.total_trades is None
    assert normalise_metrics(None).units == "no return, drawdown or win-rate figures reported"


def test_timeline_reads_dates_equity_and_fractional_drawdown():
    frame = timeline_frame({"timeline": [{"date": "2024-01-02", "equity": 90.0, "drawdown": -0.1},
                                         {"date": "2024-01-01", "equity": 100.0, "drawdown": 0.0}]})
    assert list(frame.columns) == ["date", "equity", "drawdown_pct"]
    assert str(frame["date"].iloc[0].date()) == "2024-01-01"
    assert frame["drawdown_pct"].tolist() == pytest.approx([0.0, -10.0])


def test_timeline_computes_a_missing_drawdown_from_equity():
    frame = timeline_frame({"backtest_timeline": [{"timestamp": 1_704_067_200_000 + d * 86_400_000, "equity": e}
                                                  for d, e in enumerate([100.0, 120.0, 90.0, 130.0])]})
    assert frame["drawdown_pct"].tolist() == pytest.approx([0.0, 0.0, -25.0, 0.0])
    assert str(frame["date"].iloc[1].date()) == "2024-01-02"


def test_missing_timeline_and_trades_give_empty_frames():
    assert timeline_frame({}).empty and list(timeline_frame(None).columns) == ["date", "equity", "drawdown_pct"]
    assert trades_frame({"trades": "none"}).empty
    assert trades_frame({"trade_history": [{"pnl": 1.0}, "junk"]})["pnl"].tolist() == [1.0]
