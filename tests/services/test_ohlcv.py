"""The OHLCV contract: every rule, the accepted file variants, resampling and the Lona export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.errors import InvalidCandles
from services.market_data import ohlcv

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z


def candles(n: int = 5, step: int = HOUR, start: int = T0) -> pd.DataFrame:
    """Valid hourly candles."""
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame({"timestamp": start + step * np.arange(n, dtype="int64"), "open": close - 0.5,
                         "high": close + 1, "low": close - 1, "close": close, "volume": np.full(n, 10.0)})


def csv_of(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_valid_frame_passes():
    ohlcv.validate(candles(), "1h")


@pytest.mark.parametrize(
    ("mutate", "rule", "row"),
    [
        (lambda f: f.drop(columns="volume"), "missing column(s) volume", None),
        (lambda f: f.assign(close=[100, np.nan, 102, 103, 104]), "close is empty or NaN", 2),
        (lambda f: f.assign(open=[-1.0, 100, 101, 102, 103], low=[-2.0, 99, 100, 101, 102]), "open must be > 0", 1),
        (lambda f: f.assign(high=[101, 101, 90, 104, 105]), "high < low", 3),
        (lambda f: f.assign(open=[100, 200, 101, 102, 103]), "open outside [low, high]", 2),
        (lambda f: f.assign(close=[100, 101, 102, 103, 999]), "close outside [low, high]", 5),
        (lambda f: f.assign(volume=[1, 1, 1, -1, 1.0]), "volume must be >= 0", 4),
        (lambda f: f.assign(timestamp=f["timestamp"].where(f.index != 3, T0 + 2 * HOUR)), "duplicate timestamp", 4),
        (lambda f: f.iloc[[0, 2, 1, 3, 4]].reset_index(drop=True), "timestamps not increasing", 3),
        (lambda f: f.assign(timestamp=f["timestamp"] + 60_000), "timestamp not on the 1h grid", 1),
        (lambda f: f.iloc[0:0], "no candles", None),
    ],
)
def test_every_rule_names_row_and_rule(mutate, rule, row):
    with pytest.raises(InvalidCandles) as caught:
        ohlcv.validate(mutate(candles()), "1h", source="file.csv")
    assert rule in str(caught.value)
    assert caught.value.row == row
    assert "file.csv" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"timestamp,open,high,low,close\n1,2,3,1,2\n", "missing column(s) volume"),
        (b"timestamp,open,high,low,close,volume\n", "header only"),
        (b"timestamp,open,high,low,close,volume\n1704067200000,1,2,x,1,1\n", "unparseable number in low"),
        (b"timestamp,open,high,low,close,volume\nyesterday,1,2,0.5,1,1\n", "unparseable timestamp"),
        (b"[{\"timestamp\": 1}", "malformed JSON"),
        (b"{\"candles\": []}", "without a 'data' array"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data, message):
    with pytest.raises(InvalidCandles, match=message.replace("(", r"\(").replace(")", r"\)")):
        ohlcv.parse_candles(data, "upload.csv", interval="1h")


def test_accepts_capitalised_headers_any_order_iso_dates_and_index_column():
    data = b",Close,Open,High,Low,Volume\n2024-01-01,10,9,11,8,100\n2024-01-02,11,10,12,9,100\n"
    frame, report = ohlcv.parse_candles(data, "GOOG.csv", interval="1d")
    assert list(frame.columns) == ohlcv.BASE_COLUMNS
    assert frame["timestamp"].tolist() == [T0, T0 + 86_400_000]
    assert report.timestamp_format == "ISO 8601"


@pytest.mark.parametrize("unit,scale", [("s", 1_000), ("ms", 1), ("us", 0.001)])
def test_epoch_units_are_detected(unit, scale):
    frame = candles()
    frame["timestamp"] = (frame["timestamp"] / scale).astype("int64")
    parsed, report = ohlcv.parse_candles(csv_of(frame), "x.csv", interval="1h")
    assert report.timestamp_format == f"epoch {unit}"
    assert parsed["timestamp"].tolist() == candles()["timestamp"].tolist()


def test_lona_json_wrapper_bare_array_and_arrays_all_parse():
    frame = candles()
    records = json.loads(frame.to_json(orient="records"))
    wrapped = json.dumps({"symbol": "BTCUSDT", "interval": "1h", "exchange": "binance", "data": records}).encode()
    arrays = json.dumps(frame.to_numpy().tolist()).encode()
    for data in (wrapped, json.dumps(records).encode(), arrays):
        parsed, _ = ohlcv.parse_candles(data, "x.json", interval="1h")
        assert parsed["close"].tolist() == frame["close"].tolist()


def test_repair_order_sorts_and_drops_exact_duplicates_only():
    frame = candles()
    messy = pd.concat([frame.iloc[[1, 0]], frame.iloc[[2, 2, 3, 4]]])
    parsed, report = ohlcv.parse_candles(csv_of(messy), "x.csv", interval="1h", repair_order=True)
    assert parsed["timestamp"].tolist() == frame["timestamp"].tolist()
    assert (report.duplicates_dropped, report.rows_reordered) == (1, 1)
    conflicting = pd.concat([frame, frame.iloc[[2]].assign(close=101.5)])
    with pytest.raises(InvalidCandles, match="duplicate timestamp"):
        ohlcv.parse_candles(csv_of(conflicting), "x.csv", interval="1h", repair_order=True)


def test_unknown_columns_are_dropped_and_optional_kept():
    frame = candles().assign(vwap=100.0, note="x")
    parsed, report = ohlcv.parse_candles(csv_of(frame), "x.csv", interval="1h")
    assert "vwap" in parsed.columns and report.columns_dropped == ["note"]


def test_grid_for_week_and_month():
    monday = 1_704_067_200_000  # 2024-01-01 was a Monday
    assert ohlcv.floor_to_interval(np.array([monday + 3 * 86_400_000]), "1w")[0] == monday
    assert ohlcv.floor_to_interval(np.array([T0 + 40 * 86_400_000]), "1M")[0] == 1_706_745_600_000  # 2024-02-01
    assert ohlcv.next_interval_start(T0, "1M") == 1_706_745_600_000


def test_resample_to_daily():
    frame = candles(48)
    daily = ohlcv.resample(frame, "1d")
    assert len(daily) == 2
    first = daily.iloc[0]
    assert first["open"] == frame["open"].iloc[0]
    assert first["close"] == frame["close"].iloc[23]
    assert first["high"] == frame["high"].iloc[:24].max()
    assert first["volume"] == 240
    ohlcv.validate(daily, "1d")


def test_resample_weights_vwap_by_volume():
    frame = candles(2).assign(vwap=[100.0, 200.0], volume=[1.0, 3.0])
    assert ohlcv.resample(frame, "1d")["vwap"].iloc[0] == pytest.approx(175.0)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    seed=st.integers(0, 2**16),
    target=st.sampled_from(["5m", "1h", "4h", "1d", "1w", "1M"]),
)
def test_resampling_preserves_extremes_and_totals(n, seed, target):
    rng = np.random.default_rng(seed)
    steps = rng.integers(1, 50, n).cumsum()  # gaps allowed
    close = 100 * np.exp(rng.normal(0, 0.01, n).cumsum())
    open_ = close * np.exp(rng.normal(0, 0.002, n))
    frame = pd.DataFrame({
        "timestamp": T0 + 60_000 * steps.astype("int64"), "open": open_,
        "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
        "close": close, "volume": rng.uniform(0, 10, n),
    })
    out = ohlcv.resample(frame, target)
    assert out["open"].iloc[0] == frame["open"].iloc[0]
    assert out["close"].iloc[-1] == frame["close"].iloc[-1]
    assert out["high"].max() == frame["high"].max()
    assert out["low"].min() == frame["low"].min()
    assert out["volume"].sum() == pytest.approx(frame["volume"].sum())
    ohlcv.validate(out, target)


def test_display_never_exceeds_the_candle_budget():
    frame = candles(20_000, step=60_000)
    shown, interval = ohlcv.for_display(frame, "1m", None, max_candles=5000)
    assert len(shown) <= 5000 and interval == "5m"
    shown, interval = ohlcv.for_display(frame, "1m", "1h", max_candles=5000)
    assert interval == "1h" and len(shown) == 334


def test_lona_exports_carry_exactly_the_base_columns():
    frame = candles().assign(vwap=1.0, trades=3.0)
    csv = ohlcv.to_csv_bytes(ohlcv.base_only(frame)).decode().splitlines()
    assert csv[0] == "timestamp,open,high,low,close,volume"
    payload = json.loads(ohlcv.to_lona_json_bytes(frame, "BTCUSDT", "1h", "binance"))
    assert set(payload["data"][0]) == set(ohlcv.BASE_COLUMNS) and payload["symbol"] == "BTCUSDT"
    upload = ohlcv.to_lona_upload_csv(frame).decode().splitlines()
    assert upload[1].startswith("2024-01-01 00:00:00,")


def test_infer_interval():
    assert ohlcv.infer_interval(candles()["timestamp"].to_numpy()) == "1h"


def test_the_candle_cap_counts_stored_candles_not_grid_slots():
    # 5,000 hourly FX candles on weekdays only span ~7,000 grid hours: still shown at 1h.
    hours = pd.date_range("2020-01-06", periods=9000, freq="h", tz="UTC")
    weekdays = hours[hours.day_of_week < 5][:5000]
    frame = candles(5000).assign(timestamp=weekdays.as_unit("ms").asi8.astype("int64"))
    shown, interval = ohlcv.for_display(frame, "1h", None, max_candles=5000)
    assert interval == "1h" and len(shown) == 5000
