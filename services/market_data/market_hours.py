"""Is a dataset's market open now: crypto venues always, Alpaca's US stocks by the NYSE calendar, else unknown."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import pandas as pd

from services.core import clock
from services.market_data.connectors import ccxt_exchange_ids

#: exchanges of datasets whose candles are history, not a market (sample data, uploads): no answer
_NO_MARKET = frozenset({"sample", "sample-close", "upload"})


@lru_cache(maxsize=1)
def _nyse():
    import exchange_calendars  # offline sessions and holidays; imported on first use (about a second)

    return exchange_calendars.get_calendar("XNYS")


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
