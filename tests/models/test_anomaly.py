"""Anomaly rules, the IsolationForest, severities, close-only and degenerate input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.anomaly import AnomalyConfig, AnomalyEvent, critical_symbols, detect, worst_severity

HOUR = 3_600_000
DAY = 86_400_000
START = 1_700_000_000_000 - 1_700_000_000_000 % DAY  # a midnight UTC


def candles(n: int = 600, step: int = HOUR, seed: int = 0, start: int = START) -> pd.DataFrame:
    """A clean 24/7 random-walk OHLCV series."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.005, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0, 0.002, (2, n)))
    return pd.DataFrame(
        {
            "timestamp": start + step * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.lognormal(10, 0.3, n),
        }
    )


def kinds(events: list[AnomalyEvent]) -> set[str]:
    return {e.kind for e in events}


def of_kind(events: list[AnomalyEvent], kind: str) -> list[AnomalyEvent]:
    return [e for e in events if e.kind == kind]


def test_clean_series_raises_nothing_but_information():
    events = detect(candles(), HOUR)
    assert kinds(events) <= {"isolation_forest"}
    assert worst_severity(events) in (None, "info")


def test_events_are_well_formed():
    frame = candles()
    frame.loc[300, "high"] = frame.loc[300, "low"] * 0.99
    frame.loc[400, "volume"] *= 30
    for event in detect(frame, HOUR):
        assert 0.0 <= event.score <= 1.0
        assert event.severity in ("info", "warning", "critical")
        assert event.end_timestamp >= event.timestamp
        assert event.detail


def test_gap_is_reported_at_the_first_missing_bar():
    frame = candles().drop(index=range(200, 203)).reset_index(drop=True)
    gaps = of_kind(detect(frame, HOUR), "gap")
    assert len(gaps) == 1
    assert gaps[0].timestamp == START + 200 * HOUR
    assert gaps[0].end_timestamp == START + 202 * HOUR
    assert gaps[0].severity == "warning"
    assert "3 bar(s) missing" in gaps[0].detail


def test_interval_is_inferred_when_not_given():
    frame = candles().drop(index=[250]).reset_index(drop=True)
    assert [e.timestamp for e in of_kind(detect(frame, None), "gap")] == [START + 250 * HOUR]


def test_weekends_are_not_gaps_and_a_lone_missing_weekday_is_a_likely_holiday():
    frame = candles(n=400, step=DAY)
    weekday = pd.to_datetime(frame["timestamp"], unit="ms").dt.dayofweek
    frame = frame[weekday < 5].reset_index(drop=True)
    assert of_kind(detect(frame, DAY), "gap") == []
    holiday = frame.drop(index=[100]).reset_index(drop=True)
    gaps = of_kind(detect(holiday, DAY), "gap")
    assert len(gaps) == 1 and gaps[0].severity == "info" and "holiday" in gaps[0].detail
    # with the venue's calendar, the same missing day is a plain gap, and calendar holidays are not
    sessions = frame["timestamp"].to_numpy()
    gaps = of_kind(detect(holiday, DAY, sessions=sessions), "gap")
    assert len(gaps) == 1 and gaps[0].severity == "warning"
    assert of_kind(detect(holiday, DAY, sessions=np.delete(sessions, 100)), "gap") == []


def test_ohlc_violations_are_critical():
    frame = candles()
    frame.loc[100, "high"] = frame.loc[100, "low"] * 0.99  # high < low
    frame.loc[200, "close"] = frame.loc[200, "high"] * 1.01  # close above high
    frame.loc[300, "open"] = -1.0
    violations = of_kind(detect(frame, HOUR), "ohlc_violation")
    assert [e.timestamp for e in violations] == [START + i * HOUR for i in (100, 200, 300)]
    assert all(e.severity == "critical" for e in violations)
    assert "high < low" in violations[0].detail
    assert "close outside [low, high]" in violations[1].detail
    assert "price <= 0" in violations[2].detail


def test_copied_bars_are_stale_and_critical_only_at_the_end():
    frame = candles()
    frame.loc[301:303, ["open", "high", "low", "close", "volume"]] = frame.loc[
        300, ["open", "high", "low", "close", "volume"]
    ].to_numpy()
    frame.loc[596:, ["open", "high", "low", "close", "volume"]] = frame.loc[
        595, ["open", "high", "low", "close", "volume"]
    ].to_numpy()
    stale = of_kind(detect(frame, HOUR), "stale")
    assert [(e.timestamp, e.severity) for e in stale] == [
        (START + 301 * HOUR, "warning"),
        (START + 596 * HOUR, "critical"),
    ]
    assert stale[0].end_timestamp == START + 303 * HOUR
    assert "ends frozen" in stale[1].detail


