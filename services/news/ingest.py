"""News ingestion: Alpaca News per symbol or one RSS/Atom feed into ``news_items``, page by page, each page stored
whole (or not at all) with the sentiment of its new items; a re-run resumes after the newest stored item and adds
nothing twice. Runs inline (CLI) or as the ``news_ingest`` background job (progress, cancel)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol

from models.sentiment import SentimentModel
from services.core import clock
from services.core.auth import Actor
from services.core.config import Settings
from services.core.errors import BadInput, ServiceUnavailable
from services.jobs.queue import JobCancelled, JobContext, Jobs
from services.news.sources import ALPACA, AlpacaNews, Feed, Page
from services.news.store import NewsStore, Scored

NEWS_KIND = "news_ingest"
MAX_SYMBOLS = 50
Progress = Callable[[float, str], None]
CancelCheck = Callable[[], object]


class NewsServices(Protocol):
    """What news ingestion uses: the store, the settings (Alpaca keys) and the sentiment model."""

    @property
    def news(self) -> NewsStore: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def sentiment(self) -> SentimentModel: ...


@dataclass
class NewsIngestResult:
    """What one ingestion did."""

    source: str
    fetched: int = 0
    stored: int = 0
    pages: int = 0
    reached: str | None = None  # publication time of the newest item seen
    model_version: str = ""
    cancelled: bool = False

    @property
    def summary(self) -> str:
        """One line: items fetched and newly stored, how far it got."""
        reached = f", reached {self.reached}" if self.reached else ""
        stop = " (cancelled; run again to resume)" if self.cancelled else ""
        return (f"{self.source}: {self.fetched} items fetched, {self.stored} new stored, "
                f"{self.fetched - self.stored} already known{reached}{stop}")

    def as_dict(self) -> dict:
        """JSON-able form for the job row."""
        return asdict(self)


def parse_symbols(text: str | Sequence[str]) -> list[str]:
    """``AAPL,MSFT`` → ``["AAPL", "MSFT"]`` (upper case, no blanks, no repeats); BadInput when empty or odd."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    symbols = list(dict.fromkeys(part.strip().upper() for part in parts if part.strip()))
    if not symbols:
        raise BadInput("give at least one symbol, e.g. --symbols AAPL,MSFT")
    if len(symbols) > MAX_SYMBOLS:
        raise BadInput(f"at most {MAX_SYMBOLS} symbols per ingestion")
    odd = [s for s in symbols if not all(c.isalnum() or c in "./-" for c in s) or len(s) > 32]
    if odd:
        raise BadInput(f"symbol {odd[0]!r} is not a ticker")
    return symbols


def alpaca_source(settings: Settings) -> AlpacaNews:
    """The Alpaca News source configured by the settings (keys, data URL, timeout, request budget)."""
    secret = settings.alpaca_api_secret
    key = settings.alpaca_api_key
    return AlpacaNews(api_key=key.get_secret_value() if key else None,
                      api_secret=secret.get_secret_value() if secret else None,
                      data_url=settings.alpaca_data_url, timeout_s=settings.alpaca_timeout_seconds,
                      requests_per_minute=settings.alpaca_requests_per_minute or None)


def ingest_alpaca(services: NewsServices, symbols: str | Sequence[str], start_ms: int, end_ms: int | None = None,
                  *, actor: Actor | None = None, progress: Progress | None = None,
                  cancelled: CancelCheck | None = None, source: AlpacaNews | None = None) -> NewsIngestResult:
    """Alpaca News of each symbol from ``start_ms`` to ``end_ms`` (or now), skipping the range already fetched.

    Each symbol's covered range grows as pages are stored, so a failed or cancelled run resumes where it stopped
    and a re-run asks only for what is newer."""
    if actor is not None:
        actor.require("trader", "ingest news")
    chosen = parse_symbols(symbols)
    start, end = _range(start_ms, end_ms)
    alpaca = source or alpaca_source(services.settings)
    result = NewsIngestResult(source=ALPACA, model_version=services.sentiment.version)
    for index, symbol in enumerate(chosen):
        until = end or clock.now()
        covered = services.news.covered(ALPACA, symbol)
        since = covered[1] if covered and covered[0] <= start <= covered[1] else start
        if since >= until:
            continue
        span = (until - since).total_seconds()
        try:
            for page in alpaca.pages(symbol, since, end):
                _store(services, page, result)
                reached = _reached(page)
                if reached is not None:
                    services.news.cover(ALPACA, symbol, start, max(reached, since))
                done = ((reached or until) - since).total_seconds() / span
                _report(progress, (index + min(max(done, 0.0), 1.0)) / len(chosen), f"{symbol}: {result.summary}")
                if _stop(cancelled):
                    result.cancelled = True
                    return result
        except ServiceUnavailable as error:
            raise ServiceUnavailable(f"{error}; kept so far: {result.summary}", error.status_code) from None
        except BadInput as error:
            raise BadInput(f"{error}; that page was not stored; kept so far: {result.summary}") from None
        services.news.cover(ALPACA, symbol, start, until)
    return result


