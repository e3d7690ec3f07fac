"""Data quality on the market's trading calendar: exchange holidays and closures are not missing candles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.market_data.datasets import DatasetRef
from services.market_data.market_hours import trading_calendar
from services.market_data.quality import assess
from services.market_data.seed import seed

DAY = 86_400_000


def _ms(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def test_aapl_2012_has_no_missing_candles_on_holidays_or_the_sandy_closure(runtime):
    seed(runtime.datasets)
    ref = DatasetRef.parse("sample/AAPL/1d")
    frame = runtime.datasets.read(ref, _ms("2012-01-01"), _ms("2012-12-31"))
    report = assess(frame, runtime.datasets.manifest(ref), "1d", calendar=trading_calendar(ref))
    assert report.candles == 250 and report.missing == 0 and report.completeness == 1.0
    assert "XNYS" in report.closed_slots_note


def test_a_session_without_a_candle_is_missing_on_the_calendar(runtime):
    seed(runtime.datasets)
    ref = DatasetRef.parse("sample/AAPL/1d")
    frame = runtime.datasets.read(ref, _ms("2012-01-01"), _ms("2012-12-31"))
    dropped = frame[frame["timestamp"] != _ms("2012-07-05")].reset_index(drop=True)
    report = assess(dropped, None, "1d", calendar=trading_calendar(ref))
    assert report.missing == 1 and report.gaps[0].start_ms == _ms("2012-07-05")


def test_crypto_and_fx_have_no_exchange_calendar():
    assert trading_calendar(DatasetRef.parse("binance/BTCUSDT/1h")) is None
    assert trading_calendar(DatasetRef.parse("sample/EURUSD/1h")) is None
    assert trading_calendar(DatasetRef.parse("sample/BTCUSD/1M")) is None
    assert trading_calendar(DatasetRef.parse("alpaca/AAPL/1h")) is not None


def test_intraday_stock_candles_are_expected_only_in_sessions():
    calendar = trading_calendar(DatasetRef.parse("alpaca/AAPL/1h"))
    minutes = calendar.minutes_in_range(pd.Timestamp("2024-07-01 13:30", tz="UTC"),
                                        pd.Timestamp("2024-07-09 20:00", tz="UTC"))
    hours = np.unique(minutes.as_unit("ms").asi8 // 3_600_000 * 3_600_000)
    frame = pd.DataFrame({"timestamp": hours, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    report = assess(frame, None, "1h", calendar=calendar)
    assert report.missing == 0 and report.candles == len(hours)  # 4 July and the weekend expect nothing