def test_spike_and_reversal_is_one_jump_event():
    frame = candles()
    frame.loc[350, ["open", "high", "low", "close"]] *= 1.15
    jumps = of_kind(detect(frame, HOUR), "jump")
    assert len(jumps) == 1
    assert jumps[0].timestamp == START + 350 * HOUR
    assert jumps[0].end_timestamp == START + 351 * HOUR
    assert "spike" in jumps[0].detail and jumps[0].severity == "warning"


def test_very_large_jump_on_the_last_bars_is_critical():
    frame = candles()
    frame.loc[598:, ["open", "high", "low", "close"]] *= 1.3
    jumps = of_kind(detect(frame, HOUR), "jump")
    assert len(jumps) == 1 and jumps[0].severity == "critical"
    # the same move long ago is history, not a reason to stop trading
    old = candles()
    old.loc[300:, ["open", "high", "low", "close"]] *= 1.3
    assert [e.severity for e in of_kind(detect(old, HOUR), "jump")] == ["warning"]


def test_volume_burst():
    frame = candles()
    frame.loc[420, "volume"] = 12 * frame.loc[360:419, "volume"].median()
    bursts = of_kind(detect(frame, HOUR), "volume_burst")
    assert [e.timestamp for e in bursts] == [START + 420 * HOUR]
    assert bursts[0].severity == "warning"  # 10x and more
    assert "x its rolling median" in bursts[0].detail


def test_isolation_forest_isolates_an_extreme_bar():
    frame = candles()
    frame.loc[450, "volume"] *= 40
    frame.loc[450, "high"] *= 1.08
    frame.loc[450, "low"] *= 0.92
    forest = of_kind(detect(frame, HOUR, AnomalyConfig(forest_threshold=0.6)), "isolation_forest")
    most_isolated = max(forest, key=lambda e: e.score)
    assert most_isolated.timestamp == START + 450 * HOUR
    assert all(e.severity == "info" and 0.6 <= e.score <= 1 for e in forest)
    assert of_kind(detect(frame, HOUR, AnomalyConfig(isolation_forest=False)), "isolation_forest") == []


def test_detection_is_deterministic():
    frame = candles()
    frame.loc[450, "volume"] *= 40
    assert detect(frame, HOUR) == detect(frame, HOUR)


def close_only(n: int = 600, seed: int = 1) -> pd.DataFrame:
    frame = candles(n, seed=seed)
    frame["open"] = frame["high"] = frame["low"] = frame["close"] = frame["close"].round(2)
    frame["volume"] = 0.0
    return frame


def test_close_only_series_skip_the_volume_rule_and_still_find_stale_runs():
    frame = close_only()
    assert kinds(detect(frame, HOUR)) <= {"isolation_forest"}
    frame.loc[301:306, ["open", "high", "low", "close"]] = frame.loc[300, "close"]
    stale = of_kind(detect(frame, HOUR), "stale")
    assert len(stale) == 1 and stale[0].timestamp == START + 301 * HOUR
    assert "repeats are needed" in stale[0].detail


def test_frame_without_optional_columns():
    frame = candles()[["timestamp", "close"]]
    assert kinds(detect(frame, HOUR)) <= {"isolation_forest"}


def test_nan_prices_are_reported_and_skipped():
    frame = candles()
    frame.loc[200:202, "close"] = np.nan
    events = detect(frame, HOUR)
    missing = of_kind(events, "missing_value")
    assert len(missing) == 1 and missing[0].severity == "warning" and "3 bar(s)" in missing[0].detail
    assert "jump" not in kinds(events)
    frame.loc[599, "close"] = np.nan
    last = of_kind(detect(frame, HOUR), "missing_value")[-1]
    assert last.severity == "critical"


def test_duplicate_timestamps_keep_the_last_row():
    frame = candles()
    frame = pd.concat([frame, frame.iloc[[100]]]).reset_index(drop=True)
    duplicates = of_kind(detect(frame, HOUR), "duplicate")
    assert [e.timestamp for e in duplicates] == [START + 100 * HOUR]


def test_unsorted_input_is_sorted():
    frame = candles()
    assert detect(frame.iloc[::-1].reset_index(drop=True), HOUR) == detect(frame, HOUR)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 30])
def test_short_series_do_not_fail(n):
    events = detect(candles(n=max(n, 1)).iloc[:n], HOUR)
    assert all(e.kind != "isolation_forest" for e in events)


def test_missing_columns_are_refused():
    with pytest.raises(ValueError, match="timestamp and close"):
        detect(pd.DataFrame({"timestamp": [1, 2]}), HOUR)


def test_critical_symbols_lists_symbols_with_a_critical_event():
    ok = candles()
    broken = candles(seed=2)
    broken.loc[10, "high"] = broken.loc[10, "low"] / 2
    events = {"BROKEN": detect(broken, HOUR), "OK": detect(ok, HOUR), "EMPTY": []}
    assert critical_symbols(events) == ["BROKEN"]
    assert worst_severity(events["BROKEN"]) == "critical"
    assert worst_severity([]) is None
