"""AppTest of the Ingest panel: an ingest from the fake Binance runs to completion and the dataset appears."""

from __future__ import annotations

import pytest

from services.core import clock
from services.market_data.datasets import DatasetRef
from tests.fakes.binance import FakeBinance


@pytest.fixture
def binance(make_runtime):
    with FakeBinance(now_ms=clock.now_ms()) as fake:
        yield make_runtime(binance_api_url=fake.api_url), fake


def test_ingest_from_binance_to_completion(binance, page_app):
    runtime, fake = binance
    at = page_app("market_data")
    at.session_state["market_tab"] = "Ingest"
    at.run()
    assert not at.exception
    at.selectbox(key="ingest_source").select("binance").run()
    assert "BTC/USDT" in at.selectbox(key="ingest_symbol").options
    at.selectbox(key="ingest_symbol").select("BTC/USDT")
    at.selectbox(key="ingest_interval").select("1h").run()
    at.button(key="ingest_go").click().run()
    assert not at.exception
    manifest = runtime.datasets.manifest(DatasetRef.parse("binance/BTCUSDT/1h"))
    assert 700 <= manifest.rows <= 31 * 24
    job = runtime.jobs.list(kind="ingest")[0]
    assert job.status == "succeeded" and job.metrics["candles"] == manifest.rows
    at.run()
    assert any("binance/BTCUSDT/1h" in c.value for c in at.caption)
    calls = len(fake.klines_calls())
    at.button(key="update_all").click().run()  # nothing new since: fetches nothing
    assert runtime.jobs.list(kind="update")[0].status == "succeeded"
    assert len(fake.klines_calls()) - calls <= 1


def test_missing_alpaca_keys_are_named(runtime, page_app):
    at = page_app("market_data")
    at.session_state["market_tab"] = "Ingest"
    at.run()
    at.selectbox(key="ingest_source").select("alpaca").run()
    assert any("ALPACA_API_KEY" in w.value for w in at.warning)


def test_offline_a_typed_symbol_is_accepted_and_checked_when_the_job_runs(make_runtime, page_app):
    from services.market_data.connectors import MARKETS

    MARKETS.clear()
    runtime = make_runtime(binance_api_url="http://127.0.0.1:9", ingest_timeout_seconds=0.2,
                           ingest_retry_attempts=1)
    at = page_app("market_data")
    at.session_state["market_tab"] = "Ingest"
    at.run()
    at.selectbox(key="ingest_source").select("binance").run()
    assert any("Could not list binance's markets" in w.value for w in at.warning)
    at.text_input(key="ingest_symbol_typed").input("BTC/USDT").run()
    at.button(key="ingest_go").click().run()
    assert not at.exception
    job = runtime.jobs.list(kind="ingest")[0]
    assert job.params["symbol"] == "BTC/USDT" and job.status == "failed"  # checked (and refused) by the job
    dismiss = at.button(key=f"dismiss_{job.id}")
    assert [e for e in at.error if job.error in e.value]
    dismiss.click().run()
    assert not [e for e in at.error if job.error in e.value]
    assert not [b for b in at.button if b.key == f"dismiss_{job.id}"]
    MARKETS.clear()


def test_no_update_is_offered_for_a_dataset_without_a_source(runtime, page_app):
    from services.market_data.seed import seed

    seed(runtime.datasets)
    at = page_app("market_data")
    at.query_params["dataset"] = "sample/AAPL/1d"
    at.session_state["market_tab"] = "Ingest"
    at.run()
    assert not [b for b in at.button if b.key == "update_one"]
    assert any("no source to fetch from" in c.value for c in at.caption)
