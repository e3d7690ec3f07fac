"""The context step: per symbol, the news sentiment of a lookback window before the run's as-of time, and the
lessons, patterns and market events of the knowledge base that match it (events only from before the as-of
time). Pure arithmetic on what the stores return; the optimizer's tilt and the gate's shock check read these
numbers, never text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.agents.deps import KnowledgeSearch, NewsWindow
from services.core.errors import ConfigError
from services.trading.risk import GateLimits

#: knowledge items shown per symbol, the kinds searched, and how many are asked for (items that happened at or
#: after the as-of time are dropped from them)
MATCHES = 3
KINDS = ("lesson", "pattern", "event")
CANDIDATES = 4 * MATCHES


def as_of(last_ts_ms: int, bar_ms: int, now: datetime) -> datetime:
    """The run's as-of time: when its last bar closed (its timestamp plus one bar), never later than now."""
    closed = datetime.fromtimestamp((last_ts_ms + bar_ms) / 1000, tz=UTC)
    return min(closed, now)


def gather(news: NewsWindow, knowledge: KnowledgeSearch, symbols: Iterable[str], when: datetime,
           gate: GateLimits) -> dict:
    """Sentiment and matching knowledge per symbol over ``gate.sentimentLookbackHours`` before ``when``.

    Only items published in [when − lookback, when) count: nothing the run could not have known. A knowledge
    base that cannot search (no embedding model) is noted, and the run goes on on news alone.
    """
    start = when - timedelta(hours=gate.sentimentLookbackHours)
    searchable = sum(knowledge.counts().get(kind, 0) for kind in KINDS) > 0
    note = None
    symbols_ = {}
    for symbol in symbols:
        matches: list[dict] = []
        if searchable and note is None:
            try:
                hits = knowledge.search(f"lessons, patterns and market events for trading {symbol}",
                                        assets=[symbol], kinds=KINDS, limit=CANDIDATES)
                matches = [{k: hit[k] for k in ("kind", "id", "title", "score")}
                           for hit in hits if _known(hit, when)][:MATCHES]
            except ConfigError as error:
                note = f"knowledge base not searched: {error}"
        symbols_[symbol] = {**sentiment(news.window(symbol, start, when), gate), "matches": matches}
    return {"as_of": when.isoformat(), "start": start.isoformat(), "lookback_hours": gate.sentimentLookbackHours,
            "symbols": symbols_, "note": note}


def _known(hit: dict, when: datetime) -> bool:
    """False for an item that happened at or after ``when`` (an event's ``occurred_at``): the run cannot know it."""
    occurred = (hit.get("evidence") or {}).get("occurred_at")
    return occurred is None or datetime.fromisoformat(occurred) < when


def sentiment(items: list, gate: GateLimits) -> dict:
    """Count, mean score, the most negative and most positive headline, and whether the mean is a shock."""
    if not items:
        return {"count": 0, "mean": None, "most_negative": None, "most_positive": None, "shock": False}
    scores = [float(i.sentiment_score) for i in items]
    mean = sum(scores) / len(scores)
    low = min(items, key=lambda i: i.sentiment_score)
    high = max(items, key=lambda i: i.sentiment_score)
    return {"count": len(items), "mean": mean, "most_negative": _headline(low), "most_positive": _headline(high),
            "shock": mean <= gate.sentimentShock}


def _headline(item) -> dict:
    return {"title": item.title, "score": float(item.sentiment_score), "url": item.url,
            "published_at": item.published_at.isoformat() if item.published_at else None}


def tilts(context: dict | None, gate: GateLimits) -> dict[str, float]:
    """Relative weight tilt per symbol with news: ``sentimentTiltMax × mean`` (so within ±sentimentTiltMax)."""
    if not context:
        return {}
    return {s: gate.sentimentTiltMax * max(-1.0, min(1.0, c["mean"]))
            for s, c in context["symbols"].items() if c["count"] and c["mean"] is not None}


def means(context: dict | None) -> dict[str, float]:
    """The window's mean sentiment of each symbol that had news (what the shock check reads)."""
    if not context:
        return {}
    return {s: c["mean"] for s, c in context["symbols"].items() if c["count"] and c["mean"] is not None}
