"""The context step of the agent graph: news sentiment before the as-of time, knowledge matches, the bounded
sentiment tilt, the sentiment shock check, and the no-news path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from services.agents.allocation import _tilted
from services.agents.context import as_of, gather, tilts
from services.agents.runs import start_run
from services.core.auth import Actor, local_operator
from services.core.errors import BadInput, ConfigError
from services.news.store import RawItem, Scored
from services.trading.risk import Book, GateLimits, OrderIntent, evaluate, parse_gate, parse_policy
from tests.support.universe import FAST, params, universe

GATE = GateLimits()
DAY_MS = 86_400_000


@pytest.fixture
def graph_runtime(make_runtime):
    return make_runtime(**FAST)


def news(runtime, symbol: str, title: str, score: float, at: datetime) -> None:
    label = "negative" if score < -0.1 else "positive" if score > 0.1 else "neutral"
    runtime.news.add([Scored(RawItem("test", title, url=f"https://news.test/{title}", symbols=(symbol,),
                                     published_at=at), score, label, "test-model")])


def run_as_of(runtime, refs) -> datetime:
    """The as-of time a run on ``refs`` uses: the close of its last daily bar (the data is in the past)."""
    last = max(runtime.datasets.manifest(ref).last_ts for ref in map(_ref, refs))
    return as_of(last, DAY_MS, datetime.now(UTC))


def _ref(text: str):
    from services.market_data.datasets import DatasetRef

    return DatasetRef.parse(text)


def test_news_before_the_as_of_time_tilts_weights_and_a_shock_holds_buying(graph_runtime):
    refs = universe(graph_runtime)
    plain = start_run(graph_runtime, params(refs), local_operator("tester"))
    when = run_as_of(graph_runtime, refs)
    news(graph_runtime, "AAA", "AAA recalls its whole product line", -0.9, when - timedelta(hours=2))
    news(graph_runtime, "AAA", "AAA faces fraud probe", -0.6, when - timedelta(hours=30))
    news(graph_runtime, "AAA", "AAA keeps its dividend", -0.1, when - timedelta(hours=40))
    news(graph_runtime, "AAA", "AAA beats every estimate (published later)", 0.99, when + timedelta(hours=1))
    news(graph_runtime, "AAA", "AAA news at the as-of instant", 0.99, when)
    news(graph_runtime, "AAA", "AAA news older than the window", 0.99, when - timedelta(hours=49))
    news(graph_runtime, "BBB", "BBB raises guidance", 0.8, when - timedelta(hours=5))

    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    context = run.results.context.context
    assert context.as_of == when.isoformat() and context.lookback_hours == 48
    aaa, bbb, ccc = (context.symbols[s] for s in ("AAA", "BBB", "CCC"))
    assert aaa.count == 3  # nothing published at or after the as-of time, nothing older than 48 h
    assert aaa.mean == pytest.approx((-0.9 - 0.6 - 0.1) / 3) and aaa.shock
    assert aaa.most_negative.title == "AAA recalls its whole product line"
    assert aaa.most_positive.title == "AAA keeps its dividend"
    assert bbb.count == 1 and not bbb.shock and ccc.count == 0 and ccc.mean is None

    before = plain.results.optimizer.allocation.weights
    after = run.results.optimizer.allocation.weights
    assert after["AAA"].before_tilt == pytest.approx(before["AAA"].target)
    assert after["AAA"].sentiment_tilt == pytest.approx(GATE.sentimentTiltMax * aaa.mean)
    assert after["AAA"].target == pytest.approx(before["AAA"].target * (1 + GATE.sentimentTiltMax * aaa.mean))
    assert after["BBB"].target >= before["BBB"].target  # raised, as far as the caps allow
    assert after["BBB"].target <= before["BBB"].target * (1 + GATE.sentimentTiltMax) + 1e-12
    assert after["CCC"].sentiment_tilt is None and after["CCC"].target == pytest.approx(before["CCC"].target)

    orders = {o.symbol: o for o in graph_runtime.orders.list(run_id=run.id)}
    shock = next(c for c in orders["AAA"].checks if c["name"] == "sentiment shock")
    assert not shock["passed"] and shock["value"] == pytest.approx(round(aaa.mean, 4)) and not orders["AAA"].checks_pass
    assert orders["AAA"].context["news"]["count"] == 3
    assert next(c for c in orders["CCC"].checks if c["name"] == "sentiment shock")["value"] == "no news"
    # the inbox re-checks with the sentiment the run saw: the shock stands
    recheck = graph_runtime.orders.recheck(orders["AAA"])
    assert not next(c for c in recheck if c.name == "sentiment shock").passed
    assert "SENTIMENT SHOCK" in run.rationale["context"].summary


def test_without_news_or_lessons_the_step_says_so_and_changes_nothing(graph_runtime):
    refs = universe(graph_runtime)
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    context = run.results.context.context
    assert all(c.count == 0 and not c.matches and not c.shock for c in context.symbols.values())
    assert "no news in 48 h" in run.rationale["context"].summary
    assert "weights are the optimizer's alone" in run.rationale["context"].summary
    weights = run.results.optimizer.allocation.weights
    assert all(w.sentiment_tilt is None and w.before_tilt is None for w in weights.values())
    for order in graph_runtime.orders.list(run_id=run.id):
        shock = next(c for c in order.checks if c["name"] == "sentiment shock")
        assert shock["passed"] and shock["value"] == "no news"
        assert order.context["news"]["count"] == 0


def test_lessons_and_patterns_of_the_symbol_are_matched(graph_runtime):
    refs = universe(graph_runtime)
    trader = Actor("tess", frozenset({"trader"}))
    graph_runtime.knowledge.add_pattern(trader, "AAA gap fade", "mean_reversion",
                                        "AAA gaps after earnings tend to close within a week", assets=["AAA"])
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    symbols = run.results.context.context.symbols
    assert [m.title for m in symbols["AAA"].matches] == ["AAA gap fade (mean reversion)"]
    assert symbols["BBB"].matches == ()  # searched by asset: another symbol's pattern does not match
    (aaa,) = [o for o in graph_runtime.orders.list(run_id=run.id) if o.symbol == "AAA"]
    assert aaa.context["news"]["matches"][0]["kind"] == "pattern"


class _News:
    def __init__(self, items):
        self.items = items
        self.asked: list[tuple] = []

    def window(self, symbol, start, end):
        self.asked.append((symbol, start, end))
        return [i for i in self.items if start <= i.published_at < end]


class _Knowledge:
    def __init__(self, error: Exception | None = None):
        self.error = error

    def counts(self):
        return {"lesson": 1, "pattern": 0}

    def search(self, query, assets=None, kinds=None, limit=10):
        raise self.error


def test_the_window_ends_at_the_as_of_time_and_an_unsearchable_knowledge_base_is_noted():
    when = datetime(2024, 3, 1, 12, tzinfo=UTC)
    reader = _News([])
    found = gather(reader, _Knowledge(ConfigError("no embedding model")), ["AAA", "BBB"], when, GATE)
    assert reader.asked == [(s, when - timedelta(hours=48), when) for s in ("AAA", "BBB")]
    assert "no embedding model" in found["note"] and found["symbols"]["AAA"]["count"] == 0
    # the as-of time is the close of the last bar, never later than now
    last_ms = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    assert as_of(last_ms, DAY_MS, datetime(2030, 1, 1, tzinfo=UTC)) == datetime(2024, 3, 2, tzinfo=UTC)
    assert as_of(last_ms, DAY_MS, when) == when


def test_the_tilt_never_leaves_its_bound():
    context = {"symbols": {"AAA": {"count": 2, "mean": -1.0}, "BBB": {"count": 1, "mean": 1.0},
                           "CCC": {"count": 0, "mean": None}}}
    gate = GateLimits(sentimentTiltMax=0.2)
    assert tilts(context, gate) == {"AAA": pytest.approx(-0.2), "BBB": pytest.approx(0.2)}
    assert tilts(context, GateLimits(sentimentTiltMax=0.0)) == {"AAA": 0.0, "BBB": 0.0}
    weights = pd.Series({"AAA": 0.5, "BBB": 0.45})
    moved = _tilted(weights, pd.Series({"AAA": -0.2, "BBB": 0.2}), max_weight=0.5, room=1.0)
    assert moved["AAA"] == pytest.approx(0.4) and moved["BBB"] == pytest.approx(0.5)  # capped at the max weight
    full = _tilted(pd.Series({"AAA": 0.5, "BBB": 0.5}), pd.Series({"AAA": 0.2, "BBB": -0.1}), 0.7, room=1.0)
    assert full["AAA"] == pytest.approx(0.55) and full["BBB"] == pytest.approx(0.45)  # raised only into freed room
    assert (full - pd.Series({"AAA": 0.5, "BBB": 0.5})).abs().le(0.5 * 0.2 + 1e-12).all()


def test_the_shock_check_holds_buys_not_sells():
    policy = parse_policy({"version": "risk-policy.v1", "mode": "enforced",
                           "limits": {"maxNotionalUsd": 1e6, "maxPositionNotionalUsd": 1e6, "maxDrawdownPct": 20,
                                      "maxDailyLossUsd": 1e6},
                           "killSwitch": {"enabled": True}, "actionsOnBreach": ["reject_order"]})
    book = Book(equity=1e6, position_value={"AAA": 10_000.0}, sentiment_mean={"AAA": -0.6})

    def shock(side: str, gate: GateLimits = GATE, on: Book = book):
        checks = evaluate(OrderIntent("AAA", side, 10, 100.0), on, policy, gate)
        return next(c for c in checks if c.name == "sentiment shock")

    assert not shock("buy").passed and shock("buy").value == -0.6 and shock("buy").limit == -0.5
    assert shock("sell").passed and "never held back" in shock("sell").detail
    assert shock("buy", GateLimits(sentimentShock=-0.7)).passed
    assert shock("buy", on=Book(equity=1e6, position_value={})).value == "no news"
    off = shock("buy", GateLimits(checksOff=["sentiment shock"]))
    assert off.passed and "turned off" in off.detail


@pytest.mark.parametrize("change", [{"sentimentTiltMax": 0.9}, {"sentimentTiltMax": -0.1},
                                    {"sentimentTiltMax": float("nan")}, {"sentimentShock": 0.2},
                                    {"sentimentShock": -1.5}, {"sentimentLookbackHours": 0},
                                    {"sentimentLookbackHours": float("inf")}, {"sentimentLookbackHours": "48"}])
def test_sentiment_limits_are_validated_like_the_others(change):
    with pytest.raises(BadInput, match="invalid gate limits"):
        parse_gate({**GATE.model_dump(), **change})


def test_market_events_are_matched_only_when_they_happened_before_the_as_of_time(graph_runtime):
    from services.knowledge import harvest

    refs = universe(graph_runtime)
    when = run_as_of(graph_runtime, refs)
    news(graph_runtime, "AAA", "AAA files for bankruptcy protection", -0.9, when - timedelta(days=30))
    news(graph_runtime, "AAA", "AAA earnings collapse, guidance withdrawn", -0.8, when + timedelta(hours=3))
    harvest.refresh(graph_runtime.knowledge, graph_runtime.engine, graph_runtime.datasets, [])
    assert graph_runtime.knowledge.counts()["event"] == 2
    run = start_run(graph_runtime, params(refs), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    matches = run.results.context.context.symbols["AAA"].matches
    assert [(m.kind, m.title) for m in matches] == [("event", "AAA files for bankruptcy protection")]


def test_knowledge_hits_from_after_the_as_of_time_are_dropped():
    when = datetime(2024, 3, 1, 12, tzinfo=UTC)

    class Events(_Knowledge):
        def search(self, query, assets=None, kinds=None, limit=10):
            assert "event" in kinds and limit > 3  # asks for more than it shows: some may be dropped
            at = [when - timedelta(hours=1), when, when + timedelta(hours=1)]
            return [{"kind": "event", "id": str(n), "title": f"e{n}", "score": 0.9 - n / 10,
                     "evidence": {"occurred_at": t.isoformat()}} for n, t in enumerate(at)] + [
                {"kind": "lesson", "id": "l", "title": "lesson", "score": 0.1, "evidence": {}}]

    found = gather(_News([]), Events(), ["AAA"], when, GATE)
    assert [m["title"] for m in found["symbols"]["AAA"]["matches"]] == ["e0", "lesson"]
