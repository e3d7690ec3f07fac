"""The venue interface: order requests, the one status mapping, the venue chosen by EXECUTION_VENUE."""

from __future__ import annotations

import pytest

from services.core.errors import BadInput
from services.trading.execution.alpaca_paper import AlpacaPaperVenue
from services.trading.execution.base import VenueOrderRequest
from services.trading.execution.factory import open_venue
from services.trading.execution.live_engine import LiveEngineVenue
from services.trading.execution.paper import PaperVenue
from services.trading.execution.statuses import ALPACA, LIVE_ENGINE, order_status


@pytest.mark.parametrize(("raw", "filled", "ours"), [
    ("queued", 0, "submitted"),
    ("open", 0, "submitted"),
    ("working", 0, "submitted"),
    ("pending", 0, "submitted"),
    ("pending", 0.5, "partially_filled"),
    ("partially_filled", 0, "partially_filled"),
    ("executed", 1, "filled"),
    ("filled", 1, "filled"),
    ("canceled", 0, "cancelled"),
    ("cancelled", 0, "cancelled"),
    ("rejected", 0, "failed"),
    ("error", 0, "failed"),
    ("EXECUTED", 1, "filled"),
    ("teleported", 0, "failed"),
    ("", 0, "failed"),
    (None, 0, "failed"),
])
def test_live_engine_statuses_map_as_upstream(raw, filled, ours):
    assert order_status("live-engine", raw, filled) == ours


@pytest.mark.parametrize(("raw", "filled", "ours"), [
    ("new", 0, "submitted"),
    ("accepted", 0, "submitted"),
    ("pending_new", 0, "submitted"),
    ("held", 0, "submitted"),
    ("partially_filled", 3, "partially_filled"),
    ("done_for_day", 3, "partially_filled"),
    ("pending_cancel", 0, "submitted"),
    ("filled", 5, "filled"),
    ("canceled", 0, "cancelled"),
    ("expired", 0, "cancelled"),
    ("replaced", 0, "cancelled"),
    ("rejected", 0, "failed"),
    ("some_future_status", 0, "failed"),
])
def test_alpaca_statuses_map_to_ours(raw, filled, ours):
    assert order_status("alpaca-paper", raw, filled) == ours


def test_every_alpaca_sdk_status_has_a_mapping():
    from alpaca.trading.enums import OrderStatus

    assert {status.value for status in OrderStatus} == set(ALPACA)
    assert {"queued", "open", "working", "partially_filled", "executed", "canceled", "rejected", "error"} <= set(
        LIVE_ENGINE)


@pytest.mark.parametrize(("fields", "problem"), [
    ({"client_order_id": "x" * 33}, "1-32 characters"),
    ({"client_order_id": "run_1/proposal"}, "1-32 characters"),
    ({"client_order_id": ""}, "1-32 characters"),
    ({"side": "short"}, "buy or sell"),
    ({"type": "stop"}, "market or limit"),
    ({"quantity": 0}, "positive"),
    ({"quantity": float("nan")}, "positive"),
    ({"type": "limit"}, "needs a positive limit price"),
    ({"limit_price": 10.0}, "must not carry a limit price"),
    ({"symbol": ""}, "venue market id"),
])
def test_order_request_refuses_what_no_venue_takes(fields, problem):
    values = {"client_order_id": "r1-p1", "symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": 1.0}
    with pytest.raises(BadInput, match=problem):
        VenueOrderRequest(**{**values, **fields})


def test_a_32_character_id_of_letters_digits_and_dashes_is_accepted():
    request = VenueOrderRequest("a" * 20 + "-" + "0" * 11, "AAPL", "sell", "limit", 2.0, limit_price=10.0)
    assert len(request.client_order_id) == 32


@pytest.mark.parametrize(("venue", "kind"), [
    ("paper", PaperVenue), ("live-engine", LiveEngineVenue), ("alpaca-paper", AlpacaPaperVenue),
])
def test_the_venue_is_the_one_execution_venue_names(make_runtime, venue, kind):
    every_key = dict(live_engine_url="http://127.0.0.1:9", live_engine_service_api_key="k",
                     alpaca_api_key="a", alpaca_api_secret="s", alpaca_base_url="http://127.0.0.1:9")
    runtime = make_runtime(execution_venue=venue, **every_key)
    with open_venue(runtime.settings, runtime.engine, lambda symbol: 1.0) as opened:
        assert type(opened) is kind
        assert opened.name == venue
        assert opened.mode == ("LIVE" if venue == "live-engine" else "PAPER")
