"""A fake Alpaca News API (``GET /v1beta1/news``), paged, in Alpaca's wire format.

Answer: ``{"news": [{"id": int, "headline", "author", "created_at": RFC 3339, "updated_at", "summary", "content",
"url", "images": [], "symbols": [str], "source"}], "next_page_token": str | null}``. Query: ``symbols``
(comma-separated; an item matches when it names any of them), ``start``/``end`` (inclusive, on created_at),
``sort`` (``asc`` or ``desc``, default desc), ``limit`` (1–50, default 10), ``page_token``. Needs the
``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` headers of ``tests.fakes.alpaca_trading``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY
from tests.fakes.server import FakeServer, Request, Response

NEWS_PATH = "/v1beta1/news"


def article(item_id: int, headline: str, created: datetime, symbols: list[str], **extra) -> dict:
    """One article as Alpaca sends it."""
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"id": item_id, "headline": headline, "author": "Benzinga Newsdesk", "created_at": stamp,
            "updated_at": stamp, "summary": f"summary of {headline}", "content": "", "images": [],
            "url": f"https://www.benzinga.com/news/{item_id}", "symbols": symbols, "source": "benzinga"}
    body.update(extra)
    return body


def articles(count: int, symbols: list[str], start: datetime, step: timedelta = timedelta(hours=6),
             first_id: int = 1000) -> list[dict]:
    """``count`` articles about ``symbols``, ``step`` apart from ``start``, with plainly worded headlines."""
    words = ("beats estimates and raises guidance", "misses estimates, shares fall", "to hold annual meeting")
    return [article(first_id + i, f"{symbols[0]} {words[i % 3]} ({i})", start + i * step, symbols)
            for i in range(count)]


class FakeAlpacaNews(FakeServer):
    """The fake; ``items`` are its articles (add or change them freely)."""

    def __init__(self, items: list[dict] | None = None):
        super().__init__()
        self.items: list[dict] = list(items or [])
        self.route("GET", NEWS_PATH)(self._news)

    def authorize(self, request: Request) -> Response | None:
        """News needs the keys."""
        keys = (request.headers.get("apca-api-key-id"), request.headers.get("apca-api-secret-key"))
        if keys != (KEY_ID, SECRET_KEY):
            return Response(401, {"code": 40110000, "message": "request is not authorized"})
        return None

    def news_calls(self) -> list[Request]:
        """Recorded news requests."""
        return self.calls("GET", NEWS_PATH)

    def _news(self, request: Request) -> Response:
        q = request.query
        try:
            limit = int(q.get("limit", 10))
            offset = int(base64.b64decode(q["page_token"]).decode()) if q.get("page_token") else 0
        except ValueError:
            return Response(400, {"code": 42210000, "message": "invalid limit or page_token"})
        if not 1 <= limit <= 50:
            return Response(400, {"code": 42210000, "message": "limit must be between 1 and 50"})
        wanted = {s.strip() for s in q.get("symbols", "").split(",") if s.strip()}
        start, end = _time(q.get("start")), _time(q.get("end"))
        chosen = [item for item in self.items
                  if (not wanted or wanted & set(item.get("symbols") or []))
                  and _within(_time(str(item.get("created_at"))), start, end)]
        chosen.sort(key=lambda item: (str(item.get("created_at")), str(item.get("id"))),
                    reverse=q.get("sort", "desc") != "asc")
        page = chosen[offset:offset + limit]
        more = offset + limit < len(chosen)
        token = base64.b64encode(str(offset + limit).encode()).decode() if more else None
        return Response(200, {"news": page, "next_page_token": token})


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _within(stamp: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    """A malformed stamp is served anyway: the client has to reject it."""
    return stamp is None or ((start is None or stamp >= start) and (end is None or stamp <= end))
