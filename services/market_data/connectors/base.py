"""The CandleSource interface every market-data connector implements, and what they share."""

from __future__ import annotations

import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from services.core import clock
from services.core.errors import BadInput, ConfigError, ServiceUnavailable
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy
from services.market_data import ohlcv

MARKETS_TTL_S = 3600.0
MARKETS_FAILURE_TTL_S = 60.0
_NOT_IN_MARKET_ID = re.compile(r"[^A-Z0-9.]")


class MissingCredentials(ConfigError):
    """A source needs credentials that are not configured; the message names the variables."""


class MalformedAnswer(Exception):
    """A source answered 200 with a body that is not the JSON it documents (retried like a 5xx)."""


def market_id(text: str) -> str:
    """A venue's market id as datasets name it: upper case, separators removed (BTC/USDT → BTCUSDT)."""
    return _NOT_IN_MARKET_ID.sub("", text.upper())


def iso(ms: int) -> str:
    """Unix ms as a short ISO-8601 UTC text for messages."""
    return clock.from_ms(int(ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


class CandleSource(ABC):
    """A provider of historical candles: its markets, its intervals, and paged fetches of a range.

    ``fetch`` yields contract frames (``timestamp`` int64 ms open time, ``open high low close volume``
    float64, plus ``vwap``/``trades`` when the source gives them) in ascending order, covering open times
    in ``[start_ms, end_ms)``. Transient failures (429, 5xx, timeouts) are retried under ``policy``;
    then ServiceUnavailable says which request failed. Unknown symbols and intervals raise BadInput.
    """

    #: the name an operator gives (``binance``, ``alpaca``, ``alpaca-crypto``, any ccxt id)
    name: str = ""
    #: the exchange id its datasets are stored under
    exchange_id: str = ""
    #: what the panel shows
    label: str = ""

    def __init__(self, policy: RetryPolicy = DEFAULT_POLICY, sleep: Callable[[float], None] = time.sleep):
        self.policy = policy
        self.sleep = sleep

    @abstractmethod
    def markets(self) -> list[str]:
        """Every symbol the source offers, as the source writes it (``BTC/USDT``, ``AAPL``), sorted."""

    @abstractmethod
    def intervals(self) -> list[str]:
        """The dataset intervals (``1m`` … ``1M``) this source can deliver."""

    @abstractmethod
    def resolve(self, symbol: str) -> str:
        """The source's own spelling of ``symbol`` (given either way: ``BTC/USDT`` or ``BTCUSDT``).

        Raises BadInput when the source has no such market.
        """

    @abstractmethod
    def dataset_symbol(self, symbol: str) -> str:
        """The dataset symbol of a resolved source symbol: the venue's market id without separators."""

    @abstractmethod
    def _pages(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        """Raw pages for a resolved symbol (may stray outside the range; ``fetch`` trims them)."""

    def credentials_missing(self) -> str | None:
        """A sentence naming the variables to set when this source cannot work without them, else None."""
        return None

    def fetch(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        """Pages of contract candles with open times in ``[start_ms, end_ms)``, oldest first."""
        self.require_credentials()
        self.check_interval(interval)
        source_symbol = self.resolve(symbol)
        if start_ms >= end_ms:
            return
        for page in self._pages(source_symbol, interval, int(start_ms), int(end_ms)):
            ts = page["timestamp"].to_numpy()
            keep = (ts >= start_ms) & (ts < end_ms)
            if keep.any():
                yield page if keep.all() else page[keep].reset_index(drop=True)

    def check_interval(self, interval: str) -> str:
        """Return ``interval`` when this source supports it, else raise BadInput listing what it does."""
        if interval not in self.intervals():
            raise BadInput(f"{self.name} has no '{interval}' candles (choose one of {' '.join(self.intervals())})")
        return interval

    def require_credentials(self) -> None:
        """Raise MissingCredentials with the sentence of ``credentials_missing`` when there is one."""
        missing = self.credentials_missing()
        if missing:
            raise MissingCredentials(missing)

    def unknown_symbol(self, symbol: str) -> BadInput:
        """The error for a symbol the source does not list."""
        return BadInput(f"{self.name} has no market '{symbol}' (pick one from the source's market list)")


def contract_frame(columns: dict[str, Any], interval: str, snap_to_grid: bool = False) -> pd.DataFrame:
    """A page as a contract frame: int64 ms timestamps, float64 values; optional vwap/trades kept.

    ``snap_to_grid`` floors open times to the interval's UTC grid, for providers that stamp daily and
    slower bars at the exchange's local midnight (Alpaca: 05:00Z for a New York session date).
    """
    ts = np.asarray(columns["timestamp"], dtype=np.int64)
    if snap_to_grid:
        ts = ohlcv.floor_to_interval(ts, interval)
    frame = {"timestamp": ts}
    for name in [*ohlcv.BASE_COLUMNS[1:], "vwap", "trades"]:
        if name in columns:
            frame[name] = np.asarray(columns[name], dtype=np.float64)
    return pd.DataFrame(frame)


class MarketCache:
    """Market lists kept for an hour per (source, base URL), shared by every source object in the process.

    A list that could not be loaded (the source is down, or there is no network) is remembered for a minute:
    every page rerun would otherwise retry it with backoff and block for seconds before failing the same way.
    """

    def __init__(self, ttl_s: float = MARKETS_TTL_S, failure_ttl_s: float = MARKETS_FAILURE_TTL_S):
        self.ttl_s = ttl_s
        self.failure_ttl_s = failure_ttl_s
        self._items: dict[tuple, tuple[float, Any]] = {}
        self._failures: dict[tuple, tuple[float, ServiceUnavailable]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], Any]) -> Any:
        """The cached value for ``key``, loading it (outside the lock) when absent or expired.

        Raises the remembered ServiceUnavailable while a recent load of ``key`` failed.
        """
        with self._lock:
            hit = self._items.get(key)
            if hit and time.monotonic() - hit[0] < self.ttl_s:
                return hit[1]
            failed = self._failures.get(key)
            if failed and time.monotonic() - failed[0] < self.failure_ttl_s:
                raise failed[1]
        try:
            value = load()
        except ServiceUnavailable as error:
            with self._lock:
                self._failures[key] = (time.monotonic(), error)
            raise
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._failures.pop(key, None)
        return value

    def clear(self) -> None:
        """Forget everything (tests, or an operator asking for a fresh list)."""
        with self._lock:
            self._items.clear()
            self._failures.clear()


MARKETS = MarketCache()
