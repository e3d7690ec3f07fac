"""The paper venue on SQLite and on PostgreSQL: fills, slippage and fees, limits, cash, positions, P&L, races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from services.core.db import ensure_schema, make_engine
from services.core.errors import DatasetNotFound, StorageUnavailable
from services.core.records import paper_accounts, paper_fills, paper_orders, paper_positions
from services.trading.execution.base import VenueConflict, VenueOrderRequest, VenueRejected, VenueUnavailable
from services.trading.execution.paper import PaperVenue

SLIPPAGE_BPS, FEE_BPS, CASH = 10.0, 20.0, 10_000.0


class Quotes(dict):
    """Latest prices by symbol; a symbol without one raises like the datasets do."""

    def __call__(self, symbol: str, _dataset_ref: str | None = None) -> float:
        if symbol not in self:
            raise DatasetNotFound(f"no dataset for {symbol}")
        price = self[symbol]
        if isinstance(price, Exception):
            raise price
        return price


@pytest.fixture(scope="module")
def postgres_records(postgres_module_url):
    """The paper tables on one migrated PostgreSQL database for this module."""
    engine = make_engine(postgres_module_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def records(request, tmp_path):
    """A migrated records database without paper rows: SQLite in a temp folder, or the module's PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'records.db'}")
        ensure_schema(engine)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("postgres_records")
    with engine.begin() as connection:
        for table in (paper_fills, paper_orders, paper_positions, paper_accounts):
            connection.execute(table.delete())
    yield engine


@pytest.fixture
def quotes() -> Quotes:
    return Quotes(BTCUSDT=100.0, ETHUSDT=10.0)


@pytest.fixture
def venue(records, quotes) -> PaperVenue:
    return PaperVenue(records, quotes, slippage_bps=SLIPPAGE_BPS, fee_bps=FEE_BPS, initial_cash=CASH)


def order(client_order_id: str, side: str = "buy", quantity: float = 2.0, limit: float | None = None,
          symbol: str = "BTCUSDT") -> VenueOrderRequest:
    return VenueOrderRequest(client_order_id, symbol, side, "limit" if limit else "market", quantity,
                             limit_price=limit, reference_price=99.0)


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_market_buy_fills_at_the_quote_plus_slippage_and_pays_the_fee(venue):
    filled = venue.submit(order("r1-p1"))

    assert (filled.status, filled.raw_status, filled.filled_quantity) == ("filled", "filled", 2.0)
    assert filled.average_price == pytest.approx(100.1)  # 10 bps against the buyer
    assert filled.fee == pytest.approx(200.2 * 0.002)  # 20 bps of the notional
    assert filled.venue_order_id.startswith("paper-")
    account = venue.account()
    assert account.cash == pytest.approx(CASH - 200.2 - 0.4004)
    assert [(p.symbol, p.quantity, p.avg_price, p.current_price) for p in account.positions] == [
        ("BTCUSDT", 2.0, pytest.approx(100.1), 100.0)]
    assert account.positions[0].unrealized_pnl == pytest.approx(-0.2)
    assert (account.mode, account.venue) == ("PAPER", "paper")


def test_a_sell_realizes_pnl_against_the_average_price_and_pnl_adds_up(venue, quotes):
    venue.submit(order("r1-p1", quantity=2.0))
    quotes["BTCUSDT"] = 110.0
    sold = venue.submit(order("r1-p2", side="sell", quantity=1.0))

    assert sold.average_price == pytest.approx(109.89)  # 10 bps against the seller
    account = venue.account()
    realized = 109.89 - 100.1
    fees = 200.2 * 0.002 + 109.89 * 0.002
    assert account.realized_pnl == pytest.approx(realized)
    position = account.positions[0]
    assert (position.quantity, position.avg_price) == (pytest.approx(1.0), pytest.approx(100.1))
    assert position.unrealized_pnl == pytest.approx(110.0 - 100.1)
    assert account.equity == pytest.approx(account.cash + 110.0)
    assert account.pnl_total == pytest.approx(realized + position.unrealized_pnl - fees)


