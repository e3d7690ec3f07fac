"""The Alpaca paper venue: alpaca-py's TradingClient against a fake Alpaca trading API on loopback.

What every venue promises (idempotent ids, conflicts, cancel, lost and late answers) is in test_venue_contract.py.
"""

from __future__ import annotations

import pytest
from alpaca.trading.models import Asset, Order, Position, TradeAccount

from services.core.errors import ConfigError
from services.trading.execution.alpaca_paper import AlpacaPaperVenue
from services.trading.execution.base import VenueOrderRequest, VenueRejected, VenueUnavailable
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.support.venues import FAST, TIMEOUT_S

BUY = VenueOrderRequest("run7-prop3", "AAPL", "buy", "market", 2.0, reference_price=199.0)
LIMIT = VenueOrderRequest("run7-prop4", "AAPL", "buy", "limit", 1.5, limit_price=150.0)


@pytest.fixture
def fake():
    with FakeAlpacaTrading() as server:
        yield server


@pytest.fixture
def connect(make_runtime, fake):
    def build(key: str = KEY_ID, secret: str = SECRET_KEY, url: str | None = None) -> AlpacaPaperVenue:
        runtime = make_runtime(execution_venue="alpaca-paper", alpaca_api_key=key, alpaca_api_secret=secret,
                               alpaca_base_url=url or fake.url, alpaca_timeout_seconds=TIMEOUT_S)
        return AlpacaPaperVenue(runtime.settings, policy=FAST)

    return build


@pytest.fixture
def venue(connect) -> AlpacaPaperVenue:
    return connect()


def test_a_market_order_goes_out_with_our_client_order_id_and_fills(venue, fake):
    placed = venue.submit(BUY)

    assert (placed.client_order_id, placed.status, placed.raw_status) == ("run7-prop3", "filled", "filled")
    assert (placed.filled_quantity, placed.average_price, placed.fee) == (2.0, 200.0, None)
    (post,) = fake.calls("POST", "/v2/orders")
    assert post.json() == {"symbol": "AAPL", "qty": 2.0, "side": "buy", "type": "market", "time_in_force": "day",
                           "client_order_id": "run7-prop3"}
    assert (post.headers["apca-api-key-id"], post.headers["apca-api-secret-key"]) == (KEY_ID, SECRET_KEY)
    assert venue.lookup("run7-prop3") == placed


def test_crypto_orders_are_good_till_cancelled(venue, fake):
    venue.submit(VenueOrderRequest("run7-prop5", "BTCUSD", "buy", "market", 0.01))
    assert fake.calls("POST", "/v2/orders")[0].json()["time_in_force"] == "gtc"


def test_a_limit_order_rests_and_can_be_cancelled(venue, fake):
    resting = venue.submit(LIMIT)
    assert (resting.status, resting.raw_status, resting.filled_quantity) == ("submitted", "new", 0.0)
    assert fake.calls("POST", "/v2/orders")[0].json()["limit_price"] == 150.0

    cancelled = venue.cancel(LIMIT.client_order_id)

    assert (cancelled.status, cancelled.raw_status) == ("cancelled", "canceled")
    assert fake.calls("DELETE", f"/v2/orders/{resting.venue_order_id}")



def test_a_refusal_is_rejected_and_nothing_is_placed(venue, fake):
    with pytest.raises(VenueRejected, match="insufficient buying power") as refused:
        venue.submit(VenueOrderRequest("run7-prop6", "BRK.A", "buy", "market", 1.0))
    assert (refused.value.code, refused.value.status_code) == ("40310000", 403)
    assert venue.lookup("run7-prop6") is None
    assert fake.creations == 0



def test_an_alpaca_that_keeps_failing_is_unavailable_and_the_sdk_never_resends(venue, fake):
    venue.lot_size("AAPL")  # the asset is known before Alpaca goes down
    fake.fail_next(10, 504, {"code": 50410000, "message": "gateway timeout"})
    with pytest.raises(VenueUnavailable, match="HTTP 504") as down:
        venue.submit(BUY)
    assert (down.value.code, down.value.status_code) == ("ALPACA_UNAVAILABLE", 504)
    assert fake.creations == 0
    assert len(fake.calls("POST")) == 1  # alpaca-py alone would resend a 504 three times, 3 s apart


def test_the_account_and_positions(venue, fake):
    venue.submit(BUY)
    fake.prices["AAPL"] = 210.0

    account = venue.account()

    assert (account.cash, account.equity) == (99600.0, 100020.0)
    assert [(p.symbol, p.quantity, p.avg_price, p.current_price, p.unrealized_pnl) for p in account.positions] == [
        ("AAPL", 2.0, 200.0, 210.0, 20.0)]
    assert (account.pnl_total, account.realized_pnl, account.mode, account.venue) == (
        20.0, None, "PAPER", "alpaca-paper")


def test_lot_sizes_come_from_the_asset(venue):
    assert venue.lot_size("AAPL") == 1e-9
    assert venue.lot_size("BRK.A") == 1.0
    assert venue.lot_size("BTCUSD") == 1e-9
    with pytest.raises(VenueRejected, match="does not list the symbol NOPE"):
        venue.lot_size("NOPE")


def test_wrong_keys_are_refused_and_never_shown(connect):
    venue = connect(secret="wrong-secret-do-not-print")
    with pytest.raises(VenueRejected, match=r"HTTP 401.*check ALPACA_API_KEY") as refused:
        venue.ping()
    assert "wrong-secret-do-not-print" not in f"{refused.value} {refused.value!r}"


def test_the_keys_never_appear_in_an_error(venue, fake):
    fake.fail_next(1, 403, {"code": 40310000, "message": f"key {KEY_ID} with secret {SECRET_KEY} is blocked"})
    with pytest.raises(VenueRejected) as refused:
        venue.account()
    message = f"{refused.value} {refused.value!r}"
    assert "***" in message and KEY_ID not in message and SECRET_KEY not in message


def test_the_live_trading_address_is_refused(connect):
    with pytest.raises(ConfigError, match="live trading API"):
        connect(url="https://api.alpaca.markets")


def test_the_fake_speaks_what_alpaca_py_parses(venue, fake):
    """The fake's JSON validates against alpaca-py's own models, so the fake is faithful to the wire format."""
    venue.submit(BUY)
    venue.submit(LIMIT)
    client = venue._client
    for order in fake.orders.values():
        Order(**order)
    TradeAccount(**client.get_account())
    [Position(**p) for p in client.get_all_positions()]
    Asset(**client.get_asset("BTCUSD"))
