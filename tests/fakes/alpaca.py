"""Fake Alpaca: market data bars (``/v2/stocks/bars``, ``/v1beta3/crypto/us/bars``) and ``/v2/assets``.

Bars follow Alpaca's JSON: ``{"bars": {"AAPL": [{"t": RFC3339, "o", "h", "l", "c", "v", "n", "vw"}]},
"next_page_token": str | null}``; ``limit`` (1–10000, default 1000) is the page size; ``start``/``end``
are inclusive RFC 3339 times. Stocks trade 14:30–21:00 UTC on weekdays (DST ignored); their daily,
weekly and monthly bars are stamped at 05:00Z (New York midnight), as Alpaca does. Stock data and the
asset list need the ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` headers; crypto bars do not.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from tests.fakes.candles import synthetic
from tests.fakes.server import FakeServer, Request, Response

MINUTE = 60_000
DAY = 1440 * MINUTE
TIMEFRAME_MS = {"1Min": MINUTE, "5Min": 5 * MINUTE, "15Min": 15 * MINUTE, "30Min": 30 * MINUTE,
                "1Hour": 60 * MINUTE, "1Day": DAY, "1Week": 7 * DAY}
NY_MIDNIGHT_MS = 5 * 60 * MINUTE
SESSION_MS = (14 * 60 + 30) * MINUTE, 21 * 60 * MINUTE
KEY, SECRET = "test-key-id", "test-secret-key"


@dataclass
class FakeAlpaca(FakeServer):
    """The fake; ``now_ms`` is its clock; ``faults`` (HTTP statuses, e.g. 429 or 500) hit the next bar requests.

    A 429 carries Alpaca's ``X-RateLimit-*`` headers (the reset ``reset_in_s`` seconds from now, wall clock).
    """

    now_ms: int = 1_735_689_600_000  # 2025-01-01T00:00Z
    stocks: list[str] = field(default_factory=lambda: ["AAPL", "BRK.B", "MSFT"])
    crypto: list[str] = field(default_factory=lambda: ["BTC/USD", "ETH/USD", "ETH/BTC"])
    faults: list[int] = field(default_factory=list)
    retry_after: str | None = None  # Alpaca sends X-RateLimit-Reset; a proxy may add Retry-After
    reset_in_s: int = 2
    malformed_next: bool = False

    def __post_init__(self) -> None:
        super().__init__()
        self.route("GET", "/v2/stocks/bars")(self._stock_bars)
        self.route("GET", "/v1beta3/crypto/us/bars")(self._crypto_bars)
        self.route("GET", "/v2/assets")(self._assets)

    def bar_calls(self) -> list[Request]:
        """Recorded bar requests (stocks and crypto)."""
        return self.calls("GET", "/v2/stocks/bars") + self.calls("GET", "/v1beta3/crypto/us/bars")

    # --- routes -----------------------------------------------------------------------------------
    def _assets(self, request: Request) -> Response:
        if not _authorised(request):
            return _unauthorised()
        asset_class = request.query.get("asset_class", "us_equity")
        names = self.crypto if asset_class == "crypto" else self.stocks
        exchange = "CRYPTO" if asset_class == "crypto" else "NASDAQ"
        return Response(200, [_asset(i, name, asset_class, exchange) for i, name in enumerate(names)])

    def _stock_bars(self, request: Request) -> Response:
        if not _authorised(request):
            return _unauthorised()
        if request.query.get("feed", "sip") not in ("iex", "sip", "otc", "delayed_sip"):
            return Response(400, {"code": 42210000, "message": "invalid feed"})
        return self._bars(request, self.stocks, session=True)

    def _crypto_bars(self, request: Request) -> Response:
        return self._bars(request, self.crypto, session=False)

    def _bars(self, request: Request, known: list[str], session: bool) -> Response:
        if self.faults:
            status = self.faults.pop(0)
            if status != 429:
                return Response(status, {"message": "internal server error"})
            headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time()) + self.reset_in_s)}
            if self.retry_after is not None:
                headers["Retry-After"] = self.retry_after
            return Response(429, {"message": "too many requests."}, headers)
        if self.malformed_next:
            self.malformed_next = False
            return Response(200, b'{"bars": {"AAPL": [{"t": "2024-', {"Content-Type": "application/json"})
        q = request.query
        timeframe = q.get("timeframe", "")
        if timeframe not in TIMEFRAME_MS and timeframe != "1Month":
            return Response(400, {"code": 42210000, "message": f"invalid timeframe: {timeframe}"})
        try:
            limit = int(q.get("limit", 1000))
            start = _ms(q["start"]) if "start" in q else self.now_ms - DAY
            end = min(_ms(q["end"]), self.now_ms) if "end" in q else self.now_ms
        except ValueError:
            return Response(400, {"code": 42210000, "message": "invalid start or end"})
        if not 1 <= limit <= 10_000:
            return Response(422, {"code": 42210000, "message": "invalid limit: must be between 1 and 10000"})
        symbols = [s for s in q.get("symbols", "").split(",") if s]
        token = q.get("page_token")
        resume_symbol, resume_ms = _decode(token) if token else (None, None)
        bars: dict[str, list[dict]] = {}
        left, next_token = limit, None
        for symbol in sorted(symbols):
            if symbol not in known or (resume_symbol and symbol < resume_symbol):
                continue
            lo = resume_ms if symbol == resume_symbol else start
            opens = _open_times(timeframe, lo, end, session)
            if opens.size > left:
                next_token = _encode(symbol, int(opens[left]))
                opens = opens[:left]
            if opens.size:
                bars[symbol] = _bar_objects(opens)
                left -= opens.size
            if next_token or not left:
                break
        return Response(200, {"bars": bars, "next_page_token": next_token})


def _authorised(request: Request) -> bool:
    return request.headers.get("apca-api-key-id") == KEY and request.headers.get("apca-api-secret-key") == SECRET


def _unauthorised() -> Response:
    return Response(401, {"code": 40110000, "message": "request is not authorized"})


def _asset(index: int, symbol: str, asset_class: str, exchange: str) -> dict:
    return {"id": f"00000000-0000-4000-8000-{index:012d}", "class": asset_class, "exchange": exchange,
            "symbol": symbol, "name": symbol, "status": "active", "tradable": True, "marginable": True,
            "shortable": asset_class != "crypto", "easy_to_borrow": True, "fractionable": True,
            "maintenance_margin_requirement": 30, "attributes": []}


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _encode(symbol: str, ms: int) -> str:
    return base64.b64encode(f"{symbol}|{ms}".encode()).decode()


def _decode(token: str) -> tuple[str, int]:
    symbol, ms = base64.b64decode(token).decode().rsplit("|", 1)
    return symbol, int(ms)


def _open_times(timeframe: str, start: int, end: int, session: bool) -> np.ndarray:
    """Bar open times in [start, end] for a timeframe; stock intraday bars only inside the session."""
    if timeframe == "1Month":
        first = np.datetime64(start - NY_MIDNIGHT_MS, "ms").astype("datetime64[M]")
        months = np.arange(first, np.datetime64(end, "ms").astype("datetime64[M]") + 1, dtype="datetime64[M]")
        opens = months.astype("datetime64[ms]").astype(np.int64) + NY_MIDNIGHT_MS
    else:
        step = TIMEFRAME_MS[timeframe]
        origin = NY_MIDNIGHT_MS + (4 * DAY if timeframe == "1Week" else 0)
        if timeframe in ("1Day", "1Week"):
            first = start - (start - origin) % step
            first += step if first < start else 0
        else:
            first = start + (-start) % step
        opens = np.arange(first, end + 1, step, dtype=np.int64)
    opens = opens[(opens >= start) & (opens <= end)]
    if session:
        weekday = ((opens // DAY) + 3) % 7  # 0 = Monday
        opens = opens[weekday < 5]
        if timeframe not in ("1Day", "1Week", "1Month"):
            step = TIMEFRAME_MS[timeframe]
            in_day = opens % DAY
            opens = opens[(in_day >= SESSION_MS[0] - SESSION_MS[0] % step) & (in_day < SESSION_MS[1])]
    return opens


def _bar_objects(opens: np.ndarray) -> list[dict]:
    values = synthetic(opens, seed=3)
    stamps = np.datetime_as_string(opens.astype("datetime64[ms]").astype("datetime64[s]"), unit="s")
    return [
        {"t": f"{stamps[i]}Z", "o": float(values["open"][i]), "h": float(values["high"][i]),
         "l": float(values["low"][i]), "c": float(values["close"][i]), "v": float(values["volume"][i]),
         "n": int(values["trades"][i]),
         "vw": round((values["high"][i] + values["low"][i] + values["close"][i]) / 3, 4)}
        for i in range(opens.size)
    ]