def test_selling_everything_closes_the_position_and_keeps_its_realized_pnl(venue, quotes):
    venue.submit(order("r1-p1", quantity=0.3))
    venue.submit(order("r1-p2", quantity=0.7))
    venue.submit(order("r1-p3", side="sell", quantity=1.0))

    account = venue.account()
    assert account.positions == ()
    assert account.realized_pnl == pytest.approx(99.9 - 100.1)
    assert account.equity == account.cash


def test_a_limit_buy_rests_until_the_quote_crosses_then_fills_on_lookup(venue, quotes):
    resting = venue.submit(order("r1-p1", limit=95.0))
    assert (resting.status, resting.filled_quantity, resting.average_price) == ("submitted", 0.0, None)
    assert venue.lookup("r1-p1").status == "submitted"

    quotes["BTCUSDT"] = 94.0
    filled = venue.lookup("r1-p1")
    assert filled.status == "filled"
    assert filled.average_price == pytest.approx(94.094)
    assert count(venue.engine, paper_fills) == 1


def test_a_limit_fill_never_pays_worse_than_the_limit(venue, quotes):
    quotes["BTCUSDT"] = 95.0
    assert venue.submit(order("r1-p1", limit=95.0)).average_price == 95.0  # 95.095 after slippage, capped
    quotes["BTCUSDT"] = 105.0
    assert venue.submit(order("r1-p2", side="sell", quantity=1.0, limit=105.0)).average_price == 105.0


def test_a_limit_sell_that_crosses_at_once_fills_at_once(venue, quotes):
    venue.submit(order("r1-p1"))
    quotes["BTCUSDT"] = 110.0
    sold = venue.submit(order("r1-p2", side="sell", quantity=1.0, limit=105.0))
    assert (sold.status, sold.average_price) == ("filled", pytest.approx(109.89))


def test_poll_open_fills_only_the_crossed_limits(venue, quotes):
    venue.submit(order("r1-p1", limit=95.0))
    venue.submit(order("r1-p2", limit=90.0))
    venue.submit(order("r1-p3", symbol="ETHUSDT", quantity=1.0, limit=9.0))
    quotes["BTCUSDT"], quotes["ETHUSDT"] = 93.0, 9.5

    filled = venue.poll_open()

    assert [o.client_order_id for o in filled] == ["r1-p1"]
    assert venue.poll_open() == []
    assert [venue.lookup(i).status for i in ("r1-p1", "r1-p2", "r1-p3")] == ["filled", "submitted", "submitted"]


def test_submitting_the_same_id_again_returns_the_first_order(venue, quotes):
    first = venue.submit(order("r1-p1"))
    quotes["BTCUSDT"] = 150.0
    again = venue.submit(order("r1-p1"))

    assert again == first
    assert count(venue.engine, paper_orders) == 1
    assert count(venue.engine, paper_fills) == 1
    assert venue.account().cash == pytest.approx(CASH - 200.2 - 0.4004)


def test_the_same_id_for_a_different_order_is_a_conflict(venue):
    venue.submit(order("r1-p1", quantity=2.0))
    with pytest.raises(VenueConflict, match="already has order 'r1-p1' as buy 2 BTCUSDT market") as conflict:
        venue.submit(order("r1-p1", quantity=3.0))
    assert (conflict.value.code, conflict.value.status_code) == ("IDEMPOTENCY_KEY_CONFLICT", 409)
    assert count(venue.engine, paper_orders) == 1


def test_a_buy_beyond_the_cash_is_refused_and_nothing_is_stored(venue):
    with pytest.raises(VenueRejected, match="cash available") as refused:
        venue.submit(order("r1-p1", quantity=100.0))
    assert (refused.value.code, refused.value.status_code) == ("INSUFFICIENT_CASH", 403)
    assert venue.lookup("r1-p1") is None
    assert venue.account().cash == CASH
    assert venue.submit(order("r1-p1", quantity=1.0)).status == "filled"  # a refused id may be sent again


