"""Market hours: crypto always open, Alpaca's US stocks by the NYSE calendar, history datasets unknown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.core.auth import local_operator
from services.core.errors import Conflict
from services.market_data.market_hours import market_open, open_by_symbol
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.orders import write_prices

MONDAY_10_NY = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
THANKSGIVING = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def test_open_closed_and_unknown():
    assert market_open("alpaca", MONDAY_10_NY) is True
    assert market_open("alpaca", SATURDAY) is False
    assert market_open("alpaca", THANKSGIVING) is False
    assert market_open("binance", SATURDAY) is True and market_open("kraken", SATURDAY) is True
    assert market_open("sample", MONDAY_10_NY) is None and market_open("upload", SATURDAY) is None
    assert open_by_symbol({"AAPL": "alpaca/AAPL/1d", "X": ""}, SATURDAY) == {"AAPL": False, "X": None}


def test_approval_is_refused_while_the_stock_market_is_closed(runtime, monkeypatch):
    write_prices(runtime, symbol="AAPL")
    (order,) = runtime.orders.propose("run-1", [Proposal("a", "AAPL", "buy", 1, 100.0, dataset_ref="alpaca/AAPL/1d",
                                                         checks=[Check("max order notional", True, 100.0, 1e6)])])
    monkeypatch.setattr("services.market_data.market_hours.clock.now", lambda: SATURDAY)
    with pytest.raises(Conflict, match="market open: closed"):
        runtime.orders.approve(order.id, local_operator())
    monkeypatch.setattr("services.market_data.market_hours.clock.now", lambda: MONDAY_10_NY)
    assert runtime.orders.approve(order.id, local_operator()).status == "approved"
