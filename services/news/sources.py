"""Where news comes from: Alpaca News (alpaca-py's NewsClient, paged by next_page_token) and RSS/Atom feeds
(fetched with httpx, parsed by feedparser). Each yields pages of RawItem; a malformed item fails its page."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import feedparser
import httpx
from alpaca.data.historical.news import NewsClient
from alpaca.data.models.news import News
from alpaca.data.requests import NewsRequest
from pydantic import ValidationError

from services.core.errors import BadInput, ConfigError
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy, send_with_retry
from services.market_data.connectors.alpaca_source import Throttle, call_alpaca, json_object, tuned
from services.news.store import RawItem

ALPACA = "alpaca"
PAGE_SIZE = 50  # Alpaca News' largest page
MAX_FEED_BYTES = 20 * 1024 * 1024
Page = list[RawItem]


class AlpacaNews:
    """Alpaca News for some symbols between two times, oldest first, one page (≤ 50 items) at a time."""

    def __init__(self, *, api_key: str | None, api_secret: str | None, data_url: str | None = None,
                 timeout_s: float = 10.0, requests_per_minute: float | None = 200.0,
                 policy: RetryPolicy = DEFAULT_POLICY, sleep: Callable[[float], None] = time.sleep):
        missing = [name for name, value in (("ALPACA_API_KEY", api_key), ("ALPACA_API_SECRET", api_secret))
                   if not value]
        if missing:
            raise ConfigError(f"Alpaca News needs {' and '.join(missing)} (free paper-trading keys work); set them")
        self.client = tuned(NewsClient(api_key, api_secret, url_override=data_url), timeout_s)
        self.throttle = Throttle(requests_per_minute, sleep)
        self.policy, self.sleep = policy, sleep

    def pages(self, symbol: str, start: datetime, end: datetime | None) -> Iterator[Page]:
        """Pages of ``symbol``'s news published in [start, end] (end None: up to now), oldest first."""
        params = NewsRequest(symbols=symbol, start=start, end=end, sort="asc", limit=PAGE_SIZE).to_request_fields()
        token = None
        while True:
            if token:
                params["page_token"] = token
            what = f"news {symbol} from {start.isoformat()}" + (" (next page)" if token else "")
            body = call_alpaca(lambda p=dict(params): json_object(self.client.get("/news", p)), what, self.throttle,
                               self.policy, self.sleep)
            if not isinstance(body, dict) or not isinstance(body.get("news"), list):
                raise BadInput(f"Alpaca answered {what} without a news list")
            yield [_alpaca_item(raw, i) for i, raw in enumerate(body["news"])]
            following = body.get("next_page_token")
            if following and following == token:
                raise BadInput(f"Alpaca sent the same next_page_token twice for {what}; stopped")
            token = following
            if not token:
                return


def _alpaca_item(raw: object, index: int) -> RawItem:
    if not isinstance(raw, dict):
        raise BadInput(f"Alpaca news item {index} of the page is not an object")
    try:
        news = News(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "item"
        raise BadInput(f"Alpaca news item {raw.get('id', index)!s} is malformed ({where}: {first['msg']})") from None
    if not news.headline.strip():
        raise BadInput(f"Alpaca news item {news.id} has an empty headline")
    return RawItem(source=ALPACA, source_id=str(news.id), title=news.headline.strip(),
                   summary=(news.summary or "").strip(), url=news.url or "",
                   symbols=tuple(s.upper() for s in news.symbols), published_at=news.created_at.astimezone(UTC))


class Feed:
    """One RSS or Atom feed: a single page of its entries (fetched with retries, parsed by feedparser)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, policy: RetryPolicy = DEFAULT_POLICY,
                 sleep: Callable[[float], None] = time.sleep):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadInput(f"feed URL '{url}' must be an http(s) URL")
        self.url, self.source = url, f"feed:{parts.netloc.lower()}"
        self.timeout_s, self.policy, self.sleep = timeout_s, policy, sleep

    def pages(self) -> Iterator[Page]:
        """The feed's entries as one page."""
        with httpx.Client(timeout=self.timeout_s, follow_redirects=True) as client:
            response = send_with_retry(lambda: client.get(self.url), service=f"feed {self.url}",
                                       policy=self.policy, sleep=self.sleep)
        if response.status_code >= 400:
            raise BadInput(f"feed {self.url} answered HTTP {response.status_code}")
        if len(response.content) > MAX_FEED_BYTES:
            raise BadInput(f"feed {self.url} is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB")
        headers = {k.lower(): v for k, v in response.headers.items()}
        parsed = feedparser.parse(response.content, response_headers=headers)
        if not parsed.get("version"):
            problem = parsed.get("bozo_exception")
            detail = f" ({' '.join(str(problem).split())[:120]})" if problem else ""
            raise BadInput(f"feed {self.url} is not an RSS or Atom feed{detail}")
        yield [self._item(entry, i) for i, entry in enumerate(parsed.entries)]

    def _item(self, entry: dict, index: int) -> RawItem:
        title = " ".join(str(entry.get("title") or "").split())
        link = str(entry.get("link") or "").strip()
        if not title:
            raise BadInput(f"feed {self.url} entry {index} has no title")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
        guid = str(entry.get("id") or "").strip() or None
        summary = " ".join(str(entry.get("summary") or "").split())
        return RawItem(source=self.source, source_id=guid, title=title, url=link, summary=summary,
                       published_at=published)
