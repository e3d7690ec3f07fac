"""Real market data shipped inside installed packages (skfolio, bokeh-sampledata, backtesting), read offline."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pandas as pd

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _package_file(package: str, relative: str) -> Path:
    path = Path(str(importlib.resources.files(package) / relative))
    if not path.exists():
        raise FileNotFoundError(f"{relative} is not in the installed {package} package (pip install {package})")
    return path


def _epoch_ms(index: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    # pandas 3 parses at second resolution: convert the unit before taking integers
    values = pd.DatetimeIndex(index)
    return values.as_unit("ms").asi8.astype(np.int64)


def sp500_closes() -> pd.DataFrame:
    """Daily closes of 20 S&P 500 stocks, 1990-2022 (skfolio), indexed by date."""
    path = _package_file("skfolio", "datasets/data/sp500_dataset.csv.gz")
    return pd.read_csv(path, index_col=0, parse_dates=True).sort_index()


def _bokeh_table() -> pd.DataFrame:
    path = _package_file("bokeh_sampledata", "_data/stocks.csv.gz")
    return pd.read_csv(path, parse_dates=["Date"]).sort_values(["Ticker", "Date"])


def bokeh_ohlcv(tickers: tuple[str, ...] = ("AAPL", "IBM", "MSFT", "GOOG")) -> dict[str, pd.DataFrame]:
    """Daily OHLCV frames (timestamp ms, open, high, low, close, volume) of bokeh-sampledata's stocks, 2000-2013.

    Prices are as traded (not split-adjusted), as a venue's candles would be.
    """
    table = _bokeh_table()
    frames = {}
    for ticker in tickers:
        rows = table[table["Ticker"] == ticker]
        frames[ticker] = pd.DataFrame(
            {
                "timestamp": _epoch_ms(rows["Date"]),
                "open": rows["Open"].to_numpy(dtype=np.float64),
                "high": rows["High"].to_numpy(dtype=np.float64),
                "low": rows["Low"].to_numpy(dtype=np.float64),
                "close": rows["Close"].to_numpy(dtype=np.float64),
                "volume": rows["Volume"].to_numpy(dtype=np.float64),
            }
        )
    return frames


def bokeh_adjusted_closes(tickers: tuple[str, ...] = ("AAPL", "IBM", "MSFT", "GOOG")) -> pd.DataFrame:
    """Split- and dividend-adjusted daily closes of bokeh-sampledata's stocks on one calendar (NaN before listing)."""
    table = _bokeh_table()
    table = table[table["Ticker"].isin(tickers)]
    return table.pivot(index="Date", columns="Ticker", values="Adj Close")[list(tickers)].sort_index()


def backtesting_ohlcv(name: str) -> pd.DataFrame:
    """backtesting.py's test series (``GOOG`` daily 2004-2013, ``EURUSD`` hourly 2017-2018) as an OHLCV frame."""
    path = _package_file("backtesting", f"test/{name}.csv")
    raw = pd.read_csv(path, index_col=0, parse_dates=True).sort_index()
    return pd.DataFrame(
        {
            "timestamp": _epoch_ms(raw.index),
            "open": raw["Open"].to_numpy(dtype=np.float64),
            "high": raw["High"].to_numpy(dtype=np.float64),
            "low": raw["Low"].to_numpy(dtype=np.float64),
            "close": raw["Close"].to_numpy(dtype=np.float64),
            "volume": raw["Volume"].to_numpy(dtype=np.float64),
        }
    )


def closes_by_time(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """An OHLCV frame's closes as a one-column frame indexed by datetime, ready for log_returns."""
    index = pd.to_datetime(frame["timestamp"].to_numpy(), unit="ms")
    return pd.DataFrame({name: frame["close"].to_numpy()}, index=index)


def nyse_sessions(first_ms: int, last_ms: int) -> np.ndarray:
    """NYSE session dates (midnight UTC, Unix ms) between two timestamps, from exchange-calendars (offline)."""
    import exchange_calendars

    start, end = pd.Timestamp(first_ms, unit="ms"), pd.Timestamp(last_ms, unit="ms")
    calendar = exchange_calendars.get_calendar("XNYS", start=min(start, pd.Timestamp("1990-01-02")))
    return _epoch_ms(calendar.sessions_in_range(start, end))
