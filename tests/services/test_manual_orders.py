"""Manual orders on every venue (paper, Live Engine fake, Alpaca fake): the ticket → approval by someone else → fill,
a partial close, the cancel of a resting limit order and a cancel racing a fill; then the ticket's bad input, lot
rules and double clicks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services.core.auth import Actor
from services.core.errors import BadInput, Conflict, PermissionDenied
from services.core.records import paper_orders
from services.runtime import Runtime
from services.trading.manual import Ticket, close_position, enter_order
from services.trading.orders import Order
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine
from tests.fakes.server import Response
from tests.support.orders import ALICE, BOB, proposal, write_prices

VENUES = ["paper", "live-engine", "alpaca-paper"]


@dataclass
class Desk:
    """A runtime on one venue, a symbol it trades with a stored price, and how to steer the venue."""

    runtime: Runtime
    symbol: str
    quantity: float
    #: a limit buy that does not cross the market: it rests
    resting_limit: float
    #: what the venue holds under a client order id: (status in our words, filled quantity)
    venue_view: Callable[[str], tuple[str, float]]
    #: the venue fills a resting order now (a fill the console has not seen yet)
    fill_resting: Callable[[Order], None]
    hold: Callable[[bool], None] = lambda _holding: None
    #: a symbol the venue already holds, priced by the venue alone (no stored candles); None: buy one first
    held_symbol: str | None = None
    #: the fake venue server, when the test needs to look at what it holds
    fake: FakeAlpacaTrading | None = None

    def ticket(self, **terms) -> Ticket:
        """A fresh ticket (its own id) for the desk's symbol: a market buy of its quantity unless told."""
        terms.setdefault("side", "buy")
        if "notional" not in terms:
            terms.setdefault("quantity", self.quantity)
        return Ticket(uuid.uuid4().hex[:12], terms.pop("symbol", self.symbol), **terms)

    def enter(self, **terms) -> Order:
        """Alice enters a ticket."""
        return enter_order(self.runtime.orders, self.runtime.prices, ALICE, self.ticket(**terms))

    def approve_and_send(self, order: Order) -> Order:
        """Bob approves, the order is sent and the venue's answer followed."""
        orders = self.runtime.orders
        orders.approve(order.id, BOB)
        orders.submit(order.id)
        orders.reconcile()
        return orders.get(order.id)


def _paper(make_runtime) -> Iterator[Desk]:
    runtime = make_runtime()
    write_prices(runtime, "TEST", close=100.0)

    def view(key: str) -> tuple[str, float]:
        with runtime.engine.connect() as connection:
            row = connection.execute(paper_orders.select().where(paper_orders.c.client_order_id == key)).one()
        return row.status, row.filled_quantity

    yield Desk(runtime, "TEST", 10.0, 50.0, view, lambda _order: write_prices(runtime, "TEST", close=40.0))


def _live_engine(make_runtime) -> Iterator[Desk]:
    from services.trading.execution.statuses import order_status

    with FakeLiveEngine() as fake:
        runtime = make_runtime(execution_venue="live-engine", live_engine_url=fake.url,
                               live_engine_service_api_key=SERVICE_KEY)
        write_prices(runtime, "ETHUSDT", close=3_000.0)

        def view(key: str) -> tuple[str, float]:
            (held,) = fake.held(key)
            filled = held["quantity"] if held["status"] in ("executed", "filled") else 0.0
            return order_status("live-engine", held["status"], filled), float(filled)

        def hold(holding: bool) -> None:
            fake.fill_on_get = not holding

        yield Desk(runtime, "ETHUSDT", 0.5, 1_500.0, view, lambda _order: hold(False), hold, held_symbol="BTCUSDT")


