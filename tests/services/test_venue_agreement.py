"""The console agrees with the venue: an order whose create may have reached the venue is never final until the
venue has been asked, and nothing is sent twice, whatever timeouts, 5xx, dropped answers, crashes and outages
happen in between (property tests with a fault-injecting fake per venue)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from services.core import clock
from services.core.errors import NexusError
from services.core.http_retry import RetryPolicy
from services.core.records import orders as orders_table
from services.core.records import paper_orders
from services.trading import orders as orders_module
from services.trading.execution.alpaca_paper import AlpacaPaperVenue
from services.trading.execution.live_engine import LiveEngineVenue
from services.trading.execution.statuses import order_status
from services.trading.orders import TERMINAL, Order, Proposal
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine
from tests.fakes.server import FakeServer
from tests.support.orders import ALICE, write_prices

FAST = RetryPolicy(attempts=2, base_delay_s=0.001, max_delay_s=0.002)
TIMEOUT_S = 0.15  # the client's timeout; a "timeout" fault answers later than this
GIVE_UP_AFTER = 3  # submit attempts before the console stops sending (8 in production)
PENDING = ("approved", "submitting", "unknown")


class Crash(BaseException):
    """The console process died right after a venue call returned (the venue did the work)."""


class CrashingVenue:
    """A venue whose next call, once armed, does its work at the venue and then kills the console."""

    def __init__(self, inner):
        self.inner = inner
        self.armed = False

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def _then_maybe_crash(self, result):
        if self.armed:
            self.armed = False
            raise Crash
        return result

    def submit(self, request):
        return self._then_maybe_crash(self.inner.submit(request))

    def lookup(self, client_order_id, venue_order_id=None):
        return self._then_maybe_crash(self.inner.lookup(client_order_id, venue_order_id))

    def recover(self, request):
        return self._then_maybe_crash(self.inner.recover(request))


@dataclass
class Venue:
    """One venue under test: how to connect a fresh client (a console restart), its fake and what it holds."""

    name: str
    connect: Callable[[], object]
    held: Callable[[str], list[dict]]
    creations: Callable[[], int]
    fake: FakeServer | None
    proposal: Callable[[str], Proposal]

    def venue_view(self, held: dict) -> tuple[str, float]:
        """The venue's status (in our words) and filled quantity of an order it holds."""
        if self.name == "live-engine":
            filled = held["quantity"] if held["status"] in ("executed", "filled") else 0.0
            return order_status(self.name, held["status"], filled), float(filled)
        if self.name == "alpaca-paper":
            filled = float(held["filled_qty"])
            return order_status(self.name, held["status"], filled), filled
        return held["status"], float(held["filled_quantity"])


@pytest.fixture
def live_engine(make_runtime) -> Iterator[tuple[object, Venue]]:
    with FakeLiveEngine(echo_idempotency_key=False) as fake:  # the engine's order objects carry no key
        runtime = make_runtime(execution_venue="live-engine", live_engine_url=fake.url,
                               live_engine_service_api_key=SERVICE_KEY, live_engine_timeout_seconds=TIMEOUT_S)

        def connect():
            return LiveEngineVenue(runtime.settings, policy=FAST, sleep=lambda _s: None)

        runtime.venue = CrashingVenue(connect())
        yield runtime, Venue("live-engine", connect, fake.held, lambda: fake.creations, fake,
                             lambda pid: Proposal(pid, "ETHUSDT", "buy", 0.01, 3000.0, dataset_ref="sample/ETHUSDT/1d"))


@pytest.fixture
def alpaca(make_runtime) -> Iterator[tuple[object, Venue]]:
    with FakeAlpacaTrading() as fake:
        runtime = make_runtime(execution_venue="alpaca-paper", alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY,
                               alpaca_base_url=fake.url, alpaca_timeout_seconds=TIMEOUT_S)

        def connect():
            return AlpacaPaperVenue(runtime.settings, policy=FAST, sleep=lambda _s: None)

        runtime.venue = CrashingVenue(connect())
        yield runtime, Venue("alpaca-paper", connect, fake.held, lambda: fake.creations, fake,
                             lambda pid: Proposal(pid, "AAPL", "buy", 1.0, 200.0, dataset_ref="sample/AAPL/1d"))


@pytest.fixture
def paper(make_runtime) -> Iterator[tuple[object, Venue]]:
    runtime = make_runtime()
    write_prices(runtime)
    inner = runtime.venue

    def held(key: str) -> list[dict]:
        with runtime.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(
                select(paper_orders).where(paper_orders.c.client_order_id == key))]

    def creations() -> int:
        with runtime.engine.connect() as connection:
            return len(connection.execute(select(paper_orders.c.id)).all())

    runtime.venue = CrashingVenue(inner)
    yield runtime, Venue("paper", lambda: inner, held, creations, None,
                         lambda pid: Proposal(pid, "TEST", "buy", 1.0, 100.0, dataset_ref="sample/TEST/1d"))


@pytest.fixture(autouse=True)
def _give_up_soon(monkeypatch):
    monkeypatch.setattr(orders_module, "MAX_SUBMIT_ATTEMPTS", GIVE_UP_AFTER)


