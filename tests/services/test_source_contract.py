"""One contract for every CandleSource: Binance through ccxt, Alpaca stock and crypto bars through alpaca-py,
each against its fake. What only one source does (Binance's paging, Alpaca's page tokens, sessions, keys and
rate-limit headers) stays in test_connectors.py."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from services.core.errors import BadInput, ServiceUnavailable
from services.market_data import ohlcv
from services.market_data.connectors import open_source
from services.market_data.connectors.base import iso, market_id
from tests.support.sources import FAST, JSON, SourceCase, source_case

#: longer than the per-request timeout the settings give the sources
SLOW_S = 1.0


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture(params=["binance", "alpaca", "alpaca-crypto"])
def case(request, make_runtime, market_overrides, fake_binance, fake_alpaca, sleeps) -> Iterator[SourceCase]:
    settings = make_runtime(**{**market_overrides, "ingest_timeout_seconds": SLOW_S / 2}).settings
    source = open_source(request.param, settings, policy=FAST, sleep=sleeps.append)
    yield source_case(request.param, source, fake_binance if request.param == "binance" else fake_alpaca)


def fetched(case: SourceCase) -> pd.DataFrame:
    return pd.concat(list(case.source.fetch(case.symbol, case.interval, case.start_ms, case.end_ms)),
                     ignore_index=True)


def test_a_range_comes_as_contract_candles_inside_it(case):
    frame = fetched(case)
    ohlcv.validate(frame, case.interval)
    assert list(frame.columns[:6]) == list(ohlcv.BASE_COLUMNS)
    stamps = frame["timestamp"].to_numpy()
    assert len(stamps) and np.all(np.diff(stamps) > 0)
    assert case.start_ms <= stamps[0] and stamps[-1] < case.end_ms


def test_an_empty_range_asks_nothing(case):
    assert list(case.source.fetch(case.symbol, case.interval, case.end_ms, case.end_ms)) == []
    assert case.candle_calls() == []


def test_markets_spellings_and_intervals(case):
    markets = case.source.markets()
    assert markets == sorted(markets) and case.dataset_symbol in {market_id(m) for m in markets}
    assert case.source.resolve(case.dataset_symbol) == case.source.resolve(case.symbol) == case.symbol
    assert case.source.dataset_symbol(case.symbol) == case.dataset_symbol
    assert case.interval in case.source.intervals() and set(case.source.intervals()) <= set(ohlcv.INTERVALS)


def test_an_unknown_symbol_or_interval_is_bad_input_and_asks_for_no_candles(case):
    with pytest.raises(BadInput, match=f"{case.source.name} has no market '{case.unknown}'"):
        list(case.source.fetch(case.unknown, case.interval, case.start_ms, case.end_ms))
    with pytest.raises(BadInput, match="no '2m' candles"):
        list(case.source.fetch(case.symbol, "2m", case.start_ms, case.end_ms))
    assert case.candle_calls() == []


def test_a_server_error_is_retried(case, sleeps):
    expected = fetched(case)
    case.fake.fail_next(1, 500, case.server_error)
    pd.testing.assert_frame_equal(fetched(case), expected)
    assert len(sleeps) == 1 and sleeps[0] < 0.01


def test_a_timeout_is_retried(case, sleeps):
    expected = fetched(case)
    case.fake.slow_next(1, delay_s=SLOW_S)
    pd.testing.assert_frame_equal(fetched(case), expected)
    assert len(sleeps) == 1


def test_a_malformed_answer_is_retried_not_taken_for_the_end_of_data(case, sleeps):
    expected = fetched(case)
    case.fake.fail_next(1, 200, case.garbage, headers=JSON)
    pd.testing.assert_frame_equal(fetched(case), expected)
    assert len(sleeps) == 1


def test_a_429_waits_as_long_as_retry_after_says(case, sleeps):
    case.fake.fail_next(1, 429, case.rate_limited, headers={"Retry-After": "3"})
    assert len(fetched(case))
    assert sleeps == [3.0]


def test_retries_are_bounded_and_the_error_names_the_request(case, sleeps):
    case.fake.fail_next(3, 503, case.server_error)
    with pytest.raises(ServiceUnavailable, match="after 3 attempts") as caught:
        fetched(case)
    assert f"{case.interval} from {iso(case.start_ms)}" in str(caught.value)
    assert len(case.candle_calls()) == 3 and len(sleeps) == 2