def _alpaca(make_runtime) -> Iterator[Desk]:
    from services.trading.execution.statuses import order_status

    with FakeAlpacaTrading() as fake:
        runtime = make_runtime(execution_venue="alpaca-paper", alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY,
                               alpaca_base_url=fake.url)
        write_prices(runtime, "AAPL", close=200.0)

        def view(key: str) -> tuple[str, float]:
            (held,) = fake.held(key)
            filled = float(held["filled_qty"])
            return order_status("alpaca-paper", held["status"], filled), filled

        def fill(order: Order) -> None:
            """Alpaca fills the order while the console's DELETE is on its way: it answers 422, not cancelable."""
            def cancel_too_late(request, order_id: str) -> Response:
                with fake._state:
                    fake._fill(fake.orders[order_id], 150.0)
                return fake._cancel(request, order_id)

            fake.routes.insert(0, ("DELETE", re.compile("^/v2/orders/([^/]+)$"), cancel_too_late))

        yield Desk(runtime, "AAPL", 2.0, 150.0, view, fill, fake=fake)


@pytest.fixture(params=VENUES)
def desk(request, make_runtime) -> Iterator[Desk]:
    yield from {"paper": _paper, "live-engine": _live_engine, "alpaca-paper": _alpaca}[request.param](make_runtime)


@pytest.fixture
def paper(make_runtime) -> Iterator[Desk]:
    yield from _paper(make_runtime)


def _agrees(desk: Desk, order: Order) -> None:
    assert (order.status, order.filled_quantity) == desk.venue_view(order.client_order_id), order


# --- per venue --------------------------------------------------------------------------------------------------
def test_a_ticket_needs_someone_else_to_approve_it_then_fills(desk):
    order = desk.enter()
    assert (order.status, order.source, order.entered_by) == ("pending_approval", "manual", "alice")
    assert order.about.entered_by == "alice" and "alice" in desk.runtime.orders.audit(subject=order.id)[0].reason
    with pytest.raises(Conflict, match="alice entered this order: four eyes"):
        desk.runtime.orders.approve(order.id, ALICE)
    assert desk.runtime.orders.get(order.id).status == "pending_approval"
    done = desk.approve_and_send(order)
    assert done.status == "filled" and done.filled_quantity == desk.quantity and done.approved_by == ["bob"]
    _agrees(desk, done)


def test_part_of_a_position_is_closed(desk):
    symbol = desk.held_symbol or desk.symbol
    if desk.held_symbol is None:
        desk.approve_and_send(desk.enter())
    held = next(p.quantity for p in desk.runtime.venue.account().positions if p.symbol == symbol)
    part = held / 2
    with pytest.raises(BadInput, match="cannot close"):
        close_position(desk.runtime.orders, desk.runtime.prices, ALICE, symbol, "too-much", quantity=held * 3)
    order = close_position(desk.runtime.orders, desk.runtime.prices, ALICE, symbol, "half", quantity=part)
    assert (order.side, order.quantity, order.source) == ("sell", part, "manual")
    with pytest.raises(BadInput, match="already in orders not final yet"):  # the pending half is spoken for
        close_position(desk.runtime.orders, desk.runtime.prices, ALICE, symbol, "more", quantity=held)
    done = desk.approve_and_send(order)
    assert (done.status, done.filled_quantity) == ("filled", part)
    _agrees(desk, done)


def test_a_resting_limit_order_is_cancelled_at_the_venue(desk):
    desk.hold(True)
    order = desk.approve_and_send(desk.enter(order_type="limit", limit_price=desk.resting_limit))
    assert order.status == "submitted"
    with pytest.raises(BadInput, match="a reason is required"):
        desk.runtime.orders.cancel(order.id, BOB, " ")
    with pytest.raises(PermissionDenied):
        desk.runtime.orders.cancel(order.id, Actor("tom", frozenset({"viewer", "trader"})), "changed my mind")
    cancelled = desk.runtime.orders.cancel(order.id, BOB, "changed my mind")
    assert cancelled.status == "cancelled"
    _agrees(desk, cancelled)
    last = desk.runtime.orders.audit(subject=order.id)[0]
    assert (last.actor, last.action, last.to_status) == ("bob", "cancel", "cancelled")
    assert "changed my mind" in last.reason
    with pytest.raises(Conflict, match="already cancelled"):  # a double click
        desk.runtime.orders.cancel(order.id, BOB, "changed my mind")


