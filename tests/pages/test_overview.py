"""AppTest of the Overview page: real numbers from the records, the venue and the catalog."""

from __future__ import annotations

from services.market_data.seed import seed
from tests.support.orders import proposal, write_prices


def test_overview_counts_pending_and_shows_freshness(runtime, page_app):
    seed(runtime.datasets)
    write_prices(runtime)
    runtime.orders.propose("run-1", [proposal("a"), proposal("b")])
    at = page_app("overview")
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pending approvals"] == "2"
    assert metrics["Equity"] == "100,000.00"
    assert metrics["Kill switch"] == "off"
    fresh = at.dataframe[-1].value
    assert "sample/AAPL/1d" in set(fresh["dataset"]) and fresh["age"].str.endswith("ago").all()


def test_overview_says_when_the_venue_is_down(make_runtime, page_app):
    make_runtime(execution_venue="live-engine", live_engine_url="http://127.0.0.1:9",
                 live_engine_service_api_key="k", live_engine_timeout_seconds=0.2)
    at = page_app("overview")
    at.run(timeout=60)
    assert any("did not answer" in e.value for e in at.error)


def test_overview_says_stale_and_links_to_approvals_in_the_same_session(runtime, page_app):
    seed(runtime.datasets)
    write_prices(runtime)
    runtime.orders.propose("run-1", [proposal("a")])
    at = page_app("overview")
    at.run()
    assert not at.exception
    assert not [m for m in at.markdown if "](./approvals)" in m.value]
    links = [e.proto for e in at.get("page_link")]
    assert [(link.page, link.external) for link in links] == [("approvals", False)]
    fresh = at.dataframe[-1].value
    assert set(fresh["status"]) == {"stale"}  # the sample datasets end years ago
    assert fresh["last candle"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
