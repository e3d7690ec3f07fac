"""Candles from Binance or any exchange ccxt knows, through the real ccxt client (since/limit paging)."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator

import ccxt
import numpy as np
import pandas as pd

from services.core.errors import BadInput, NexusError
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy, Transient, call_with_retry
from services.market_data import ohlcv
from services.market_data.connectors.base import MARKETS, CandleSource, MalformedAnswer, contract_frame, iso, market_id

DEFAULT_PAGE_LIMIT = 500


BATCH_ROWS = 10_000
BATCH_S = 0.5


class CcxtSource(CandleSource):
    """One ccxt exchange. ``api_url`` replaces the public REST base (Binance: ``BINANCE_API_URL``)."""

    def __init__(
        self,
        exchange_id: str,
        *,
        api_url: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        timeout_s: float = 10.0,
        rate_limit: bool = True,
        page_limit: int | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(policy, sleep)
        if exchange_id not in ccxt.exchanges:
            raise BadInput(
                f"unknown source '{exchange_id}': use alpaca, alpaca-crypto, binance or a ccxt exchange id "
                "(kraken, coinbase, okx, …)"
            )
        self.name = self.exchange_id = exchange_id
        config: dict = {"enableRateLimit": rate_limit, "timeout": int(timeout_s * 1000),
                        "enableLastJsonResponse": True}
        if api_key and api_secret:
            config.update(apiKey=api_key, secret=api_secret)
        self.exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(config)
        self.label = f"{self.exchange.name} (ccxt)" if exchange_id != "binance" else "Binance"
        if exchange_id == "binance":
            # spot only, and no private currency call: public candles need neither futures nor keys
            self.exchange.options["fetchMarkets"] = {"types": ["spot"]}
            self.exchange.options["fetchCurrencies"] = False
        self.api_url = api_url
        if api_url:
            base = api_url.rstrip("/")
            self.exchange.urls["api"]["public"] = base if base.endswith("/api/v3") else f"{base}/api/v3"
        self.page_limit = page_limit or _feature_limit(self.exchange)

    # --- markets ----------------------------------------------------------------------------------
    def _load_markets(self) -> dict:
        key = ("ccxt", self.exchange_id, self.api_url)
        markets = MARKETS.get(key, lambda: self._call(lambda: self._parsed(self.exchange.load_markets()), "markets"))
        if self.exchange.markets is None:
            self.exchange.set_markets(markets)
        return markets

    def markets(self) -> list[str]:
        """Unified symbols of the exchange's active markets (spot only for Binance)."""
        return sorted(s for s, m in self._load_markets().items() if m.get("active") is not False)

    def intervals(self) -> list[str]:
        """Our intervals the exchange has candles for."""
        return [i for i in ohlcv.INTERVALS if i in (self.exchange.timeframes or {})]

    def resolve(self, symbol: str) -> str:
        """Unified ccxt symbol for ``BTC/USDT``, ``BTCUSDT`` or the exchange's own id."""
        markets = self._load_markets()
        if symbol in markets:
            return symbol
        wanted = market_id(symbol)
        matches = [s for s, m in markets.items() if market_id(m["id"]) == wanted or market_id(s) == wanted]
        spot = [s for s in matches if markets[s].get("spot")]
        if not (spot or matches):
            raise self.unknown_symbol(symbol)
        return (spot or matches)[0]

    def dataset_symbol(self, symbol: str) -> str:
        """The exchange's market id without separators (Binance: ``BTCUSDT``)."""
        return market_id(self._load_markets()[symbol]["id"])

    # --- candles ----------------------------------------------------------------------------------
    def _pages(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> Iterator[pd.DataFrame]:
        """The exchange's pages, several at a time as one frame (at most BATCH_ROWS candles or BATCH_S seconds
        of paging), so per-frame costs are paid once per batch rather than once per request."""
        self._load_markets()
        step = ohlcv.approx_interval_ms(interval)
        since, batch, batch_started = start_ms, [], time.monotonic()
        while since < end_ms:
            limit = max(1, min(self.page_limit, math.ceil((end_ms - since) / step)))
            what = f"candles {symbol} {interval} from {iso(since)}"
            try:
                rows = self._call(lambda s=since, n=limit: self._fetch_page(symbol, interval, s, n), what)
            except NexusError:
                if batch:  # what was fetched before the failure is kept
                    yield contract_frame(_columns(batch), interval)
                raise
            if not rows:
                break
            batch.append(_values(rows))  # numbers now: holding ccxt's lists would slow its own parsing (GC)
            if sum(len(v) for v in batch) >= BATCH_ROWS or time.monotonic() - batch_started >= BATCH_S:
                yield contract_frame(_columns(batch), interval)
                batch, batch_started = [], time.monotonic()
            last = int(rows[-1][0])
            if last < since:
                break  # the exchange ignores `since`; nothing more to page through
            since = ohlcv.next_interval_start(last, interval)
        if batch:
            yield contract_frame(_columns(batch), interval)

    def _fetch_page(self, symbol: str, interval: str, since: int, limit: int) -> list:
        return self._parsed(self.exchange.fetch_ohlcv(symbol, interval, since=since, limit=limit))

    def _parsed(self, result):
        """``result`` unless the answer behind it was not JSON: ccxt turns such a body into [], {} or junk."""
        if self.exchange.last_json_response is None:
            raise MalformedAnswer()
        return result

    def _call(self, call: Callable, what: str):
        try:
            return call_with_retry(call, self._transient, service=f"{self.name} ({what})",
                                   policy=self.policy, sleep=self.sleep)
        except ccxt.BadSymbol:
            raise BadInput(f"{self.name} answered 'invalid symbol' for {what}; pick a symbol from its markets") \
                from None
        except ccxt.AuthenticationError:
            raise BadInput(f"{self.name} refused the keys in CCXT_API_KEY / CCXT_API_SECRET; check them") from None
        except ccxt.BaseError as error:
            raise BadInput(f"{self.name} refused the request for {what}: {_short(error)}") from None

    def _transient(self, error: Exception) -> Transient | None:
        if isinstance(error, MalformedAnswer):
            return Transient("sent a malformed (unparseable JSON) response")
        if isinstance(error, ccxt.RequestTimeout):
            return Transient("timed out")
        if isinstance(error, ccxt.DDoSProtection):
            headers = self.exchange.last_response_headers or {}
            return Transient("answered HTTP 429 (rate limited)", headers.get("Retry-After"))
        if isinstance(error, ccxt.OperationFailed):  # ccxt's base of server-side, retryable failures
            return Transient(f"failed ({type(error).__name__}: {_short(error)})")
        return None



def _values(rows: list) -> np.ndarray:
    """ccxt's ``[timestamp, open, high, low, close, volume]`` rows as an (n, 6) array (None becomes NaN)."""
    if any(len(row) != 6 for row in rows):  # some exchanges append extra fields
        rows = [row[:6] for row in rows]
    return np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=6 * len(rows)).reshape(-1, 6)


def _columns(batch: list[np.ndarray]) -> dict:
    """Pages of ``_values`` as contract columns."""
    values = np.concatenate(batch) if len(batch) > 1 else batch[0]
    columns = dict(zip(ohlcv.BASE_COLUMNS, values.T, strict=True))
    columns["timestamp"] = columns["timestamp"].astype(np.int64)
    return columns


def _feature_limit(exchange: ccxt.Exchange) -> int:
    features = (exchange.features or {}).get("spot") or {}
    return int((features.get("fetchOHLCV") or {}).get("limit") or DEFAULT_PAGE_LIMIT)


def _short(error: Exception, width: int = 160) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= width else text[: width - 1] + "…"
