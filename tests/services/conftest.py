"""Fixtures of the market-data tests: fake Binance and Alpaca servers, a runtime pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.connectors import MARKETS
from services.runtime import Runtime
from tests.fakes.alpaca import KEY, SECRET, FakeAlpaca
from tests.fakes.binance import FakeBinance


@pytest.fixture
def fake_binance() -> Iterator[FakeBinance]:
    """A fake Binance on loopback (its clock: 2025-01-01T00:00Z)."""
    MARKETS.clear()
    with FakeBinance() as fake:
        yield fake


@pytest.fixture
def fake_alpaca() -> Iterator[FakeAlpaca]:
    """A fake Alpaca (data and trading API on one server)."""
    MARKETS.clear()
    with FakeAlpaca() as fake:
        yield fake


@pytest.fixture
def market_runtime(make_runtime, fake_binance, fake_alpaca) -> Runtime:
    """A runtime whose sources are the fakes, with Alpaca keys, tiny backoffs and no Alpaca throttle."""
    return make_runtime(
        binance_api_url=fake_binance.url, alpaca_data_url=fake_alpaca.url, alpaca_base_url=fake_alpaca.url,
        alpaca_api_key=KEY, alpaca_api_secret=SECRET, alpaca_requests_per_minute=0,
        ingest_retry_attempts=3, ingest_retry_base_delay_s=0.001, ingest_timeout_s=2,
    )
