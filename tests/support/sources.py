"""The candle sources as the source contract drives them: ccxt's Binance and alpaca-py's stock and crypto bars,
the real clients against the fakes in tests/fakes, each with a symbol, a range and error pages in its own format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.core.http_retry import RetryPolicy
from services.market_data.connectors.base import CandleSource
from tests.fakes.alpaca_data import FakeAlpacaData
from tests.fakes.binance import FakeBinance
from tests.fakes.server import Request

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
#: the fakes' clock, 2025-01-01T00:00Z
NOW = 1_735_689_600_000
JSON = {"Content-Type": "application/json"}
#: retries that take milliseconds (the sleeps are recorded, not slept)
FAST = RetryPolicy(attempts=3, base_delay_s=0.001)


@dataclass
class SourceCase:
    """One source under the contract: a market it lists (both spellings), a range with candles in it, and the
    fake server behind it with that service's error bodies."""

    source: CandleSource
    symbol: str
    dataset_symbol: str
    #: a well-formed symbol the source does not list
    unknown: str
    interval: str
    start_ms: int
    fake: FakeBinance | FakeAlpacaData
    #: the candle requests the fake has seen
    candle_calls: Callable[[], list[Request]]
    server_error: object
    rate_limited: object
    #: a 200 whose JSON is cut short
    garbage: str
    end_ms: int = NOW


ALPACA_ERROR = {"code": 50010000, "message": "internal server error"}
ALPACA_429 = {"message": "too many requests."}
#: per source name: what the case trades and the error bodies of the service behind it
SOURCES: dict[str, dict] = {
    "binance": dict(symbol="BTC/USDT", dataset_symbol="BTCUSDT", unknown="DOGE/EUR", interval="1m",
                    start_ms=NOW - 10 * MINUTE,
                    server_error={"code": -1000, "msg": "An unknown error occurred while processing the request."},
                    rate_limited={"code": -1003, "msg": "Too many requests."},
                    garbage='[[1704067200000,"42283.58000000","42'),
    "alpaca": dict(symbol="AAPL", dataset_symbol="AAPL", unknown="ZZZZ", interval="1h", start_ms=NOW - 3 * DAY,
                   server_error=ALPACA_ERROR, rate_limited=ALPACA_429, garbage='{"bars": {"AAPL": [{"t": "2024-'),
    "alpaca-crypto": dict(symbol="BTC/USD", dataset_symbol="BTCUSD", unknown="DOGE/USD", interval="1h",
                          start_ms=NOW - DAY, server_error=ALPACA_ERROR, rate_limited=ALPACA_429,
                          garbage='{"bars": {"BTC/USD": [{"t": "2024-'),
}


def source_case(name: str, source: CandleSource, fake: FakeBinance | FakeAlpacaData) -> SourceCase:
    """The case of source ``name`` opened as ``source`` on ``fake``, its market list already loaded (so faults
    injected next hit candle requests)."""
    source.markets()
    calls = fake.klines_calls if isinstance(fake, FakeBinance) else fake.bar_calls
    return SourceCase(source=source, fake=fake, candle_calls=calls, **SOURCES[name])