def test_open_limit_buys_reserve_their_cash(venue):
    venue.submit(order("r1-p1", quantity=60.0, limit=90.0))  # 5,400 + fee reserved
    with pytest.raises(VenueRejected, match="reserved by open buy orders"):
        venue.submit(order("r1-p2", quantity=50.0))
    venue.cancel("r1-p1")
    assert venue.submit(order("r1-p2", quantity=50.0)).status == "filled"


def test_the_account_is_long_only(venue):
    with pytest.raises(VenueRejected, match="long-only") as refused:
        venue.submit(order("r1-p1", side="sell", quantity=1.0))
    assert refused.value.code == "INSUFFICIENT_POSITION"
    venue.submit(order("r1-p2", quantity=2.0))
    venue.submit(order("r1-p3", side="sell", quantity=1.5, limit=200.0))  # rests, reserving 1.5
    with pytest.raises(VenueRejected, match="reserved by open sell orders"):
        venue.submit(order("r1-p4", side="sell", quantity=1.0))
    assert venue.submit(order("r1-p5", side="sell", quantity=0.5)).status == "filled"


def test_cancel_stops_a_resting_order_and_leaves_finished_ones_alone(venue, quotes):
    venue.submit(order("r1-p1", limit=90.0))
    filled = venue.submit(order("r1-p2"))

    cancelled = venue.cancel("r1-p1")
    assert cancelled.status == "cancelled"
    quotes["BTCUSDT"] = 80.0
    assert venue.poll_open() == []
    assert venue.lookup("r1-p1").status == "cancelled"
    assert venue.cancel("r1-p2") == filled
    with pytest.raises(VenueRejected, match="no order 'nope'"):
        venue.cancel("nope")


def test_a_symbol_without_a_price_is_refused_and_a_storage_outage_is_unavailable(venue, quotes):
    with pytest.raises(VenueRejected, match="no price for SOLUSDT") as refused:
        venue.submit(order("r1-p1", symbol="SOLUSDT"))
    assert refused.value.code == "PAPER_NO_QUOTE"
    quotes["SOLUSDT"] = StorageUnavailable("blob store unreachable")
    with pytest.raises(VenueUnavailable, match="cannot price SOLUSDT right now"):
        venue.submit(order("r1-p1", symbol="SOLUSDT"))
    assert venue.lookup("r1-p1") is None


def test_a_resting_order_without_a_price_just_does_not_fill(venue, quotes):
    venue.submit(order("r1-p1", limit=90.0))
    del quotes["BTCUSDT"]
    assert venue.lookup("r1-p1").status == "submitted"
    assert venue.poll_open() == []


def test_the_account_outlives_the_venue_object_and_its_settings(records, quotes, venue):
    venue.submit(order("r1-p1"))
    reopened = PaperVenue(records, quotes, slippage_bps=0, fee_bps=0, initial_cash=1.0)
    assert reopened.account().cash == venue.account().cash
    assert reopened.lookup("r1-p1") == venue.lookup("r1-p1")


def test_ping_and_lot_size(venue):
    venue.ping()
    assert venue.lot_size("BTCUSDT") == 1e-8


def test_concurrent_submits_of_one_id_make_one_order(venue):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: venue.submit(order("r1-p1", quantity=1.0)), range(16)))

    assert {r.venue_order_id for r in results} == {results[0].venue_order_id}
    assert count(venue.engine, paper_orders) == 1
    assert count(venue.engine, paper_fills) == 1
    assert venue.account().cash == pytest.approx(CASH - 100.1 * 1.002)


def test_concurrent_buys_cannot_spend_the_same_cash_twice(venue):
    def buy(number: int) -> str:
        try:
            return venue.submit(order(f"r1-p{number}", quantity=10.0)).status
        except VenueRejected:
            return "refused"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(buy, range(16)))

    assert outcomes.count("filled") == 9  # 9 × 1,003 fits in 10,000; a 10th does not
    assert venue.account().cash == pytest.approx(CASH - 9 * 1001 * 1.002)
    assert venue.account().cash >= 0
