"""Fixtures of the market-data tests: fake Binance and Alpaca (data and trading API), a runtime on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.market_data.connectors import MARKETS
from services.runtime import Runtime
from tests.fakes.alpaca_data import FakeAlpacaData
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.fakes.binance import FakeBinance


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    """A fake Binance on loopback (its clock: 2025-01-01T00:00Z)."""
    MARKETS.clear()
    with FakeBinance() as fake:
        yield fake


@pytest.fixture
def fake_alpaca() -> Iterator[FakeAlpacaData]:
    """A fake Alpaca market data API (same clock)."""
    MARKETS.clear()
    with FakeAlpacaData() as fake:
        yield fake


@pytest.fixture
def fake_alpaca_trading() -> Iterator[FakeAlpacaTrading]:
    """A fake Alpaca trading API: it serves the asset lists."""
    with FakeAlpacaTrading() as fake:
        yield fake


@pytest.fixture
def market_overrides(fake_binance, fake_alpaca, fake_alpaca_trading) -> dict:
    """Settings pointing every source at the fakes, with Alpaca keys, tiny backoffs and no Alpaca throttle."""
    return dict(
        binance_api_url=fake_binance.url, alpaca_data_url=fake_alpaca.url, alpaca_base_url=fake_alpaca_trading.url,
        alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY, alpaca_requests_per_minute=0,
        ingest_retry_attempts=3, ingest_retry_base_delay_seconds=0.001, ingest_timeout_seconds=2,
    )


@pytest.fixture
def market_runtime(make_runtime, market_overrides) -> Runtime:
    """A runtime whose sources are the fakes."""
    return make_runtime(**market_overrides)
