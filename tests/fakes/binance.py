"""Fake Binance spot REST API: ``/api/v3/exchangeInfo`` and ``/api/v3/klines`` in Binance's wire format.

Klines are arrays ``[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
"takerBuyBase", "takerBuyQuote", "0"]``; ``startTime``/``endTime`` select by open time (both inclusive),
``limit`` defaults to 500 and is capped at 1000; without ``startTime`` the newest candles are returned.
The last candle (the one opening at or before ``now_ms``) is still open: its close time is in the future.
Errors use Binance's body ``{"code": -1121, "msg": "Invalid symbol."}``. Faults can be queued per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tests.fakes.candles import synthetic
from tests.fakes.server import FakeServer, Request, Response

MINUTE = 60_000
STEP_MS = {"1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
           "1h": 60 * MINUTE, "2h": 120 * MINUTE, "4h": 240 * MINUTE, "6h": 360 * MINUTE, "8h": 480 * MINUTE,
           "12h": 720 * MINUTE, "1d": 1440 * MINUTE, "3d": 3 * 1440 * MINUTE, "1w": 7 * 1440 * MINUTE}
WEEK_ORIGIN_MS = 4 * 1440 * MINUTE  # Binance weeks open on Monday 00:00 UTC
MAX_LIMIT = 1000


@dataclass
class Listing:
    """A spot market the fake lists: base/quote assets and the first candle it has."""

    base: str
    quote: str
    listed_ms: int = 0


@dataclass
class FakeBinance(FakeServer):
    """The fake; ``now_ms`` is its clock. Failures: ``rate_limit_next``, ``server_error_next``,
    ``malformed_next`` here, ``slow_next`` and ``drop_next`` of FakeServer; ``bad_candle_at`` serves one
    candle with high < low."""

    now_ms: int = 1_735_689_600_000  # 2025-01-01T00:00Z
    listings: dict[str, Listing] = field(default_factory=lambda: {
        "BTCUSDT": Listing("BTC", "USDT"), "ETHUSDT": Listing("ETH", "USDT"), "ETHBTC": Listing("ETH", "BTC"),
    })
    bad_candle_at: int | None = None
    on_klines: Callable[[], None] | None = None  # called before each klines answer (tests act mid-run)
    # pages rendered once and served again from memory: a remote exchange's CPU is not the client's, and
    # benchmarks run this fake on the same cores as the code they measure
    render_once: bool = True
    _rendered: dict[tuple, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        super().__init__()
        self.route("GET", "/api/v3/exchangeInfo")(self._exchange_info)
        self.route("GET", "/api/v3/klines")(self._klines)

    @property
    def api_url(self) -> str:
        """What BINANCE_API_URL should be set to."""
        return self.url

    def klines_calls(self) -> list[Request]:
        """Recorded klines requests."""
        return self.calls("GET", "/api/v3/klines")

    def rate_limit_next(self, retry_after: str = "1") -> None:
        """The next request gets Binance's 429 (code -1003) with a Retry-After header."""
        body = {"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE. "
                                      "Please use WebSocket Streams for live updates."}
        self.fail_next(1, 429, body, headers={"Retry-After": retry_after})

    def server_error_next(self, count: int = 1) -> None:
        """The next ``count`` requests get Binance's 500 (code -1000)."""
        self.fail_next(count, 500, {"code": -1000, "msg": "An unknown error occurred while processing the request."})

    def malformed_next(self) -> None:
        """The next request gets a 200 whose JSON body is cut short."""
        self.fail_next(1, 200, '[[1704067200000,"42283.58000000","42', headers={"Content-Type": "application/json"})

    # --- routes -----------------------------------------------------------------------------------
    def _exchange_info(self, request: Request) -> Response:
        symbols = [_symbol_info(name, listing) for name, listing in self.listings.items()]
        return Response(200, {
            "timezone": "UTC",
            "serverTime": self.now_ms,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": symbols,
        })

    def _klines(self, request: Request) -> Response:
        if self.on_klines is not None:
            self.on_klines()
        q = request.query
        symbol = q.get("symbol", "")
        if symbol not in self.listings:
            return _error(400, -1121, "Invalid symbol.")
        interval = q.get("interval", "")
        if interval not in STEP_MS and interval != "1M":
            return _error(400, -1120, "Invalid interval.")
        try:
            limit = min(int(q.get("limit", 500)), MAX_LIMIT)
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
        except ValueError:
            return _error(400, -1100, "Illegal characters found in a parameter.")
        if limit < 1:
            return _error(400, -1100, "Illegal characters found in parameter 'limit'.")
        opens = self._open_times(interval, self.listings[symbol].listed_ms, start, end, limit)
        body = self._encode(interval, opens)
        return Response(200, body, {"Content-Type": "application/json;charset=UTF-8", "X-MBX-USED-WEIGHT-1M": "2"})

    # --- behaviour --------------------------------------------------------------------------------
    def _open_times(self, interval: str, listed: int, start: int | None, end: int | None, limit: int) -> np.ndarray:
        last_open = int(floor_open(np.array([self.now_ms]), interval)[0])
        hi = last_open if end is None else min(end, last_open)
        lo = max(start if start is not None else listed, listed)
        if hi < lo:
            return np.empty(0, dtype=np.int64)
        if interval == "1M":
            months = np.arange(_month(lo, up=True), _month(hi) + 1, dtype="datetime64[M]")
            opens = months.astype("datetime64[ms]").astype(np.int64)
            return opens[:limit] if start is not None else opens[-limit:]
        step = STEP_MS[interval]
        first = int(floor_open(np.array([lo]), interval)[0])
        first += step if first < lo else 0
        last = int(floor_open(np.array([hi]), interval)[0])
        if start is None:
            first = max(first, last - (limit - 1) * step)
        count = max(min((last - first) // step + 1, limit), 0)
        return first + step * np.arange(count, dtype=np.int64)

    def _encode(self, interval: str, opens: np.ndarray) -> bytes:
        if not opens.size:
            return b"[]"
        if not self.render_once:
            return self._render(interval, opens)
        key = (interval, int(opens[0]), len(opens), self.bad_candle_at)
        if key not in self._rendered:
            if len(self._rendered) >= 4096:
                self._rendered.clear()
            self._rendered[key] = self._render(interval, opens)
        return self._rendered[key]

    def _render(self, interval: str, opens: np.ndarray) -> bytes:
        values = synthetic(opens)
        closes = _close_times(interval, opens)
        rows = []
        for i, t in enumerate(opens.tolist()):
            o, h, low, c, v = (values[k][i] for k in ("open", "high", "low", "close", "volume"))
            if t == self.bad_candle_at:
                h, low = low, h
            rows.append(
                f'[{t},"{o:.8f}","{h:.8f}","{low:.8f}","{c:.8f}","{v:.8f}",{closes[i]},'
                f'"{v * c:.8f}",{values["trades"][i]},"{v / 2:.8f}","{v * c / 2:.8f}","0"]'
            )
        return ("[" + ",".join(rows) + "]").encode()


def floor_open(ts: np.ndarray, interval: str) -> np.ndarray:
    """Open time of the candle each timestamp falls in, on Binance's grid."""
    ts = np.asarray(ts, dtype=np.int64)
    if interval == "1M":
        return ts.astype("datetime64[ms]").astype("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
    step = STEP_MS[interval]
    origin = WEEK_ORIGIN_MS if interval == "1w" else 0
    return ts - (ts - origin) % step


def _month(ms: int, up: bool = False) -> np.datetime64:
    month = np.datetime64(ms, "ms").astype("datetime64[M]")
    if up and month.astype("datetime64[ms]").astype(np.int64) < ms:
        month += 1
    return month


def _close_times(interval: str, opens: np.ndarray) -> list[int]:
    if interval == "1M":
        nxt = (opens.astype("datetime64[ms]").astype("datetime64[M]") + 1).astype("datetime64[ms]").astype(np.int64)
        return (nxt - 1).tolist()
    return (opens + STEP_MS[interval] - 1).tolist()


def _symbol_info(name: str, listing: Listing) -> dict:
    return {
        "symbol": name, "status": "TRADING", "baseAsset": listing.base, "baseAssetPrecision": 8,
        "quoteAsset": listing.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
             "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def _error(status: int, code: int, msg: str) -> Response:
    return Response(status, {"code": code, "msg": msg})