# --- helpers ---------------------------------------------------------------------------------------------------
def _approved(runtime, venue: Venue, run_id: str, pid: str) -> Order:
    (order,) = runtime.orders.propose(run_id, [venue.proposal(pid)])
    return runtime.orders.approve(order.id, ALICE)


def _time_passes(runtime) -> None:
    """Every retry is due and every order left submitting looks abandoned (longer than RECONCILE_AFTER_S)."""
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).where(orders_table.c.status == "approved").values(
            next_attempt_at=clock.now()))
        connection.execute(update(orders_table).where(orders_table.c.status == "submitting").values(
            updated_at=clock.now() - timedelta(minutes=5)))


def _restart(runtime, venue: Venue) -> None:
    """A new console process: a fresh venue client (nothing remembered), old submitting orders abandoned."""
    runtime.orders.venue = runtime.venue = CrashingVenue(venue.connect())
    _time_passes(runtime)


def _claims_never_received(runtime, order: Order) -> bool:
    return any("never received" in entry.reason for entry in runtime.orders.audit(subject=order.id))


def _settle(runtime, venue: Venue, run_id: str) -> list[Order]:
    """After the faults: the console restarts and runs its executor and reconciler until nothing moves."""
    if venue.fake:
        venue.fake.heal()
    _restart(runtime, venue)
    for _ in range(8):
        _time_passes(runtime)
        runtime.orders.submit_approved(run_id)
        _time_passes(runtime)
        moved = runtime.orders.reconcile()
        if not moved and not runtime.orders.list(status=PENDING, run_id=run_id):
            break
    return runtime.orders.list(run_id=run_id)


def _assert_agrees(runtime, venue: Venue, orders: list[Order]) -> None:
    for order in orders:
        held = venue.held(order.client_order_id)
        assert len(held) <= 1, f"{order.client_order_id} was placed {len(held)} times"
        if order.status == "pending_approval":  # its approval failed (the venue was down for the risk book)
            assert not held
        elif held:
            assert (order.status, order.filled_quantity) == venue.venue_view(held[0]), order
        else:
            assert (order.status, order.filled_quantity) == ("failed", 0.0), order
            assert _claims_never_received(runtime, order)  # the venue itself said it has no such order


# --- the case of the issue -------------------------------------------------------------------------------------
def test_give_up_leaves_the_order_unknown_until_the_engine_is_asked(live_engine):
    runtime, venue = live_engine
    order = _approved(runtime, venue, "run-1", "a")
    venue.fake.drop_next(1, method="POST")  # the engine places it, the answer is lost
    venue.fake.fail_next(100, 503)  # then the engine answers 503 until the console gives up
    for _ in range(GIVE_UP_AFTER):
        _time_passes(runtime)
        runtime.orders.submit(order.id)
    stuck = runtime.orders.get(order.id)
    assert stuck.status == "unknown" and stuck.status not in TERMINAL
    assert "unknown" in runtime.orders.audit(subject=order.id)[0].reason
    assert runtime.orders.reconcile() == 0  # still down: nothing decided, nothing claimed
    assert runtime.orders.get(order.id).status == "unknown"

    venue.fake.heal()
    assert runtime.orders.reconcile() == 1  # the keyed create replayed: the engine answers with its order
    assert (runtime.orders.get(order.id).status, runtime.orders.get(order.id).filled_quantity) == ("filled", 0.01)
    assert venue.fake.creations == 1 and not _claims_never_received(runtime, order)


def test_a_crash_while_the_engine_holds_the_order_never_says_it_was_not_received(live_engine):
    runtime, venue = live_engine
    order = _approved(runtime, venue, "run-1", "a")
    runtime.venue.armed = True
    with pytest.raises(Crash):
        runtime.orders.submit(order.id)
    assert runtime.orders.get(order.id).status == "submitting" and venue.fake.creations == 1
    _restart(runtime, venue)  # the new process's client has never seen the engine's id for this order
    assert runtime.orders.reconcile() == 1
    assert runtime.orders.get(order.id).status in ("submitted", "filled")
    assert not _claims_never_received(runtime, order) and venue.fake.creations == 1


def test_an_open_order_is_followed_after_a_restart(live_engine):
    runtime, venue = live_engine
    order = _approved(runtime, venue, "run-1", "a")
    assert runtime.orders.submit(order.id).status == "submitted"  # the engine's answer: pending
    _restart(runtime, venue)  # the new client knows the engine's id only from the order row
    assert runtime.orders.reconcile() == 1
    assert runtime.orders.get(order.id).status == "filled" and venue.fake.creations == 1


