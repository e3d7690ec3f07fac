"""The Live Engine venue against a fake engine on loopback: headers, idempotency keys, the engine's errors.

What every venue promises (idempotent ids, conflicts, cancel, lost and late answers) is in test_venue_contract.py.
"""

from __future__ import annotations

import socket

import pytest

from services.core.http_retry import RetryPolicy
from services.trading.execution.base import VenueOrderRequest, VenueRejected, VenueUnavailable
from services.trading.execution.live_engine import LiveEngineVenue
from tests.fakes.live_engine import PORTFOLIO, SERVICE_KEY, FakeLiveEngine
from tests.support.venues import FAST, TIMEOUT_S

BUY = VenueOrderRequest("run7-prop3", "BTCUSDT", "buy", "market", 0.1, reference_price=64000.0)
LIMIT = VenueOrderRequest("run7-prop4", "BTCUSDT", "buy", "limit", 0.1, limit_price=64500.0)


@pytest.fixture
def fake():
    with FakeLiveEngine() as server:
        yield server


@pytest.fixture
def connect(make_runtime, fake):
    """Build a venue for the fake (a new one is a restarted console: it remembers nothing)."""
    venues = []

    def build(url: str | None = None, key: str = SERVICE_KEY, policy: RetryPolicy = FAST, **settings):
        runtime = make_runtime(execution_venue="live-engine", live_engine_url=url or fake.url,
                               live_engine_service_api_key=key, live_engine_timeout_seconds=TIMEOUT_S, **settings)
        venue = LiveEngineVenue(runtime.settings, policy=policy)
        venues.append(venue)
        return venue

    yield build
    for venue in venues:
        venue.close()


@pytest.fixture
def venue(connect):
    return connect()


def test_submit_sends_the_order_with_bearer_auth_identity_and_idempotency_key(venue, fake):
    placed = venue.submit(BUY)

    assert (placed.client_order_id, placed.venue_order_id, placed.status, placed.raw_status) == (
        "run7-prop3", "le-ord-0001", "submitted", "pending")
    (post,) = fake.calls("POST", "/api/internal/orders")
    assert post.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert post.headers["x-tenant-id"] == "trade-nexus"
    assert post.headers["x-user-id"] == "console"
    assert post.headers["x-request-id"].startswith("req-console-")
    assert post.json() == {"symbol": "BTCUSDT", "side": "buy", "type": "market", "quantity": 0.1, "price": None,
                           "deploymentId": None, "idempotencyKey": "run7-prop3"}


def test_every_call_gets_its_own_request_id(venue, fake):
    venue.submit(BUY)
    venue.lookup(BUY.client_order_id)
    venue.account()
    ids = [r.headers["x-request-id"] for r in fake.requests]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_tenant_and_user_come_from_the_settings(connect, fake):
    connect(live_engine_tenant_id="acme", live_engine_user_id="ops-bot").account()
    assert (fake.requests[0].headers["x-tenant-id"], fake.requests[0].headers["x-user-id"]) == ("acme", "ops-bot")


def test_lookup_follows_the_order_to_its_fill(venue, fake):
    venue.submit(LIMIT)
    filled = venue.lookup(LIMIT.client_order_id)

    assert (filled.status, filled.raw_status, filled.filled_quantity, filled.average_price) == (
        "filled", "executed", 0.1, 64500.0)
    assert fake.calls("GET", "/api/internal/orders/le-ord-0001")  # by the provider id it learned at submit



def test_server_errors_are_retried_until_the_engine_recovers(venue, fake):
    fake.fail_next(2, 500, {"error": {"code": "INTERNAL_ERROR", "message": "boom"}})

    placed = venue.submit(BUY)

    assert placed.venue_order_id == "le-ord-0001"
    assert fake.creations == 1
    assert [r.method for r in fake.requests] == ["POST", "GET", "GET", "POST"]  # looked up before resending



def test_a_crash_between_send_and_answer_is_reconciled_after_restart(connect, fake):
    fake.drop_next(1, method="POST")
    with pytest.raises(VenueUnavailable):
        connect(policy=RetryPolicy(attempts=1)).submit(BUY)  # the console dies here

    restarted = connect()  # knows no provider id: finds the order by its idempotency key
    found = restarted.lookup(BUY.client_order_id)

    assert found is not None and found.venue_order_id == "le-ord-0001"
    assert restarted.submit(BUY).venue_order_id == "le-ord-0001"
    assert fake.creations == 1


def test_without_an_echoed_key_the_engine_replay_still_prevents_a_second_order(connect):
    with FakeLiveEngine(echo_idempotency_key=False) as quiet:
        venue = connect(url=quiet.url)
        quiet.drop_next(1, method="POST")

        placed = venue.submit(BUY)

        assert placed.venue_order_id == "le-ord-0001"
        assert len(quiet.calls("POST")) == 2  # the lookup could not tell, so it was resent...
        assert quiet.creations == 1  # ...and the engine replayed it


