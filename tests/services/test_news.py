"""News: Alpaca News through alpaca-py and RSS/Atom through feedparser, against local fakes; stored once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from cli.main import app
from models.sentiment import load_fallback
from services.core import clock
from services.core.auth import Actor
from services.core.errors import BadInput, ConfigError, PermissionDenied, ServiceUnavailable
from services.news.ingest import ingest_alpaca, ingest_feed, start_news_ingest
from tests.fakes.alpaca_news import FakeAlpacaNews, article, articles
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY
from tests.fakes.feeds import FakeFeeds, atom, rss
from tests.fakes.server import Response

T0 = datetime(2024, 3, 1, tzinfo=UTC)
START_MS = clock.to_ms(T0)


@pytest.fixture
def fake_news():
    with FakeAlpacaNews() as fake:
        yield fake


@pytest.fixture
def feeds():
    with FakeFeeds() as fake:
        yield fake


@pytest.fixture
def news_runtime(make_runtime, fake_news):
    runtime = make_runtime(alpaca_data_url=fake_news.url, alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY,
                           alpaca_requests_per_minute=0, ingest_timeout_seconds=2)
    runtime.__dict__["sentiment"] = load_fallback()  # the real VADER model: fast to load, same interface
    return runtime


def count(runtime) -> int:
    return len(runtime.news.list(limit=10_000))


def fast_retries(monkeypatch):
    """Tiny backoffs so retry tests take milliseconds."""
    from services.core.http_retry import RetryPolicy
    from services.news import sources

    policy = RetryPolicy(attempts=3, base_delay_s=0.001, max_delay_s=0.01)
    monkeypatch.setattr(sources, "DEFAULT_POLICY", policy)
    for cls in (sources.AlpacaNews, sources.Feed):
        defaults = list(cls.__init__.__kwdefaults__.items())
        cls.__init__.__kwdefaults__.update({k: policy for k, v in defaults if isinstance(v, RetryPolicy)})


def test_alpaca_pages_stored_once_with_sentiment_and_resumed(news_runtime, fake_news):
    fake_news.items = articles(120, ["AAPL"], T0)
    result = ingest_alpaca(news_runtime, "aapl", START_MS)
    assert (result.fetched, result.stored, result.pages) == (120, 120, 3)
    items = news_runtime.news.list(symbol="AAPL", limit=500)
    assert len(items) == 120
    first = items[-1]
    assert first.id == "alpaca:1000" and first.symbols == ["AAPL"] and first.published_at == T0
    assert first.source == "alpaca" and first.url.endswith("/1000") and first.model_version == "vader-3.3.2"
    assert all(-1 <= i.sentiment_score <= 1 and i.sentiment_label in ("negative", "neutral", "positive")
               for i in items)
    calls = len(fake_news.news_calls())
    again = ingest_alpaca(news_runtime, "AAPL", START_MS)
    assert again.stored == 0 and count(news_runtime) == 120
    resumed = fake_news.news_calls()[calls:]
    assert len(resumed) <= 1 and all(r.query["start"] > "2024-04" for r in resumed)  # only what is newer


def test_reruns_fetch_only_the_range_not_covered_yet(news_runtime, fake_news, monkeypatch):
    fast_retries(monkeypatch)
    fake_news.items = articles(40, ["AAPL"], T0, step=timedelta(days=1))  # 2024-03-01 .. 2024-04-09
    stored = ingest_alpaca(news_runtime, "AAPL", START_MS, clock.to_ms(T0 + timedelta(days=10))).stored
    calls = len(fake_news.news_calls())
    stored += ingest_alpaca(news_runtime, "AAPL", START_MS, clock.to_ms(T0 + timedelta(days=20))).stored
    assert fake_news.news_calls()[calls].query["start"].startswith("2024-03-11T00:00")
    fake_news.items.append(article(99, "AAPL February item", T0 - timedelta(days=5), ["AAPL"]))
    earlier = clock.to_ms(T0 - timedelta(days=30))  # an earlier start is fetched, not skipped
    stored += ingest_alpaca(news_runtime, "AAPL", earlier, clock.to_ms(T0 + timedelta(days=10))).stored
    assert news_runtime.news.covered("alpaca", "AAPL") == (T0 - timedelta(days=30), T0 + timedelta(days=20))
    assert stored == count(news_runtime) == 22  # days 0..20 and February's, none twice

    fake_news.items += articles(120, ["AAPL"], T0 + timedelta(days=50), step=timedelta(hours=1), first_id=9000)
    serve = fake_news.routes[0][2]
    served = []

    def second_page_down(request):
        served.append(request)
        return Response(503, {"message": "down"}) if len(served) >= 2 else serve(request)

    fake_news.routes[0] = (*fake_news.routes[0][:2], second_page_down)
    with pytest.raises(ServiceUnavailable, match="kept so far: alpaca: 50 items fetched"):
        ingest_alpaca(news_runtime, "AAPL", START_MS)
    fake_news.routes[0] = (*fake_news.routes[0][:2], serve)
    calls = len(fake_news.news_calls())
    ingest_alpaca(news_runtime, "AAPL", START_MS)
    assert fake_news.news_calls()[calls].query["start"] > "2024-04-20"  # resumed after the stored page
    assert count(news_runtime) == 40 + 1 + 120


def test_item_about_two_symbols_and_repeated_items_are_stored_once(news_runtime, fake_news):
    both = article(7, "AAPL and MSFT sign a cloud deal", T0, ["AAPL", "MSFT"])
    fake_news.items = [both, dict(both), article(8, "MSFT rallies", T0 + timedelta(hours=1), ["MSFT"])]
    result = ingest_alpaca(news_runtime, "AAPL,MSFT", START_MS)
    assert result.stored == 2 and count(news_runtime) == 2
    assert [i.id for i in news_runtime.news.list(symbol="MSFT")] == ["alpaca:8", "alpaca:7"]
    assert [i.id for i in news_runtime.news.list(symbol="AAPL")] == ["alpaca:7"]


@pytest.mark.parametrize("broken", [
    {"headline": None}, {"created_at": "yesterday"}, {"symbols": ["AAPL", None]}, {"headline": "   "},
])
def test_malformed_item_fails_its_page_and_keeps_earlier_pages(news_runtime, fake_news, broken):
    fake_news.items = articles(60, ["AAPL"], T0)
    fake_news.items[55].update(broken)  # on the second page (50 per page)
    with pytest.raises(BadInput, match=r"1055|malformed|empty headline") as error:
        ingest_alpaca(news_runtime, "AAPL", START_MS)
    assert "not stored" in str(error.value) and "50 new stored" in str(error.value)
    assert count(news_runtime) == 50  # page one whole, nothing of page two


def test_429_is_retried_and_5xx_gives_up_with_nothing_half_stored(news_runtime, fake_news, monkeypatch):
    fast_retries(monkeypatch)
    fake_news.items = articles(10, ["AAPL"], T0)
    fake_news.fail_next(1, 429, {"message": "too many requests."}, headers={"Retry-After": "0"})
    assert ingest_alpaca(news_runtime, "AAPL", START_MS).stored == 10
    fake_news.items += articles(5, ["AAPL"], T0 + timedelta(days=30), first_id=5000)
    fake_news.fail_next(10, 503, {"message": "down"})
    with pytest.raises(ServiceUnavailable, match="HTTP 503 after 3 attempts"):
        ingest_alpaca(news_runtime, "AAPL", START_MS)
    assert count(news_runtime) == 10


def test_missing_keys_and_bad_input_are_clear(make_runtime, fake_news):
    runtime = make_runtime(alpaca_data_url=fake_news.url)
    runtime.__dict__["sentiment"] = load_fallback()
    with pytest.raises(ConfigError, match="ALPACA_API_KEY and ALPACA_API_SECRET"):
        ingest_alpaca(runtime, "AAPL", START_MS)
    with pytest.raises(BadInput, match="at least one symbol"):
        ingest_alpaca(runtime, " , ", START_MS)
    with pytest.raises(BadInput, match="not a ticker"):
        ingest_alpaca(runtime, "AAPL;DROP", START_MS)
    with pytest.raises(BadInput, match="must be after start"):
        ingest_alpaca(runtime, "AAPL", START_MS, START_MS)
    assert fake_news.news_calls() == []


def test_rss_and_atom_feeds_keep_only_what_they_say(news_runtime, feeds):
    url = feeds.serve("/rss", rss([
        {"title": "Stocks rally on upbeat jobs data", "link": "http://example.test/a", "guid": "a-1",
         "published": datetime(2024, 3, 2, 15, 0, tzinfo=UTC)},
        {"title": "Oil slumps as demand fears grow", "link": "http://example.test/b"},  # no guid, no date
    ]))
    result = ingest_feed(news_runtime, url)
    assert result.stored == 2 and result.source.startswith("feed:127.0.0.1")
    items = {i.title: i for i in news_runtime.news.list()}
    dated, undated = items["Stocks rally on upbeat jobs data"], items["Oil slumps as demand fears grow"]
    assert dated.published_at == datetime(2024, 3, 2, 15, 0, tzinfo=UTC) and dated.symbols == []
    assert undated.published_at is None and undated.symbols == [] and undated.id.startswith("sha256:")
    assert dated.id.endswith(":a-1")
    assert ingest_feed(news_runtime, url).stored == 0 and count(news_runtime) == 2
    atom_url = feeds.serve("/atom", atom([{"title": "Fed holds rates", "link": "http://example.test/c",
                                           "id": "urn:c", "updated": datetime(2024, 3, 3, tzinfo=UTC)}]),
                           "application/atom+xml")
    assert ingest_feed(news_runtime, atom_url).stored == 1 and count(news_runtime) == 3


def test_feed_that_is_not_xml_or_has_bad_entries_stores_nothing(news_runtime, feeds, monkeypatch):
    fast_retries(monkeypatch)
    html = feeds.serve("/page", "<html><body>not a feed {</body></html>", "text/html")
    with pytest.raises(BadInput, match="is not an RSS or Atom feed"):
        ingest_feed(news_runtime, html)
    junk = feeds.serve("/junk", "\x00\x01 garbage", "application/octet-stream")
    with pytest.raises(BadInput, match="is not an RSS or Atom feed"):
        ingest_feed(news_runtime, junk)
    untitled = feeds.serve("/untitled", rss([{"title": "ok", "link": "http://x.test/1"}, {"link": "http://x.test/2"}]))
    with pytest.raises(BadInput, match="entry 1 has no title"):
        ingest_feed(news_runtime, untitled)
    with pytest.raises(BadInput, match="HTTP 404"):
        ingest_feed(news_runtime, f"{feeds.url}/missing")
    feeds.fail_next(5, 500, "oops")
    with pytest.raises(ServiceUnavailable, match="HTTP 500"):
        ingest_feed(news_runtime, untitled)
    with pytest.raises(BadInput, match="http"):
        ingest_feed(news_runtime, "file:///etc/passwd")
    assert count(news_runtime) == 0


def test_window_is_half_open_by_publication_time(news_runtime, fake_news):
    fake_news.items = articles(4, ["AAPL"], T0, step=timedelta(hours=1))
    ingest_alpaca(news_runtime, "AAPL", START_MS)
    got = news_runtime.news.window("aapl", T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [i.id for i in got] == ["alpaca:1001", "alpaca:1002"]
    assert news_runtime.news.window("MSFT", T0, T0 + timedelta(days=1)) == []
    with pytest.raises(BadInput):
        news_runtime.news.window("AAPL", T0 + timedelta(days=1), T0)


def test_job_runs_for_a_trader_and_refuses_a_viewer(news_runtime, fake_news):
    fake_news.items = articles(3, ["MSFT"], T0)
    viewer = Actor(name="viewer@example.com", roles=frozenset({"viewer"}))
    with pytest.raises(PermissionDenied, match="trader"):
        start_news_ingest(news_runtime.jobs, viewer, symbols="MSFT", start_ms=START_MS)
    trader = Actor(name="trader@example.com", roles=frozenset({"viewer", "trader"}))
    job_id = start_news_ingest(news_runtime.jobs, trader, symbols="MSFT", start_ms=START_MS)
    job = news_runtime.jobs.get(job_id)
    assert job.status == "succeeded" and job.result["stored"] == 3 and job.progress == 1.0
    with pytest.raises(BadInput):
        start_news_ingest(news_runtime.jobs, trader, symbols="MSFT", feed="http://x.test/rss")


def test_cli_ingest_and_list(news_runtime, fake_news, feeds):
    fake_news.items = articles(3, ["AAPL"], T0)
    runner = CliRunner()
    done = runner.invoke(app, ["news", "ingest", "--source", "alpaca", "--symbols", "AAPL", "--start", "2024-03-01"])
    assert done.exit_code == 0, done.output
    assert "3 new stored" in done.output
    listed = runner.invoke(app, ["news", "list", "--symbol", "AAPL"])
    assert listed.exit_code == 0 and listed.output.count("AAPL") >= 3
    assert "2024-03-01 12:00" in listed.output
    url = feeds.serve("/bad", "nope", "text/plain")
    bad = runner.invoke(app, ["news", "ingest", "--feed", url])
    assert bad.exit_code == 2 and "not an RSS or Atom feed" in bad.output
    empty = runner.invoke(app, ["news", "list", "--symbol", "ZZZ"])
    assert "no news stored for ZZZ" in empty.output


@pytest.mark.postgres
def test_stored_once_and_windowed_on_postgresql(make_runtime, fake_news, postgres_url):
    runtime = make_runtime(database_url=postgres_url, alpaca_data_url=fake_news.url, alpaca_api_key=KEY_ID,
                           alpaca_api_secret=SECRET_KEY, alpaca_requests_per_minute=0)
    runtime.__dict__["sentiment"] = load_fallback()
    both = article(7, "AAPL and MSFT sign a cloud deal", T0, ["AAPL", "MSFT"])
    fake_news.items = [both, *articles(55, ["AAPL"], T0 + timedelta(minutes=1))]
    assert ingest_alpaca(runtime, "AAPL,MSFT", START_MS).stored == 56
    assert ingest_alpaca(runtime, "AAPL,MSFT", START_MS).stored == 0
    assert [i.id for i in runtime.news.window("MSFT", T0, T0 + timedelta(seconds=1))] == ["alpaca:7"]
    assert count(runtime) == 56
    runtime.engine.dispose()


@pytest.mark.postgres
def test_two_ingestions_storing_the_same_items_at_once_store_each_once(make_runtime, postgres_url):
    import threading

    from sqlalchemy import event

    from services.news.store import RawItem, Scored

    runtime = make_runtime(database_url=postgres_url)
    mine = [Scored(RawItem("alpaca", f"headline {i}", source_id=str(i), symbols=("AAPL",)), 0.1, "neutral", "m")
            for i in range(3)]
    theirs = mine[1:]
    raced = []

    def other_operator_first(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO news_items") and not raced:
            raced.append(True)
            worker = threading.Thread(target=lambda: raced.append(runtime.news.add(theirs)))
            worker.start()
            worker.join()

    event.listen(runtime.engine, "before_cursor_execute", other_operator_first)
    assert runtime.news.add(mine) == 1
    assert raced == [True, 2] and count(runtime) == 3
    assert sorted(s for i in runtime.news.list(symbol="AAPL") for s in i.symbols) == ["AAPL"] * 3
    runtime.engine.dispose()


def test_cancel_between_pages_keeps_what_was_stored_and_the_next_run_resumes(news_runtime, fake_news):
    fake_news.items = articles(120, ["AAPL"], T0)
    reports = []
    result = ingest_alpaca(news_runtime, "AAPL", START_MS, progress=lambda f, m: reports.append((f, m)),
                           cancelled=lambda: True)
    assert result.cancelled and result.stored == 50 and count(news_runtime) == 50
    assert "cancelled" in result.summary and reports and 0 < reports[-1][0] < 1
    assert ingest_alpaca(news_runtime, "AAPL", START_MS).stored == 70 and count(news_runtime) == 120