def test_a_cancel_racing_a_fill_ends_filled_as_the_venue_says(desk):
    desk.hold(True)
    order = desk.approve_and_send(desk.enter(order_type="limit", limit_price=desk.resting_limit))
    assert order.status == "submitted"
    desk.fill_resting(order)  # the venue fills it before (Alpaca: while) the cancel reaches it
    with pytest.raises(Conflict, match="filled before the cancel reached the venue"):
        desk.runtime.orders.cancel(order.id, BOB, "too slow")
    final = desk.runtime.orders.get(order.id)
    assert final.status == "filled" and final.filled_quantity == desk.quantity
    _agrees(desk, final)
    assert desk.runtime.orders.reconcile() == 0  # nothing left to disagree about


# --- the ticket's rules (paper) ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("terms", "message"), [
    ({"quantity": float("nan")}, "finite number"),
    ({"quantity": "inf"}, "finite number"),
    ({"quantity": "ten"}, "must be a number"),
    ({"quantity": 0}, "above 0"),
    ({"quantity": -3}, "above 0"),
    ({"quantity": None}, "either a quantity or a notional"),
    ({"quantity": 1, "notional": 100}, "either a quantity or a notional"),
    ({"order_type": "limit"}, "needs a limit price"),
    ({"order_type": "limit", "limit_price": "abc"}, "must be a number"),
    ({"order_type": "limit", "limit_price": -1}, "above 0"),
    ({"limit_price": 99}, "a market order has no limit price"),
    ({"symbol": "NOPE"}, "unknown symbol NOPE"),
    ({"symbol": "bad symbol!"}, "must be a market id"),
    ({"side": "hold"}, "side must be buy or sell"),
    ({"time_in_force": "day"}, "paper takes no time in force"),
    ({"notional": 0.0000001}, "buys less than one lot"),
])
def test_bad_tickets_are_refused_and_nothing_is_recorded(paper, terms, message):
    with pytest.raises(BadInput, match=message):
        paper.enter(**terms)
    assert paper.runtime.orders.list() == [] and paper.runtime.orders.audit() == []


def test_whole_units_only_when_the_venue_takes_no_fractions(make_runtime):
    runtime = make_runtime(paper_fractional=False)
    write_prices(runtime, "TEST", close=100.0)
    desk = Desk(runtime, "TEST", 10.0, 50.0, lambda _key: ("", 0.0), lambda _order: None)
    with pytest.raises(BadInput, match=r"2.5 TEST is not a whole number of lots of 1 on paper \(use 2\)"):
        desk.enter(quantity=2.5)
    with pytest.raises(BadInput, match="buys less than one lot"):
        desk.enter(notional=99)
    order = desk.enter(notional=1_050)  # 10.5 shares' worth: 10 whole shares
    assert order.quantity == 10 and "asked for 1,050 USD" in order.about.rationale
    # the graph's and the API's proposals follow the same rule: an API proposal is rounded down, and says so
    (proposed,) = runtime.orders.propose("api-x-1", [proposal(quantity=3.7)], source="agent-platform")
    assert proposed.quantity == 3 and "whole units only" in proposed.about.lot and "from 3.7" in proposed.about.lot


def test_a_notional_becomes_lots_at_the_limit_price(paper):
    order = paper.enter(notional=1_000, order_type="limit", limit_price=80)
    assert (order.quantity, order.limit_price, order.order_type) == (12.5, 80, "limit")


def test_a_double_click_files_one_order(paper):
    ticket = paper.ticket()
    first = enter_order(paper.runtime.orders, paper.runtime.prices, ALICE, ticket)
    again = enter_order(paper.runtime.orders, paper.runtime.prices, ALICE, ticket)
    assert again.id == first.id and len(paper.runtime.orders.list()) == 1
    with pytest.raises(Conflict, match="already filed as order"):  # the same ticket with other terms
        enter_order(paper.runtime.orders, paper.runtime.prices, ALICE, Ticket(ticket.ticket_id, "TEST", "buy", 3))


