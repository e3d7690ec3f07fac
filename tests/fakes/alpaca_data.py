"""A fake Alpaca market data API: bars of ``/v2/stocks/bars`` and ``/v1beta3/crypto/us/bars``, paged.

Bars follow Alpaca's JSON: ``{"bars": {"AAPL": [{"t": RFC 3339, "o", "h", "l", "c", "v", "n", "vw"}]},
"next_page_token": str | null}``; ``limit`` (1–10000, default 1000) is the page size across symbols;
``start``/``end`` are inclusive RFC 3339 times; an unknown symbol simply has no bars. Stocks trade
14:30–21:00 UTC on weekdays (DST ignored); their daily, weekly and monthly bars are stamped 05:00Z (New York
midnight), as Alpaca does. Stock bars need the ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` headers of
``tests.fakes.alpaca_trading``; crypto bars need none. The asset lists live on the trading fake.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime

import numpy as np

from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY
from tests.fakes.candles import synthetic
from tests.fakes.server import FakeServer, Request, Response

MINUTE = 60_000
DAY = 1440 * MINUTE
TIMEFRAME_MS = {"1Min": MINUTE, "5Min": 5 * MINUTE, "15Min": 15 * MINUTE, "30Min": 30 * MINUTE,
                "1Hour": 60 * MINUTE, "1Day": DAY, "1Week": 7 * DAY}
NY_MIDNIGHT_MS = 5 * 60 * MINUTE
SESSION_MS = (14 * 60 + 30) * MINUTE, 21 * 60 * MINUTE
STOCKS_PATH, CRYPTO_PATH = "/v2/stocks/bars", "/v1beta3/crypto/us/bars"


class FakeAlpacaData(FakeServer):
    """The fake; ``now_ms`` is its clock (the last bar it has opens at or before it)."""

    def __init__(self, now_ms: int = 1_735_689_600_000):  # 2025-01-01T00:00Z
        super().__init__()
        self.now_ms = now_ms
        self.stocks = {"AAPL", "BRK.A", "MSFT"}
        self.crypto = {"BTC/USD", "ETH/USD"}
        self.route("GET", STOCKS_PATH)(lambda request: self._bars(request, self.stocks, session=True))
        self.route("GET", CRYPTO_PATH)(lambda request: self._bars(request, self.crypto, session=False))

    def authorize(self, request: Request) -> Response | None:
        """Stock data needs the keys; crypto data does not."""
        keys = (request.headers.get("apca-api-key-id"), request.headers.get("apca-api-secret-key"))
        if request.path == STOCKS_PATH and keys != (KEY_ID, SECRET_KEY):
            return Response(401, {"code": 40110000, "message": "request is not authorized"})
        return None

    def bar_calls(self) -> list[Request]:
        """Recorded bar requests (stocks and crypto)."""
        return self.calls("GET", STOCKS_PATH) + self.calls("GET", CRYPTO_PATH)

    def rate_limit_next(self, reset_in_s: int = 2, retry_after: str | None = None) -> None:
        """The next request gets Alpaca's 429 with its ``X-RateLimit-*`` headers (and a proxy's Retry-After)."""
        headers = {"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(time.time()) + reset_in_s)}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        self.fail_next(1, 429, {"message": "too many requests."}, headers=headers)

    def _bars(self, request: Request, known: set[str], session: bool) -> Response:
        q = request.query
        timeframe = q.get("timeframe", "")
        if timeframe not in TIMEFRAME_MS and timeframe != "1Month":
            return Response(400, {"code": 42210000, "message": f"invalid timeframe: {timeframe}"})
        if q.get("feed", "iex") not in ("iex", "sip", "otc", "delayed_sip"):
            return Response(400, {"code": 42210000, "message": "invalid feed"})
        try:
            limit = int(q.get("limit", 1000))
            start = _ms(q["start"]) if "start" in q else self.now_ms - DAY
            end = min(_ms(q["end"]), self.now_ms) if "end" in q else self.now_ms
        except ValueError:
            return Response(400, {"code": 42210000, "message": "invalid start or end"})
        if not 1 <= limit <= 10_000:
            return Response(422, {"code": 42210000, "message": "invalid limit: must be between 1 and 10000"})
        resume_symbol, resume_ms = _decode(q["page_token"]) if q.get("page_token") else (None, None)
        bars: dict[str, list[dict]] = {}
        left, next_token = limit, None
        for symbol in sorted(s for s in q.get("symbols", "").split(",") if s in known):
            if resume_symbol and symbol < resume_symbol:
                continue
            opens = _open_times(timeframe, resume_ms if symbol == resume_symbol else start, end, session)
            if opens.size > left:
                next_token = _encode(symbol, int(opens[left]))
                opens = opens[:left]
            if opens.size:
                bars[symbol] = _bar_objects(opens)
                left -= opens.size
            if next_token or not left:
                break
        return Response(200, {"bars": bars, "next_page_token": next_token})


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _encode(symbol: str, ms: int) -> str:
    return base64.b64encode(f"{symbol}|{ms}".encode()).decode()


def _decode(token: str) -> tuple[str, int]:
    symbol, ms = base64.b64decode(token).decode().rsplit("|", 1)
    return symbol, int(ms)


def _open_times(timeframe: str, start: int, end: int, session: bool) -> np.ndarray:
    """Bar open times in [start, end]; stock intraday bars only inside the session, stock bars only on weekdays."""
    if timeframe == "1Month":
        first = np.datetime64(start - NY_MIDNIGHT_MS, "ms").astype("datetime64[M]")
        months = np.arange(first, np.datetime64(end, "ms").astype("datetime64[M]") + 1, dtype="datetime64[M]")
        opens = months.astype("datetime64[ms]").astype(np.int64) + NY_MIDNIGHT_MS
    else:
        step = TIMEFRAME_MS[timeframe]
        origin = NY_MIDNIGHT_MS + (4 * DAY if timeframe == "1Week" else 0)  # weeks open on Monday
        first = start - (start - origin) % step if timeframe in ("1Day", "1Week") else start - start % step
        opens = np.arange(first, end + 1, step, dtype=np.int64)
    opens = opens[(opens >= start) & (opens <= end)]
    if session:
        opens = opens[((opens // DAY) + 3) % 7 < 5]  # 1970-01-01 was a Thursday
        if timeframe not in ("1Day", "1Week", "1Month"):
            in_day = opens % DAY
            step = TIMEFRAME_MS[timeframe]
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
