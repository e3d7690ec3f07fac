"""Candles from Alpaca's market data API (stocks and crypto) through alpaca-py, paged by next_page_token."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient
from alpaca.data.requests import BaseBarsRequest, CryptoBarsRequest, StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetStatus
from alpaca.trading.requests import GetAssetsRequest

from services.core import clock
from services.core.errors import BadInput
from services.core.http_retry import DEFAULT_POLICY, RETRYABLE_STATUS, RetryPolicy, Transient, call_with_retry
from services.market_data import ohlcv
from services.market_data.connectors.base import (
    MARKETS,
    CandleSource,
    MalformedAnswer,
    MissingCredentials,
    contract_frame,
    iso,
    market_id,
)

MAX_PAGE_SIZE = 10_000
REQUESTS_PER_MINUTE = 200  # Alpaca's free plan
TIMEFRAMES = {
    "1m": TimeFrame(1, TimeFrameUnit.Minute),
    "5m": TimeFrame(5, TimeFrameUnit.Minute),
    "15m": TimeFrame(15, TimeFrameUnit.Minute),
    "30m": TimeFrame(30, TimeFrameUnit.Minute),
    "1h": TimeFrame(1, TimeFrameUnit.Hour),
    "1d": TimeFrame(1, TimeFrameUnit.Day),
    "1w": TimeFrame(1, TimeFrameUnit.Week),
    "1M": TimeFrame(1, TimeFrameUnit.Month),
}  # no 4h: Alpaca aligns 4-hour bars to New York midnight, off the UTC grid datasets use
_CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout (alpaca-py sends none, so a stalled server would hang)."""

    def __init__(self, timeout_s: float):
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, **kwargs)


class Throttle:
    """Spaces calls at least ``60 / per_minute`` seconds apart (Alpaca: 200 requests a minute)."""

    def __init__(self, per_minute: float | None, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic):
        self.gap_s = 60.0 / per_minute if per_minute else 0.0
        self.sleep, self.monotonic = sleep, monotonic
        self._next = 0.0

    def wait(self) -> None:
        """Sleep until the next call is allowed."""
        if not self.gap_s:
            return
        now = self.monotonic()
        if now < self._next:
            self.sleep(self._next - now)
        self._next = max(now, self._next) + self.gap_s