def ingest_feed(services: NewsServices, url: str, *, actor: Actor | None = None, progress: Progress | None = None,
                cancelled: CancelCheck | None = None) -> NewsIngestResult:
    """The entries of one RSS/Atom feed (no tickers are given to them: feeds carry none)."""
    if actor is not None:
        actor.require("trader", "ingest news")
    feed = Feed(url, timeout_s=services.settings.ingest_timeout_seconds)
    result = NewsIngestResult(source=feed.source, model_version=services.sentiment.version)
    for page in feed.pages():
        _store(services, page, result)
        _report(progress, 1.0, result.summary)
        if _stop(cancelled):
            result.cancelled = True
    return result


def _store(services: NewsServices, page: Page, result: NewsIngestResult) -> None:
    """Score the page's unknown items and store them in one transaction."""
    result.pages += 1
    result.fetched += len(page)
    known = services.news.known([item.id for item in page])
    fresh = list({item.id: item for item in page if item.id not in known}.values())
    if fresh:
        model = services.sentiment
        scores = model.score([item.title for item in fresh])
        result.stored += services.news.add([Scored(item, s.score, s.label, model.version)
                                            for item, s in zip(fresh, scores, strict=True)])
    reached = _reached(page)
    if reached is not None and (result.reached is None or reached.isoformat() > result.reached):
        result.reached = reached.isoformat()


def _reached(page: Iterable) -> datetime | None:
    stamps = [item.published_at for item in page if item.published_at is not None]
    return max(stamps) if stamps else None


def _range(start_ms: int, end_ms: int | None) -> tuple[datetime, datetime | None]:
    start = clock.from_ms(int(start_ms)).astimezone(UTC)
    end = None if end_ms is None else clock.from_ms(int(end_ms)).astimezone(UTC)
    if end is not None and end <= start:
        raise BadInput(f"end {end.isoformat()} must be after start {start.isoformat()}")
    if start > clock.now():
        raise BadInput(f"start {start.isoformat()} is in the future")
    return start, end


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _stop(cancelled: CancelCheck | None) -> bool:
    if cancelled is None:
        return False
    try:
        return bool(cancelled())
    except JobCancelled:
        return True


# --- jobs ----------------------------------------------------------------------------------------------
def start_news_ingest(jobs: Jobs, actor: Actor, *, symbols: str | Sequence[str] | None = None,
                      start_ms: int | None = None, end_ms: int | None = None, feed: str | None = None) -> str:
    """Submit a ``news_ingest`` job (a trader's): Alpaca News for symbols from a start, or one feed; its id."""
    actor.require("trader", "ingest news")
    if (feed is None) == (symbols is None):
        raise BadInput("give either symbols (Alpaca News) or a feed URL")
    if feed is not None:
        Feed(feed)  # checks the URL before queueing
        params = {"feed": feed, "actor": actor.name}
        return jobs.submit(NEWS_KIND, params, actor.name, f"News from {feed}")
    if start_ms is None:
        raise BadInput("Alpaca News needs a start day")
    chosen = parse_symbols(symbols)
    _range(start_ms, end_ms)
    params = {"symbols": chosen, "start_ms": int(start_ms), "end_ms": None if end_ms is None else int(end_ms),
              "actor": actor.name}
    title = f"News {','.join(chosen)} from {clock.from_ms(start_ms):%Y-%m-%d}"
    return jobs.submit(NEWS_KIND, params, actor.name, title)


def news_ingest_job(ctx: JobContext, services: NewsServices, symbols: list[str] | None = None,
                    start_ms: int | None = None, end_ms: int | None = None, feed: str | None = None,
                    actor: str = "") -> dict:
    """Job body of ``start_news_ingest``; a cancel keeps the pages stored so far."""

    def report(fraction: float, message: str) -> None:
        ctx.progress(fraction, message)

    if feed is not None:
        result = ingest_feed(services, feed, progress=report, cancelled=ctx.check_cancelled)
    else:
        result = ingest_alpaca(services, symbols or [], int(start_ms or 0), end_ms, progress=report,
                               cancelled=ctx.check_cancelled)
    if result.cancelled:
        raise JobCancelled(f"cancelled by an operator; {result.summary}")
    return result.as_dict()