def test_alpaca_give_up_is_settled_by_a_lookup_of_the_client_order_id(alpaca):
    runtime, venue = alpaca
    held, missing = _approved(runtime, venue, "run-1", "a"), _approved(runtime, venue, "run-1", "b")
    runtime.venue.lot_size("AAPL")  # the asset's rules are known (read once per client)
    venue.fake.drop_next(1, method="POST")  # Alpaca fills the first order, the answer is lost
    venue.fake.fail_next(200, 503)
    for _ in range(GIVE_UP_AFTER):
        _time_passes(runtime)
        runtime.orders.submit_approved("run-1")
    assert {o.status for o in runtime.orders.list(run_id="run-1")} == {"unknown"}
    venue.fake.heal()
    runtime.orders.reconcile()
    assert runtime.orders.get(held.id).status == "filled" and runtime.orders.get(held.id).filled_quantity == 1.0
    gone = runtime.orders.get(missing.id)
    assert gone.status == "failed" and _claims_never_received(runtime, gone)  # Alpaca answered 404 for it
    assert venue.fake.creations == 1


def test_while_the_kill_switch_is_on_reconciliation_never_replays_a_create(live_engine):
    runtime, venue = live_engine
    order = _approved(runtime, venue, "run-1", "a")
    venue.fake.fail_next(100, 503)  # nothing reaches the engine
    for _ in range(GIVE_UP_AFTER):
        _time_passes(runtime)
        runtime.orders.submit(order.id)
    runtime.orders.set_kill_switch(True, ALICE, "halt everything")
    venue.fake.heal()
    posts = len(venue.fake.calls("POST"))
    runtime.orders.reconcile()
    assert runtime.orders.get(order.id).status == "unknown"
    assert len(venue.fake.calls("POST")) == posts and venue.fake.creations == 0
    runtime.orders.set_kill_switch(False, ALICE, "re-armed")
    runtime.orders.reconcile()  # now the keyed create is replayed: the engine never had it, so it is placed once
    assert runtime.orders.get(order.id).status in ("submitted", "filled") and venue.fake.creations == 1


# --- the property ----------------------------------------------------------------------------------------------
FAULTS = st.tuples(st.sampled_from(["503", "500", "timeout", "drop", "garbage", "outage"]),
                   st.sampled_from([None, "POST", "GET"]), st.integers(1, 3))
STEPS = st.lists(st.one_of(
    st.just(("new",)), st.just(("submit",)), st.just(("reconcile",)), st.just(("crash",)),
    st.just(("restart",)), st.tuples(st.just("fault"), FAULTS)), min_size=1, max_size=10)
PAPER_STEPS = st.lists(st.sampled_from([("new",), ("submit",), ("reconcile",), ("crash",), ("restart",)]),
                       min_size=1, max_size=10)
PROPERTY = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _inject(fake: FakeServer, fault: tuple) -> None:
    kind, method, count = fault
    if kind in ("503", "500"):
        fake.fail_next(count, int(kind), method=method)
    elif kind == "timeout":
        fake.slow_next(count, TIMEOUT_S * 2, method=method)  # the venue does the work, the answer comes too late
    elif kind == "drop":
        fake.drop_next(count, method=method)
    elif kind == "garbage":
        fake.fail_next(count, 200, "<html>proxy error</html>", method=method)
    else:
        fake.fail_next(40, 503)  # an outage: everything fails for a while


def _claims(runtime, run_id: str) -> set[tuple[str, int]]:
    return {(order.client_order_id, entry.id) for order in runtime.orders.list(run_id=run_id)
            for entry in runtime.orders.audit(subject=order.id) if "never received" in entry.reason}


def _run(runtime, venue: Venue, steps: list) -> None:
    run_id = uuid.uuid4().hex
    if venue.fake:
        venue.fake.heal()
    _restart(runtime, venue)
    created_before = venue.creations()
    made = 0
    for step in steps:
        try:
            if step[0] == "new" and made < 3:
                made += 1
                with contextlib.suppress(NexusError):  # the risk book reads the venue, which may be down
                    _approved(runtime, venue, run_id, f"p{made}")
            elif step[0] == "submit":
                _time_passes(runtime)
                runtime.orders.submit_approved(run_id)
            elif step[0] == "reconcile":
                claims = _claims(runtime, run_id)
                runtime.orders.reconcile()
                for key, _entry in _claims(runtime, run_id) - claims:  # said only when the venue says so
                    assert not venue.held(key)
            elif step[0] == "crash":
                runtime.venue.armed = True
            elif step[0] == "restart":
                _restart(runtime, venue)
            elif step[0] == "fault":
                _inject(venue.fake, step[1])
        except Crash:
            _restart(runtime, venue)
    final = _settle(runtime, venue, run_id)
    assert len(final) == made
    assert not [o for o in final if o.status in PENDING], final
    _assert_agrees(runtime, venue, final)
    placed = sum(len(venue.held(o.client_order_id)) for o in final)
    assert venue.creations() - created_before == placed  # nothing was sent twice


@PROPERTY
@given(steps=STEPS)
def test_property_live_engine_agrees_after_any_faults(live_engine, steps):
    _run(*live_engine, steps)


@PROPERTY
@given(steps=STEPS)
def test_property_alpaca_agrees_after_any_faults(alpaca, steps):
    _run(*alpaca, steps)


@PROPERTY
@given(steps=PAPER_STEPS)
def test_property_paper_agrees_after_any_crashes(paper, steps):
    _run(*paper, steps)