class AlpacaBars(CandleSource):
    """What Alpaca's stock and crypto bars share: credentials, clients, paging, error mapping."""

    asset_class: AssetClass
    path: str = ""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        data_url: str | None = None,
        trading_url: str | None = None,
        timeout_s: float = 10.0,
        requests_per_minute: float | None = REQUESTS_PER_MINUTE,
        page_size: int = MAX_PAGE_SIZE,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(policy, sleep)
        self.api_key, self.api_secret = api_key, api_secret
        self.data_url, self.trading_url = data_url, trading_url
        self.timeout_s = timeout_s
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.throttle = Throttle(requests_per_minute, sleep)

    # --- shared plumbing --------------------------------------------------------------------------
    def _missing_keys(self) -> list[str]:
        return [name for name, value in (("ALPACA_API_KEY", self.api_key), ("ALPACA_API_SECRET", self.api_secret))
                if not value]

    def _tuned(self, client: RESTClient) -> RESTClient:
        return tuned(client, self.timeout_s)

    def _call(self, call: Callable, what: str):
        return call_alpaca(call, what, self.throttle, self.policy, self.sleep)

    def _asset_symbols(self) -> list[str]:
        trading = self._tuned(TradingClient(self.api_key, self.api_secret, paper=True, url_override=self.trading_url))
        query = GetAssetsRequest(status=AssetStatus.ACTIVE, asset_class=self.asset_class)
        assets = self._call(lambda: trading.get_all_assets(query), f"{self.asset_class.value} assets")
        return sorted(a.symbol for a in assets)

    def markets(self) -> list[str]:
        """Active assets of this class from Alpaca's asset list (cached for an hour)."""
        missing = self._missing_keys()
        if missing:
            raise MissingCredentials(f"listing {self.label} markets needs {' and '.join(missing)}; set them")
        return MARKETS.get(("alpaca", self.asset_class.value, self.trading_url), self._asset_symbols)

    def intervals(self) -> list[str]:
        """Alpaca's bar timeframes that sit on the datasets' UTC grid."""
        return list(TIMEFRAMES)

    def dataset_symbol(self, symbol: str) -> str:
        """The symbol without separators (``BTC/USD`` → ``BTCUSD``)."""
        return market_id(symbol)

    @abstractmethod
    def _client(self) -> RESTClient:
        """The alpaca-py data client, tuned."""

    @abstractmethod
    def _request(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> BaseBarsRequest:
        """The alpaca-py request model of one range (its fields become the query string)."""

    def _pages(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        client = self._client()
        params = self._request(symbol, interval, start_ms, end_ms).to_request_fields()
        token = None
        while True:
            if token:
                params["page_token"] = token
            what = f"bars {symbol} {interval} from {iso(start_ms)}" + (" (next page)" if token else "")
            body = self._call(lambda p=dict(params): json_object(client.get(self.path, p)), what)
            bars = (body.get("bars") or {}).get(symbol) or []
            if bars:
                yield _bars_frame(bars, interval)
            token = body.get("next_page_token")
            if not token:
                return


class AlpacaStocks(AlpacaBars):
    """US stock bars (``/v2/stocks/bars``); feed ``iex`` by default, adjustment configurable."""

    name = exchange_id = "alpaca"
    label = "Alpaca stocks"
    asset_class = AssetClass.US_EQUITY
    path = "/stocks/bars"

    def __init__(self, *, feed: str = "iex", adjustment: str = "all", **kwargs):
        super().__init__(**kwargs)
        self.feed = DataFeed(feed)
        self.adjustment = Adjustment(adjustment)

    def credentials_missing(self) -> str | None:
        """Stock bars need both keys."""
        missing = self._missing_keys()
        if not missing:
            return None
        return (f"Alpaca stock data needs {' and '.join(missing)} (free paper-trading keys work); "
                "set them and try again")

    def resolve(self, symbol: str) -> str:
        """The ticker as Alpaca lists it (``AAPL``, ``BRK.B``)."""
        wanted = symbol.strip().upper()
        if wanted not in set(self.markets()):
            raise self.unknown_symbol(symbol)
        return wanted

    def _client(self) -> RESTClient:
        self.require_credentials()
        return self._tuned(StockHistoricalDataClient(self.api_key, self.api_secret, url_override=self.data_url))

    def _request(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> BaseBarsRequest:
        return StockBarsRequest(symbol_or_symbols=symbol, timeframe=TIMEFRAMES[interval], start=clock.from_ms(start_ms),
                                end=_inclusive_end(end_ms), limit=self.page_size, feed=self.feed,
                                adjustment=self.adjustment)


class AlpacaCrypto(AlpacaBars):
    """Crypto bars (``/v1beta3/crypto/us/bars``); candles need no keys, the pair list does."""

    name = exchange_id = "alpaca-crypto"
    label = "Alpaca crypto"
    asset_class = AssetClass.CRYPTO
    path = "/crypto/us/bars"

    def resolve(self, symbol: str) -> str:
        """``BTC/USD`` for ``BTC/USD`` or ``BTCUSD``; checked against the pair list when keys are set."""
        text = symbol.strip().upper()
        if "/" not in text:
            quote = next((q for q in _CRYPTO_QUOTES if text.endswith(q) and len(text) > len(q)), None)
            if quote is None:
                raise BadInput(f"write the Alpaca crypto pair as BASE/QUOTE (BTC/USD), not '{symbol}'")
            text = f"{text[: -len(quote)]}/{quote}"
        if not self._missing_keys() and market_id(text) not in {market_id(m) for m in self.markets()}:
            raise self.unknown_symbol(symbol)  # the asset list writes pairs as BTC/USD or, formerly, BTCUSD
        return text

    def _client(self) -> RESTClient:
        return self._tuned(CryptoHistoricalDataClient(self.api_key, self.api_secret, url_override=self.data_url))

    def _request(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> BaseBarsRequest:
        return CryptoBarsRequest(symbol_or_symbols=symbol, timeframe=TIMEFRAMES[interval],
                                 start=clock.from_ms(start_ms), end=_inclusive_end(end_ms), limit=self.page_size)


def _inclusive_end(end_ms: int) -> datetime:
    return clock.from_ms(end_ms - 1)  # Alpaca's `end` is inclusive; ours is exclusive


def tuned(client: RESTClient, timeout_s: float) -> RESTClient:
    """``client`` (any alpaca-py REST client) with our retries instead of its own and a per-request timeout."""
    client._retry = 0  # retries follow our policy (Retry-After, bounded), not alpaca-py's fixed 3 s sleeps
    client._session = _TimeoutSession(timeout_s)
    return client


def call_alpaca(call: Callable, what: str, throttle: Throttle, policy: RetryPolicy, sleep: Callable[[float], None]):
    """``call()`` once ``throttle`` allows, retried on 429, 5xx and timeouts by ``policy``; Alpaca's refusals
    become BadInput naming ``what`` (and the keys, for 401/403)."""
    def throttled():
        throttle.wait()
        return call()

    try:
        return call_with_retry(throttled, _transient, service=f"Alpaca ({what})", policy=policy, sleep=sleep)
    except APIError as error:
        status = error.status_code
        if status in (401, 403):
            raise BadInput(f"Alpaca refused ALPACA_API_KEY / ALPACA_API_SECRET (HTTP {status}); check them") \
                from None
        raise BadInput(f"Alpaca refused the request for {what} (HTTP {status}: {_message(error)})") from None


def json_object(body) -> dict:
    """``body`` if it is a JSON object; MalformedAnswer (retried like a transient failure) otherwise."""
    if not isinstance(body, dict):
        raise MalformedAnswer()
    return body



def _transient(error: Exception) -> Transient | None:
    if isinstance(error, APIError) and error.status_code in RETRYABLE_STATUS:
        headers = error.response.headers if error.response is not None else {}
        wait = headers.get("Retry-After") or _seconds_until(headers.get("X-RateLimit-Reset"))
        return Transient(f"answered HTTP {error.status_code}", wait)
    if isinstance(error, requests.Timeout):
        return Transient("timed out")
    if isinstance(error, requests.ConnectionError):
        return Transient(f"could not connect ({type(error).__name__})")
    if isinstance(error, ValueError | MalformedAnswer):  # requests' JSONDecodeError is a ValueError
        return Transient("sent a malformed (unparseable JSON) response")
    return None


def _seconds_until(reset: str | None) -> str | None:
    """Alpaca's ``X-RateLimit-Reset`` (Unix seconds when the window reopens) as a Retry-After value."""
    try:
        return f"{max(float(reset) - clock.now_ms() / 1000, 0.0):.3f}" if reset else None
    except ValueError:
        return None


def _message(error: APIError) -> str:
    try:
        return str(error.message)
    except (ValueError, KeyError, TypeError):
        return " ".join(str(error).split())[:160]


def _bars_frame(bars: list[dict], interval: str) -> pd.DataFrame:
    stamps = pd.to_datetime([b.get("t") for b in bars], utc=True, format="ISO8601")
    columns = {
        "timestamp": stamps.as_unit("ms").asi8,
        "open": [b.get("o") for b in bars],
        "high": [b.get("h") for b in bars],
        "low": [b.get("l") for b in bars],
        "close": [b.get("c") for b in bars],
        "volume": [b.get("v") for b in bars],
    }
    if any("vw" in b for b in bars):
        columns["vwap"] = [b.get("vw") for b in bars]
    if any("n" in b for b in bars):
        columns["trades"] = [b.get("n") for b in bars]
    return contract_frame(columns, interval, snap_to_grid=not ohlcv.is_intraday(interval))
