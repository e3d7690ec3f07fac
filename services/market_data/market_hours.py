"""Is a dataset's market open now: crypto venues always, Alpaca's US stocks by the NYSE calendar, else unknown."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import pandas as pd

from services.core import clock
from services.market_data.connectors import ccxt_exchange_ids
from services.market_data.datasets import DatasetRef

#: exchanges of datasets whose candles are history, not a market (sample data, uploads): no answer
_NO_MARKET = frozenset({"sample", "sample-close", "upload"})


#: the oldest session the calendars are built from (the sample stock data starts in 2000)
_CALENDAR_START = "1990-01-01"
#: sample datasets that are not US stocks (FX trades 24/5, crypto 24/7: their weekly slots say when)
_SAMPLE_NOT_STOCKS = frozenset({"EURUSD", "BTCUSD"})


@lru_cache(maxsize=4)
def _calendar(name: str):
    import exchange_calendars  # offline sessions and holidays; imported on first use (about a second)

    return exchange_calendars.get_calendar(name, start=_CALENDAR_START)


def _nyse():
    return _calendar("XNYS")


def trading_calendar(ref: DatasetRef):
    """The exchange calendar (``exchange_calendars``) of the market ``ref`` trades on, or None when it trades
    around the clock or is not known: Alpaca's stocks and the sample US stocks trade on the NYSE's."""
    if ref.exchange == "alpaca":
        return _nyse()
    if ref.exchange in ("sample", "sample-close") and ref.symbol not in _SAMPLE_NOT_STOCKS:
        return _nyse()
    return None


def market_open(exchange: str, at: datetime | None = None) -> bool | None:
    """True/False when the market of ``exchange`` is known to be open/closed at ``at`` (default now); None when
    unknown (history datasets, or a time outside the calendar's range)."""
    if exchange in _NO_MARKET:
        return None
    if exchange == "alpaca":
        try:
            return bool(_nyse().is_open_on_minute(pd.Timestamp(at or clock.now())))
        except ValueError:
            return None  # outside the calendar's bounds
    if exchange == "alpaca-crypto" or exchange in ccxt_exchange_ids():
        return True  # crypto venues trade around the clock
    return None


def open_by_symbol(refs: dict[str, str], at: datetime | None = None) -> dict[str, bool | None]:
    """Symbol → market open, for the datasets (``exchange/SYMBOL/interval``) orders are priced from."""
    return {symbol: market_open(ref.split("/", 1)[0], at) if ref else None for symbol, ref in refs.items()}
