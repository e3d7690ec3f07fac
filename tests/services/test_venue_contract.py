"""One contract for every ExecutionVenue: paper, the Live Engine (fake) and Alpaca paper (fake).

What only one venue does (paper fills and fees, the Live Engine's headers, Alpaca's time in force) stays in
test_execution_<venue>.py; what every venue promises the order service is here, once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from services.trading.execution.base import VenueConflict, VenueRejected, VenueUnavailable
from tests.support.venues import TIMEOUT_S, VenueCase, opened_venue

REMOTE = ("live-engine", "alpaca-paper")


@pytest.fixture(params=["paper", *REMOTE])
def case(request, make_runtime, tmp_path) -> Iterator[VenueCase]:
    """Every venue."""
    with opened_venue(request.param, make_runtime, tmp_path) as opened:
        yield opened


@pytest.fixture(params=REMOTE)
def remote(request, make_runtime, tmp_path) -> Iterator[VenueCase]:
    """The venues across a network, where an answer can be lost, late or an error page."""
    with opened_venue(request.param, make_runtime, tmp_path) as opened:
        yield opened


def test_a_market_order_is_placed_under_our_id_and_reported_filled(case):
    placed = case.venue.submit(case.market("run7-prop3"))
    found = case.venue.lookup("run7-prop3")

    assert placed.client_order_id == found.client_order_id == "run7-prop3"
    assert placed.venue_order_id == found.venue_order_id and placed.status in ("submitted", "filled")
    assert (found.status, found.filled_quantity, found.is_open) == ("filled", case.quantity, False)
    assert found.average_price is None or found.average_price > 0  # None: the venue does not report it
    assert case.creations() == 1


def test_submitting_the_same_id_again_places_nothing_new(case):
    first = case.filled("run7-prop3")
    cash = case.venue.account().cash

    again = case.venue.submit(case.market("run7-prop3"))

    assert again.venue_order_id == first.venue_order_id
    assert case.creations() == 1
    assert case.venue.account().cash == cash


def test_the_same_id_for_another_order_is_a_conflict(case):
    case.venue.submit(case.market("run7-prop3"))
    with pytest.raises(VenueConflict) as conflict:
        case.venue.submit(case.market("run7-prop3", quantity=case.quantity * 2))
    assert (conflict.value.code, conflict.value.status_code) == ("IDEMPOTENCY_KEY_CONFLICT", 409)
    assert case.creations() == 1


def test_an_id_the_venue_never_saw_is_not_found_and_cannot_be_cancelled(case):
    assert case.venue.lookup("never-sent") is None
    with pytest.raises(VenueRejected, match="no order 'never-sent'"):
        case.venue.cancel("never-sent")
    assert case.creations() == 0


def test_an_open_order_is_cancelled(case):
    resting = case.resting("run7-prop4")
    assert (resting.status, resting.filled_quantity, resting.is_open) == ("submitted", 0.0, True)

    cancelled = case.venue.cancel("run7-prop4")

    assert (cancelled.status, cancelled.venue_order_id) == ("cancelled", resting.venue_order_id)
    assert case.venue.lookup("run7-prop4").status == "cancelled"


def test_cancel_leaves_a_finished_order_as_it_is(case):
    filled = case.filled("run7-prop3")
    assert case.venue.cancel("run7-prop3") == filled


def test_the_account_is_the_venues_own(case):
    account = case.venue.account()
    assert (account.venue, account.mode) == (case.venue.name, case.venue.mode)
    assert all(math.isfinite(v) for v in (account.cash, account.equity, account.pnl_total))
    assert len({p.symbol for p in account.positions}) == len(account.positions)


def test_ping_and_lot_size(case):
    case.venue.ping()
    assert case.venue.lot_size(case.symbol) == case.lot


def test_an_answer_lost_to_a_dropped_connection_is_found_not_resent(remote):
    remote.fake.drop_next(1, method="POST")  # the venue creates the order, then the connection dies
    remote.venue.submit(remote.market("run7-prop3"))
    assert remote.creations() == 1
    assert len(remote.fake.calls("POST")) == 1


def test_an_answer_too_slow_for_the_timeout_is_found_not_resent(remote):
    remote.fake.slow_next(1, TIMEOUT_S * 3, method="POST")
    remote.venue.submit(remote.market("run7-prop3"))
    assert remote.creations() == 1
    assert len(remote.fake.calls("POST")) == 1


def test_a_server_error_is_retried_after_asking_the_venue(remote):
    remote.fake.fail_next(1, 500, remote.server_error, method="POST")
    seen = len(remote.fake.requests)

    remote.venue.submit(remote.market("run7-prop3"))

    methods = [r.method for r in remote.fake.requests[seen:]]
    assert methods[0] == methods[-1] == "POST" and "GET" in methods[1:-1]  # looked up before resending
    assert remote.creations() == 1


def test_a_venue_that_keeps_failing_is_unavailable_and_nothing_is_resent(remote):
    remote.fake.fail_next(10, 503, remote.server_error)
    with pytest.raises(VenueUnavailable, match="HTTP 503") as down:
        remote.venue.submit(remote.market("run7-prop3"))
    assert down.value.status_code == 503
    assert remote.creations() == 0
    assert len(remote.fake.calls("POST")) == 1  # never resent while the lookup could not answer

