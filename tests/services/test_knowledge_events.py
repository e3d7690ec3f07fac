"""Which stored headlines are macro/market events (the rule of services.knowledge.events), and the refresh that
writes them: once, rewritten on a re-score, removed when no longer an event, never undated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from services.core.records import kb_macro_events, news_items
from services.knowledge import harvest
from services.knowledge.events import classify, source_key
from services.news.store import RawItem, Scored

AT = datetime(2024, 5, 1, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize("title, score, expected", [
    ("Fed holds rates steady", 0.0, ("macro", "low")),
    ("US CPI inflation jumps to 4%", -0.45, ("macro", "medium")),
    ("Tariffs on chips spark a sell-off", -0.7, ("macro", "high")),
    ("Acme earnings miss, guidance cut", -0.65, ("corporate", "high")),
    ("Acme earnings in line", 0.1, None),  # a company event with a mild score is not an event
    ("Acme wins a huge contract", 0.8, ("shock", "high")),
    ("Acme opens an office", 0.2, None),
    ("Fedora release notes", 0.0, None),  # whole words only
])
def test_the_rule(title, score, expected):
    assert classify(title, "", score) == expected


def test_the_summary_counts_too():
    assert classify("Markets today", "The ECB signalled a pause", 0.05) == ("macro", "low")


def _add(runtime, title: str, score: float, at: datetime | None = AT, symbols=("AAA",)) -> str:
    raw = RawItem("test", title, url="https://news.test/" + title.replace(" ", "-"), symbols=symbols,
                  published_at=at)
    runtime.news.add([Scored(raw, score, "negative" if score < 0 else "positive", "m1")])
    return raw.id


def _events(runtime) -> list[dict]:
    with runtime.engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(kb_macro_events)).mappings()]


def test_refresh_writes_each_event_once_follows_a_rescore_and_skips_undated_items(runtime):
    crash = _add(runtime, "Acme files for bankruptcy", -0.9)
    _add(runtime, "Fed cuts rates", 0.4, at=None)  # no publication time: no event (its time is never invented)
    _add(runtime, "Acme picnic", 0.1)
    first = harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [])["events"]
    again = harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [])["events"]
    assert (first["added"], again["added"], again["updated"], again["unchanged"]) == (1, 0, 0, 1)
    [event] = _events(runtime)
    assert (event["title"], event["impact"], event["assets"], event["occurred_at"]) == (
        "Acme files for bankruptcy", "high", ["AAA"], AT)
    assert event["source_url"] == "https://news.test/Acme-files-for-bankruptcy"
    assert event["source_key"] == source_key(crash)

    with runtime.engine.begin() as connection:  # re-scored by a new model: milder, still an event
        connection.execute(update(news_items).where(news_items.c.id == crash).values(sentiment_score=-0.4))
    assert harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [])["events"]["updated"] == 1
    assert [e["impact"] for e in _events(runtime)] == ["medium"]
    with runtime.engine.begin() as connection:  # re-scored as neutral: no longer an event, nor searchable
        connection.execute(update(news_items).where(news_items.c.id == crash).values(sentiment_score=0.0))
    harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [])
    assert _events(runtime) == [] and runtime.knowledge.counts()["event"] == 0


def test_a_long_news_id_gets_a_key_that_fits():
    assert len(source_key("x" * 255)) <= 200 and source_key("x" * 255) != source_key("x" * 254)
