"""Connectors: the real ccxt and alpaca-py clients against fake Binance and Alpaca servers.

What every source promises (contract candles, bad input, retries, bounded failures) is in test_source_contract.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from services.core.errors import BadInput, ServiceUnavailable
from services.market_data import ohlcv
from services.market_data.connectors import MissingCredentials, list_sources, open_source, source_exchange_id
from services.market_data.connectors.alpaca_source import Throttle
from tests.fakes.alpaca_trading import KEY_ID
from tests.support.sources import DAY, FAST, MINUTE, NOW


@pytest.fixture
def settings(make_runtime, market_overrides):
    return make_runtime(**{**market_overrides, "ingest_timeout_seconds": 0.5}).settings


@pytest.fixture
def bare(make_runtime, fake_alpaca, fake_alpaca_trading):
    """Settings with the Alpaca URLs of the fakes and no keys at all."""
    return make_runtime(alpaca_data_url=fake_alpaca.url, alpaca_base_url=fake_alpaca_trading.url,
                        alpaca_requests_per_minute=0).settings


@pytest.fixture
def sleeps() -> list[float]:
    return []


def source(settings, name: str, sleeps: list[float], **attributes):
    opened = open_source(name, settings, policy=FAST, sleep=sleeps.append)
    for key, value in attributes.items():
        setattr(opened, key, value)
    return opened


def warm(opened):
    """The source with its market list loaded, so failures injected next hit candle requests."""
    opened.markets()
    return opened


def collect(pages) -> pd.DataFrame:
    return pd.concat(list(pages), ignore_index=True)


# --- Binance through ccxt ------------------------------------------------------------------------------
def test_binance_pages_through_a_range_with_since_and_limit(settings, sleeps, fake_binance):
    binance = source(settings, "binance", sleeps)
    start = NOW - 2500 * MINUTE
    frame = collect(binance.fetch("BTC/USDT", "1m", start, NOW))
    assert len(frame) == 2500 and frame["timestamp"].iloc[0] == start and frame["timestamp"].iloc[-1] == NOW - MINUTE
    ohlcv.validate(frame, "1m")
    calls = fake_binance.klines_calls()
    assert [int(c.query["startTime"]) for c in calls] == [start, start + 1000 * MINUTE, start + 2000 * MINUTE]
    assert [int(c.query["limit"]) for c in calls] == [1000, 1000, 500]
    assert {c.query["symbol"] for c in calls} == {"BTCUSDT"}


def test_binance_lists_every_market_and_interval_and_takes_any_case(settings, sleeps):
    binance = source(settings, "binance", sleeps)
    assert binance.markets() == ["BTC/USDT", "ETH/BTC", "ETH/USDT"]
    assert binance.intervals() == ohlcv.INTERVALS
    assert binance.resolve("btcusdt") == "BTC/USDT"


def test_sources_store_datasets_under_their_exchange_id():
    assert [source_exchange_id(n) for n in ("binance", "alpaca", "alpaca-crypto", "Kraken")] == [
        "binance", "alpaca", "alpaca-crypto", "kraken"]


def test_a_range_before_the_listing_is_empty(settings, sleeps, fake_binance):
    binance = source(settings, "binance", sleeps)
    fake_binance.listings["BTCUSDT"].listed_ms = NOW - DAY
    assert list(binance.fetch("BTC/USDT", "1h", NOW - 30 * DAY, NOW - 20 * DAY)) == []
    assert len(fake_binance.klines_calls()) == 1


def test_an_unknown_source_is_bad_input(settings):
    with pytest.raises(BadInput, match="unknown source 'nasdaq'"):
        open_source("nasdaq", settings)


def test_symbol_the_exchange_rejects_maps_binance_error_1121(settings, sleeps, fake_binance):
    binance = source(settings, "binance", sleeps)
    binance.markets()
    del fake_binance.listings["ETHBTC"]  # delisted after the market list was loaded
    with pytest.raises(BadInput, match="invalid symbol"):
        list(binance.fetch("ETH/BTC", "1m", NOW - DAY, NOW))



def test_a_malformed_market_list_is_retried_not_cached_as_empty(settings, sleeps, fake_binance):
    fake_binance.malformed_next()
    binance = warm(source(settings, "binance", sleeps))
    assert len(sleeps) == 1 and binance.markets() == ["BTC/USDT", "ETH/BTC", "ETH/USDT"]



def test_a_failed_market_list_is_remembered_for_a_while_not_retried_on_every_rerun(make_runtime, sleeps,
                                                                                   fake_binance):
    down = make_runtime(binance_api_url="http://127.0.0.1:9", ingest_timeout_seconds=0.2).settings
    with pytest.raises(ServiceUnavailable) as first:
        source(down, "binance", sleeps).markets()
    tried = len(sleeps)
    assert tried >= FAST.attempts - 1
    for _ in range(3):  # a page rerun opens a new source object each time
        with pytest.raises(ServiceUnavailable) as again:
            source(down, "binance", sleeps).markets()
        assert str(again.value) == str(first.value)
    assert len(sleeps) == tried


# --- Alpaca through alpaca-py --------------------------------------------------------------------------
def test_alpaca_stocks_follow_next_page_token(settings, sleeps, fake_alpaca):
    alpaca = source(settings, "alpaca", sleeps, page_size=100)
    start = NOW - 3 * DAY  # Sun 29 Dec – Tue 31 Dec 2024: two sessions of 390 minutes
    frame = collect(alpaca.fetch("AAPL", "1m", start, NOW))
    assert len(frame) == 780 and list(frame.columns) == [*ohlcv.BASE_COLUMNS, "vwap", "trades"]
    ohlcv.validate(frame, "1m")
    calls = fake_alpaca.bar_calls()
    assert len(calls) == 8 and "page_token" not in calls[0].query and all("page_token" in c.query for c in calls[1:])
    assert calls[0].query["feed"] == "iex" and calls[0].query["adjustment"] == "all"
    assert calls[0].query["timeframe"] == "1Min" and calls[0].headers["apca-api-key-id"] == KEY_ID


def test_alpaca_daily_bars_are_dated_by_session_on_the_utc_grid(settings, sleeps):
    frame = collect(source(settings, "alpaca", sleeps).fetch("AAPL", "1d", NOW - 10 * DAY, NOW))
    ohlcv.validate(frame, "1d")
    days = pd.to_datetime(frame["timestamp"], unit="ms").dt.strftime("%m-%d").tolist()
    assert days == ["12-23", "12-24", "12-25", "12-26", "12-27", "12-30", "12-31"]


def test_alpaca_crypto_needs_no_keys_for_candles(bare, sleeps, fake_alpaca):
    crypto = source(bare, "alpaca-crypto", sleeps)
    frame = collect(crypto.fetch("BTCUSD", "1h", NOW - DAY, NOW))
    assert len(frame) == 24 and crypto.dataset_symbol(crypto.resolve("BTCUSD")) == "BTCUSD"
    assert fake_alpaca.bar_calls()[0].query["symbols"] == "BTC/USD"
    with pytest.raises(MissingCredentials, match="ALPACA_API_KEY and ALPACA_API_SECRET"):
        crypto.markets()


def test_missing_alpaca_credentials_name_the_variables(bare, sleeps, fake_alpaca, fake_alpaca_trading):
    half = bare.model_copy(update={"alpaca_api_key": SecretStr("k")})
    with pytest.raises(MissingCredentials, match="Alpaca stock data needs ALPACA_API_SECRET"):
        list(source(half, "alpaca", sleeps).fetch("AAPL", "1d", NOW - DAY, NOW))
    status = {s.name: s.missing_credentials for s in list_sources(bare)}
    assert status["binance"] is None and status["alpaca-crypto"] is None
    assert "ALPACA_API_KEY and ALPACA_API_SECRET" in status["alpaca"]
    assert fake_alpaca.requests == fake_alpaca_trading.requests == []


def test_alpaca_wrong_keys_are_refused_by_name(settings, sleeps):
    wrong = settings.model_copy(update={"alpaca_api_key": SecretStr("nope"), "alpaca_api_secret": SecretStr("no")})
    with pytest.raises(BadInput, match=r"refused ALPACA_API_KEY / ALPACA_API_SECRET \(HTTP 401\)"):
        source(wrong, "alpaca", sleeps).markets()


def test_alpaca_429_waits_for_the_rate_limit_reset(settings, sleeps, fake_alpaca):
    fake_alpaca.rate_limit_next(reset_in_s=2)
    frame = collect(source(settings, "alpaca-crypto", sleeps).fetch("BTC/USD", "1h", NOW - DAY, NOW))
    assert len(frame) == 24 and len(sleeps) == 1 and 0.9 < sleeps[0] <= 2.0  # X-RateLimit-Reset is 2 s ahead


def test_alpaca_429_retry_after_wins(settings, sleeps, fake_alpaca):
    fake_alpaca.rate_limit_next(reset_in_s=2, retry_after="3")
    collect(source(settings, "alpaca", sleeps).fetch("AAPL", "1d", NOW - 5 * DAY, NOW))
    assert sleeps == [3.0]



def test_alpaca_throttle_spaces_requests_200_a_minute():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    throttle = Throttle(per_minute=200, sleep=sleep, monotonic=lambda: now[0])
    for _ in range(3):
        throttle.wait()
    now[0] += 10
    throttle.wait()
    assert np.allclose(waits, [0.3, 0.3])
