"""Macro and market events of the knowledge base (``kb_macro_events``), read from the stored news.

The rule that makes a headline an event is deterministic and uses only what was stored with the item (its title
and summary, and the score the sentiment model gave it when it was ingested):

- **macro**: the text names a macro-economic or market-wide subject (central banks and rates, inflation, jobs,
  growth, trade and sanctions, market-wide moves; ``MACRO_TERMS``), at any sentiment;
- **corporate**: the text names a company event that moves its price (earnings, guidance, deals, bankruptcy,
  ratings, regulators, recalls; ``CORPORATE_TERMS``) and the sentiment magnitude is at least ``CORPORATE_MAGNITUDE``;
- **shock**: any other headline whose sentiment magnitude is at least ``SHOCK_MAGNITUDE``.

Everything else (routine, mild news) is not an event. The impact follows the magnitude: ``high`` from
``HIGH_MAGNITUDE``, ``medium`` from ``MEDIUM_MAGNITUDE``, else ``low``. An item the source gave no publication time
is never an event (an event's time is never invented); its assets are only the tickers the source gave.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import Engine, select

from services.core.records import news_items
from services.knowledge.store import Document

MACRO_TERMS = (
    "fed", "fomc", "federal reserve", "central bank", "ecb", "bank of england", "bank of japan", "boj", "powell",
    "lagarde", "interest rate", "interest rates", "rate hike", "rate hikes", "rate cut", "rate cuts",
    "inflation", "cpi", "ppi", "consumer prices", "gdp", "recession", "payrolls", "nonfarm", "jobs report",
    "unemployment", "jobless claims", "treasury yields", "bond yields", "tariff", "tariffs", "trade war",
    "sanctions", "opec", "stimulus", "debt ceiling", "government shutdown", "stock market", "wall street",
    "sell-off", "selloff", "market crash", "bear market", "bull market",
)
CORPORATE_TERMS = (
    "earnings", "quarterly results", "revenue", "profit", "loss", "guidance", "outlook", "forecast", "merger",
    "acquisition", "acquire", "acquires", "takeover", "buyout", "bankruptcy", "bankrupt", "default", "downgrade",
    "downgrades", "upgrade", "upgrades", "lawsuit", "sues", "probe", "investigation", "fraud", "sec", "fda",
    "antitrust", "recall", "recalls", "layoffs", "dividend", "buyback", "stock split", "ceo", "resigns",
)
#: sentiment magnitudes (|score|, the score in [-1, 1]) of the rule
CORPORATE_MAGNITUDE, SHOCK_MAGNITUDE = 0.3, 0.75
MEDIUM_MAGNITUDE, HIGH_MAGNITUDE = 0.3, 0.6
KEY_PREFIX = "news:"


def _pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)


_MACRO, _CORPORATE = _pattern(MACRO_TERMS), _pattern(CORPORATE_TERMS)


def classify(title: str, summary: str, score: float) -> tuple[str, str] | None:
    """``(category, impact)`` of a headline that is a macro/market event (the module's rule), else None."""
    text = f"{title}\n{summary}"
    magnitude = abs(float(score))
    if _MACRO.search(text):
        category = "macro"
    elif _CORPORATE.search(text) and magnitude >= CORPORATE_MAGNITUDE:
        category = "corporate"
    elif magnitude >= SHOCK_MAGNITUDE:
        category = "shock"
    else:
        return None
    impact = "high" if magnitude >= HIGH_MAGNITUDE else "medium" if magnitude >= MEDIUM_MAGNITUDE else "low"
    return category, impact


def source_key(news_id: str) -> str:
    """The event's source key: ``news:<item id>`` (hashed when it would not fit the column)."""
    key = f"{KEY_PREFIX}{news_id}"
    return key if len(key) <= 200 else KEY_PREFIX + "sha256:" + hashlib.sha256(news_id.encode()).hexdigest()


def event_documents(engine: Engine) -> list[Document]:
    """One event per stored news item that the rule calls an event (rewritten when the item is re-scored)."""
    with engine.connect() as connection:
        rows = connection.execute(select(news_items).where(news_items.c.published_at.is_not(None))
                                  .order_by(news_items.c.published_at, news_items.c.id)).mappings().all()
    documents = []
    for row in rows:
        found = classify(row["title"], row["summary"], row["sentiment_score"])
        if found is None:
            continue
        category, impact = found
        assets = tuple(dict.fromkeys(row["symbols"] or []))
        occurred = row["published_at"]
        table_row = dict(title=row["title"][:300], summary=row["summary"], impact=impact, assets=list(assets),
                         occurred_at=occurred, source_url=row["url"])
        payload = {**table_row, "news_id": row["id"], "occurred_at": occurred.isoformat(), "category": category,
                   "sentiment_score": row["sentiment_score"], "sentiment_label": row["sentiment_label"],
                   "model_version": row["model_version"]}
        evidence = {"news_id": row["id"], "source": row["source"], "url": row["url"], "category": category,
                    "impact": impact, "occurred_at": occurred.isoformat(), "sentiment_score": row["sentiment_score"],
                    "sentiment_label": row["sentiment_label"]}
        summary = (f"{category} event, {impact} impact, sentiment {row['sentiment_score']:+.2f} "
                   f"({row['sentiment_label']}), {occurred:%Y-%m-%d %H:%M} UTC. {row['summary']}").strip()
        documents.append(Document("event", source_key(row["id"]), payload, table_row, row["title"], summary,
                                  assets, evidence))
    return documents