def test_only_traders_enter_and_a_pending_order_cancels_at_once(paper):
    viewer = Actor("vic", frozenset({"viewer"}))
    with pytest.raises(PermissionDenied, match="trader role"):
        enter_order(paper.runtime.orders, paper.runtime.prices, viewer, paper.ticket())
    with pytest.raises(BadInput, match="no position to close"):
        close_position(paper.runtime.orders, paper.runtime.prices, ALICE, "TEST", "t1")
    order = paper.enter()
    assert paper.runtime.orders.cancel(order.id, BOB, "typo").status == "cancelled"
    filled = paper.approve_and_send(paper.enter())
    with pytest.raises(Conflict, match="already filled: there is nothing to cancel"):
        paper.runtime.orders.cancel(filled.id, BOB, "too late")
    assert paper.runtime.orders.get(filled.id).status == "filled"


def test_closing_all_sells_exactly_what_is_held(paper):
    paper.approve_and_send(paper.enter(quantity=7.25))
    order = close_position(paper.runtime.orders, paper.runtime.prices, ALICE, "TEST", "all")
    assert (order.side, order.quantity) == ("sell", 7.25)
    assert paper.approve_and_send(order).status == "filled"
    assert not [p for p in paper.runtime.venue.account().positions if p.symbol == "TEST"]


@pytest.fixture
def alpaca(make_runtime) -> Iterator[Desk]:
    yield from _alpaca(make_runtime)


def test_alpaca_takes_the_tickets_time_in_force_and_whole_shares_when_told(alpaca):
    with pytest.raises(BadInput, match="must be one of day, gtc on alpaca-paper"):
        alpaca.enter(time_in_force="ioc")
    order = alpaca.approve_and_send(alpaca.enter(order_type="limit", limit_price=150, time_in_force="gtc"))
    assert order.time_in_force == "gtc" and alpaca.fake.held(order.client_order_id)[0]["time_in_force"] == "gtc"
    assert alpaca.runtime.venue.lot_size("AAPL") == 1e-9  # fractionable at Alpaca
    alpaca.runtime.venue.fractional = False  # ALPACA_FRACTIONAL=false: whole shares, for the graph's sizing too
    assert alpaca.runtime.venue.lot_size("AAPL") == 1.0
    with pytest.raises(BadInput, match="not a whole number of lots of 1"):
        alpaca.enter(quantity=1.5)


def test_the_setting_reaches_the_venue(make_runtime):
    runtime = make_runtime(paper_fractional=False)
    assert runtime.venue.fractional is False and runtime.venue.lot_size("TEST") == 1.0
    assert make_runtime().venue.lot_size("TEST") == 1e-8


def test_the_graphs_proposals_say_which_lot_they_are_sized_in(make_runtime):
    runtime = make_runtime(paper_fractional=False)
    write_prices(runtime, "TEST", close=100.0)
    (order,) = runtime.orders.propose("run-1", [proposal(quantity=3)])  # the optimizer sized it in venue.lot_size
    assert order.quantity == 3 and order.about.lot == ("in lots of 1 TEST on paper, whole units only; quantities "
                                                       "are rounded down")


def test_the_local_operator_is_told_how_a_second_person_approves_their_order(paper):
    from services.core.auth import local_operator

    me = local_operator()
    order = enter_order(paper.runtime.orders, paper.runtime.prices, me, paper.ticket())
    with pytest.raises(Conflict, match=f"nexus orders approve {order.id} --as NAME"):
        paper.runtime.orders.approve(order.id, me)
    done = paper.approve_and_send(order)  # bob, as the CLI's --as bob would be
    assert done.status == "filled" and done.approved_by == ["bob"]