def test_a_body_that_is_not_json_is_a_bad_response(venue, fake):
    fake.fail_next(1, 200, "<html>502 Bad Gateway</html>", method="GET")
    with pytest.raises(VenueUnavailable, match="not JSON") as garbage:
        venue.account()
    assert (garbage.value.code, garbage.value.status_code) == ("LIVE_ENGINE_BAD_RESPONSE_JSON", 502)


def test_a_create_answered_with_garbage_is_looked_up_then_sent(venue, fake):
    fake.fail_next(1, 200, "<html>oops</html>", method="POST")  # the proxy answered; the engine saw nothing
    assert venue.submit(BUY).venue_order_id == "le-ord-0001"
    assert fake.creations == 1


def test_json_without_the_envelope_is_a_bad_response(venue, fake):
    fake.fail_next(1, 200, [1, 2, 3], method="GET")
    with pytest.raises(VenueUnavailable, match="not an object") as bad:
        venue.account()
    assert bad.value.code == "LIVE_ENGINE_BAD_RESPONSE"
    fake.fail_next(1, 200, {"order": None}, method="GET")
    with pytest.raises(VenueUnavailable, match="'items'"):
        venue.lookup("anything")


def test_an_unreachable_engine_is_unavailable(connect):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VenueUnavailable, match="could not connect") as down:
        connect(url=f"http://127.0.0.1:{port}").submit(BUY)
    assert (down.value.code, down.value.status_code) == ("LIVE_ENGINE_UNAVAILABLE", 502)


def test_a_business_refusal_is_rejected_at_once(venue, fake):
    fake.fail_next(1, 422, {"error": {"code": "RISK_LIMIT_BREACH", "message": "order notional exceeds limit"}},
                   method="POST")
    with pytest.raises(VenueRejected, match=r"HTTP 422 RISK_LIMIT_BREACH\): order notional exceeds limit") as refused:
        venue.submit(BUY)
    assert (refused.value.code, refused.value.status_code) == ("LIVE_ENGINE_REQUEST_FAILED", 422)
    assert len(fake.requests) == 1


def test_a_wrong_key_is_refused_with_a_hint_and_never_shown(connect, fake):
    venue = connect(key="wrong-key-do-not-print")
    with pytest.raises(VenueRejected, match=r"HTTP 401 UNAUTHORIZED.*check LIVE_ENGINE_SERVICE_API_KEY") as refused:
        venue.ping()
    assert "wrong-key-do-not-print" not in str(refused.value)


def test_the_api_key_never_appears_in_an_error(venue, fake):
    echoed = {"error": {"code": "BAD_TOKEN", "message": f"token Bearer {SERVICE_KEY} is not allowed here"}}
    fake.fail_next(1, 403, echoed)
    fake.fail_next(6, 500, f"trace: Authorization: Bearer {SERVICE_KEY}")  # 3 attempts of account, 3 of submit
    errors = []
    for call in (venue.account, venue.account, lambda: venue.submit(BUY)):
        with pytest.raises(VenueRejected if not errors else VenueUnavailable) as caught:
            call()
        errors.append(caught.value)
    fake.slow_next(10, TIMEOUT_S * 2)
    with pytest.raises(VenueUnavailable) as slow:
        venue.lookup("x")
    errors.append(slow.value)

    assert "***" in str(errors[0])
    for error in errors:
        assert SERVICE_KEY not in f"{error} {error!r} {error.__cause__!r} {error.__context__!r}"
    assert SERVICE_KEY not in repr(venue.__dict__)


def test_cancel_deletes_by_the_provider_id_and_never_a_finished_order(connect, fake):
    fake.fill_on_get = False
    venue = connect()
    venue.submit(LIMIT)
    venue.cancel(LIMIT.client_order_id)
    assert fake.calls("DELETE", "/api/internal/orders/le-ord-0001")

    fake.fill_on_get = True
    venue.submit(BUY)
    venue.cancel(BUY.client_order_id)
    assert len(fake.calls("DELETE")) == 1


def test_the_account_sums_the_tenant_portfolios(venue, fake):
    fake.portfolios.append({**PORTFOLIO, "id": "pf-002", "cash": 5000.0, "totalValue": 5000.0, "pnlTotal": -200.0,
                            "positions": []})
    account = venue.account()
    assert (account.cash, account.equity, account.pnl_total) == (20000.0, 26000.0, 800.0)
    assert [(p.symbol, p.quantity, p.avg_price, p.current_price, p.unrealized_pnl) for p in account.positions] == [
        ("BTCUSDT", 0.1, 50000.0, 60000.0, 1000.0)]
    assert (account.mode, account.venue, account.realized_pnl) == ("LIVE", "live-engine", None)


def test_the_account_of_one_configured_portfolio(connect, fake):
    assert connect(live_engine_portfolio_id="pf-001").account().cash == 15000.0
    assert fake.calls("GET", "/api/internal/portfolios/pf-001")
    with pytest.raises(VenueRejected, match=r"no portfolio 'pf-404'.*LIVE_ENGINE_PORTFOLIO_ID"):
        connect(live_engine_portfolio_id="pf-404").account()


def test_ping_reads_the_portfolios(venue, fake):
    venue.ping()
    assert fake.calls("GET", "/api/internal/portfolios")
