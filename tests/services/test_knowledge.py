"""The knowledge base: idempotent items, search on sqlite-vec (the default) and on a real pgvector PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from services.core.auth import Actor, local_operator
from services.core.db import ensure_schema, make_engine
from services.core.errors import BadInput, PermissionDenied
from services.knowledge.store import Document, KnowledgeBase
from services.knowledge.vectors import PostgresIndex, SqliteVecIndex
from tests.support import pgvector

TRADER = local_operator()
VIEWER = Actor(name="viewer@bank.com", roles=frozenset({"viewer"}))


@pytest.fixture(scope="session")
def embed():
    """The packaged sentence-embedding model (loaded once for the session)."""
    from models.embedding import load_embedder

    embedder = load_embedder()
    return embedder.embed


@pytest.fixture(scope="session")
def pgvector_admin_url() -> Iterator[str]:
    """A PostgreSQL 18 server with pgvector for the session (skipped, saying why, when it cannot run here)."""
    reason = pgvector.missing_reason()
    if reason:
        pytest.skip(reason)
    with pgvector.pgvector_server() as url:
        yield url


@pytest.fixture
def pgvector_url(pgvector_admin_url) -> Iterator[str]:
    """A fresh database on the pgvector server."""
    import uuid

    name = f"kb_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pgvector_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield pgvector_admin_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _knowledge(url: str, embed) -> KnowledgeBase:
    engine = make_engine(url)
    ensure_schema(engine)
    index = PostgresIndex(engine) if engine.dialect.name == "postgresql" else SqliteVecIndex(engine.url.database)
    return KnowledgeBase(engine, embed, index)


@pytest.fixture(params=["sqlite-vec", "pgvector"])
def kb(request, tmp_path, embed) -> KnowledgeBase:
    """A knowledge base on each backend."""
    url = f"sqlite:///{tmp_path}/kb.db" if request.param == "sqlite-vec" else request.getfixturevalue("pgvector_url")
    return _knowledge(url, embed)


def _lesson(key: str, title: str, summary: str, assets=("AAPL",), **payload) -> Document:
    row = dict(category="backtest_completed", title=title, lesson=summary, assets=list(assets), tags=[],
               metadata=payload, backtest_id=key)
    return Document("lesson", f"backtest:{key}", {"title": title, "summary": summary, **payload}, row, title,
                    summary, tuple(assets), {"backtest_id": key})


def _seed(kb: KnowledgeBase) -> None:
    kb.put([
        _lesson("b1", "Momentum on AAPL lost money in a choppy market",
                "The moving-average crossover whipsawed: 14 losing trades, max drawdown 18%"),
        _lesson("b2", "Bitcoin breakout strategy doubled", "Breakout above the 20-day high returned 95% on BTC",
                assets=("BTCUSDT",)),
        _lesson("b3", "Mean reversion on MSFT earned a steady profit", "RSI mean reversion, Sharpe 1.4",
                assets=("MSFT",)),
    ])
    kb.add_pattern(TRADER, "Earnings gap fade", "mean_reversion",
                   "Large opening gaps after earnings announcements tend to close within three sessions",
                   assets=["AAPL", "MSFT"], timeframes=["1d"], suitable_regimes=["sideways"], confidence=0.6)


def test_search_ranks_by_meaning_on_each_backend(kb):
    _seed(kb)
    hits = kb.search("crypto price breakout")
    assert hits[0]["title"] == "Bitcoin breakout strategy doubled"
    assert set(hits[0]) == {"kind", "id", "title", "summary", "score", "evidence"}
    assert hits[0]["evidence"] == {"backtest_id": "b2"}
    assert hits[0]["score"] > hits[-1]["score"]
    assert kb.search("gaps after earnings", kinds=["pattern"])[0]["kind"] == "pattern"
    only_msft = kb.search("strategy", assets=["msft"])
    assert {h["title"] for h in only_msft} == {"Mean reversion on MSFT earned a steady profit",
                                                "Earnings gap fade (mean reversion)"}
    assert len(kb.search("strategy", limit=2)) == 2


def test_the_same_payload_twice_writes_nothing_and_a_changed_one_updates_the_item(kb):
    first = kb.put([_lesson("b1", "A", "first text")])
    again = kb.put([_lesson("b1", "A", "first text")])
    changed = kb.put([_lesson("b1", "A", "the outcome is now known: a loss")])
    assert (first.added, again.unchanged, changed.updated) == (1, 1, 1)
    assert kb.counts()["lesson"] == 1
    [hit] = kb.search("outcome known loss")
    assert hit["summary"] == "the outcome is now known: a loss"


@pytest.mark.parametrize("limit", [0, 101, 2.5, "10", True, float("nan")])
def test_search_refuses_a_limit_outside_1_to_100(kb, limit):
    with pytest.raises(BadInput, match="limit"):
        kb.search("anything", limit=limit)


def test_search_refuses_an_unknown_kind_and_an_empty_query(kb):
    with pytest.raises(BadInput, match="kind 'news'"):
        kb.search("anything", kinds=["news"])
    with pytest.raises(BadInput, match="query"):
        kb.search("   ")


def test_a_viewer_may_not_add_a_pattern_and_nothing_is_written(kb):
    with pytest.raises(PermissionDenied, match="trader role"):
        kb.add_pattern(VIEWER, "x", "momentum", "y")
    assert kb.counts()["pattern"] == 0


@pytest.mark.parametrize("change, message", [
    (dict(confidence=float("nan")), "confidence"), (dict(confidence="high"), "confidence"),
    (dict(confidence=1.5), "confidence"), (dict(pattern_type="magic"), "pattern type"),
    (dict(name=" "), "name"), (dict(suitable_regimes=["moon"]), "regime"), (dict(assets=["A;DROP"]), "asset"),
])
def test_a_bad_pattern_is_refused_whole(kb, change, message):
    fields = dict(name="Gap fade", pattern_type="mean_reversion", description="gaps close", confidence=0.5)
    with pytest.raises(BadInput, match=message):
        kb.add_pattern(TRADER, **{**fields, **change})
    assert kb.counts()["pattern"] == 0


def test_the_same_pattern_twice_is_refused(kb):
    kb.add_pattern(TRADER, "Gap fade", "mean_reversion", "gaps close")
    with pytest.raises(BadInput, match="already"):
        kb.add_pattern(TRADER, " gap FADE", "mean_reversion", "gaps close again")
    assert kb.counts()["pattern"] == 1


def test_the_sql_function_uses_the_hnsw_index_and_checks_its_limit(pgvector_url, embed):
    kb = _knowledge(pgvector_url, embed)
    _seed(kb)
    with kb.engine.connect() as connection:
        version = connection.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        indexes = connection.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'kb_embeddings'"))
        assert version and any("hnsw" in d and "vector_cosine_ops" in d for (d,) in indexes)
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in connection.execute(text(
            "EXPLAIN SELECT item_id FROM kb_embeddings ORDER BY embedding <=> (SELECT embedding FROM kb_embeddings "
            "LIMIT 1) LIMIT 5")))
        assert "ix_kb_embeddings_hnsw" in plan
    with pytest.raises(Exception, match="match_count must be between 1 and 100"), kb.engine.begin() as connection:
        connection.execute(text("SELECT * FROM kb_search((SELECT embedding FROM kb_embeddings LIMIT 1), 0)"))


def test_postgres_without_pgvector_migrates_and_searches_exactly(postgres_url, embed):
    kb = _knowledge(postgres_url, embed)
    assert not kb.index.pgvector
    _seed(kb)
    assert kb.search("crypto price breakout")[0]["title"] == "Bitcoin breakout strategy doubled"


def test_sqlite_vec_index_follows_replaced_items(tmp_path, embed):
    kb = _knowledge(f"sqlite:///{tmp_path}/kb.db", embed)
    _seed(kb)
    kb.search("anything")
    kb.put([_lesson("b2", "Bitcoin breakout strategy failed", "the breakout reversed at once",
                    assets=("BTCUSDT",))])
    hits = kb.search("bitcoin breakout")
    assert [h["title"] for h in hits].count("Bitcoin breakout strategy failed") == 1
    assert "Bitcoin breakout strategy doubled" not in [h["title"] for h in hits]
    with kb.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM kb_embeddings")).scalar() == 4


def test_supabase_rpc_runs_the_same_sql_function(pgvector_url, embed):
    from services.knowledge.vectors import SupabaseIndex
    from tests.fakes.supabase_rest import SERVICE_KEY, FakeSupabaseRest

    direct = _knowledge(pgvector_url, embed)
    _seed(direct)
    with FakeSupabaseRest(direct.engine) as fake:
        remote = KnowledgeBase(direct.engine, embed, SupabaseIndex(fake.url, SERVICE_KEY))
        over_rest = remote.search("crypto price breakout", kinds=["lesson"], limit=2)
        assert over_rest == direct.search("crypto price breakout", kinds=["lesson"], limit=2)
        function, arguments = fake.calls[0]
        assert function == "kb_search" and set(arguments) == {"query_embedding", "match_count", "filter_kinds",
                                                              "filter_assets"}
        assert arguments["match_count"] == 2 and arguments["filter_kinds"] == ["lesson"]


@pytest.mark.parametrize("fault", ["wrong key", "server error", "down"])
def test_supabase_rpc_failures_are_a_clear_error(embed, fault):
    from services.core.errors import ServiceUnavailable
    from services.knowledge.vectors import SupabaseIndex
    from tests.fakes.supabase_rest import SERVICE_KEY, FakeSupabaseRest

    with FakeSupabaseRest() as fake:
        key = "wrong" if fault == "wrong key" else SERVICE_KEY
        url = fake.url
        if fault == "server error":
            fake.fail_next(1, 503, {"code": "PGRST000", "details": None, "hint": None, "message": "db down"})
        index = SupabaseIndex(url, key, timeout_s=2)
        if fault == "down":
            fake.__exit__(None, None, None)
        with pytest.raises(ServiceUnavailable, match="Supabase knowledge search failed") as caught:
            index.search(embed(["x"])[0], 5, None, None)
        assert key not in str(caught.value) and SERVICE_KEY not in str(caught.value)


def _news(kb: KnowledgeBase, title: str, score: float, symbols=("AAPL",), at=None, summary: str = "") -> None:
    from datetime import UTC, datetime

    from services.news.store import NewsStore, RawItem, Scored

    when = at or datetime(2024, 5, 1, 13, 30, tzinfo=UTC)
    label = "negative" if score < -0.1 else "positive" if score > 0.1 else "neutral"
    NewsStore(kb.engine).add([Scored(RawItem("test", title, url=f"https://news.test/{len(title)}", summary=summary,
                                             symbols=tuple(symbols), published_at=when), score, label, "m1")])


def test_macro_news_becomes_searchable_events_once_on_each_backend(kb):
    from services.knowledge.events import event_documents

    _news(kb, "Fed raises interest rates by half a point", -0.5, symbols=())
    _news(kb, "Apple earnings crush estimates, shares soar", 0.8)
    _news(kb, "Apple opens a new store in Lyon", 0.1)  # routine: not an event
    assert kb.put(event_documents(kb.engine)).added == 2
    again = kb.put(event_documents(kb.engine))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert kb.counts()["event"] == 2
    [hit] = kb.search("central bank monetary policy tightening", kinds=["event"], limit=1)
    assert hit["title"] == "Fed raises interest rates by half a point"
    assert hit["evidence"]["category"] == "macro" and hit["evidence"]["impact"] == "medium"
    assert hit["evidence"]["occurred_at"] == "2024-05-01T13:30:00+00:00"
    [apple] = kb.search("quarterly results", assets=["AAPL"], kinds=["event"])
    assert apple["evidence"]["sentiment_score"] == 0.8 and apple["evidence"]["impact"] == "high"
    assert apple["evidence"]["url"].startswith("https://news.test/")
