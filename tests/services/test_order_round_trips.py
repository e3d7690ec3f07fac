"""Database round trips of one approval (approve → submitted), pinned per backend so they cannot grow back.

Counted with SQLAlchemy events: every statement (``before_cursor_execute``, which on SQLite includes the
``BEGIN IMMEDIATE`` the engine issues) plus, on PostgreSQL, the BEGIN and the COMMIT/ROLLBACK of every
transaction that is not autocommit (psycopg sends those as round trips of their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, event

from services.core.errors import Conflict
from services.core.records import audit_log
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine
from tests.support.orders import ALICE

#: round trips per approval, approve() then submit() to "submitted", by backend
PINNED = {"sqlite": 17, "postgresql": 7}  # before this pin: 19 and 26


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """Collect the round trips ``engine`` makes inside the block (statement texts, "BEGIN" and "END")."""
    trips: list[str] = []
    postgres = engine.dialect.name == "postgresql"

    def on_statement(_conn, _cursor, statement, *_args) -> None:
        trips.append(statement.split(None, 1)[0].upper())

    def on_begin(conn) -> None:
        if postgres and conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            trips.extend(("BEGIN", "END"))

    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "begin", on_begin)
    try:
        yield trips
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "begin", on_begin)


def approve_and_send(runtime) -> list[str]:
    """Propose three orders, approve and send the last one counted; its round trips."""
    checks = [Check("max order notional", True, 30.0, 1e6)]
    created = runtime.orders.propose("trips", [Proposal(f"p{i}", "ETHUSDT", "buy", 0.01, 3000.0, checks=checks)
                                               for i in range(3)])
    for order in created[:2]:  # warm the pool, the statement cache and the account cache
        runtime.orders.approve(order.id, ALICE)
        runtime.orders.submit(order.id)
    with counted(runtime.engine) as trips:
        runtime.orders.approve(created[2].id, ALICE)
        sent = runtime.orders.submit(created[2].id)
    assert sent.status == "submitted"
    with runtime.engine.connect() as connection:
        actions = [r.action for r in connection.execute(
            audit_log.select().where(audit_log.c.subject == sent.id).order_by(audit_log.c.id))]
    assert actions == ["proposed", "approve", "submit", "venue_update"]
    return trips


@pytest.fixture
def live_engine() -> Iterator[FakeLiveEngine]:
    with FakeLiveEngine(fill_on_get=False) as fake:
        yield fake


def _settings(fake: FakeLiveEngine) -> dict:
    return {"execution_venue": "live-engine", "live_engine_url": fake.url,
            "live_engine_service_api_key": SERVICE_KEY}


def test_one_approval_on_sqlite_makes_the_pinned_round_trips(make_runtime, live_engine):
    trips = approve_and_send(make_runtime(**_settings(live_engine)))
    assert len(trips) == PINNED["sqlite"], trips


@pytest.mark.postgres
def test_one_approval_on_postgresql_makes_the_pinned_round_trips(make_runtime, live_engine, postgres_url):
    trips = approve_and_send(make_runtime(database_url=postgres_url, **_settings(live_engine)))
    assert len(trips) == PINNED["postgresql"], trips


@pytest.mark.postgres
def test_on_postgresql_a_lost_compare_and_set_writes_nothing_and_the_rules_in_force_are_read(
        make_runtime, live_engine, postgres_url):
    runtime = make_runtime(database_url=postgres_url, **_settings(live_engine))
    checks = [Check("max order notional", True, 30.0, 1e6)]
    (order,) = runtime.orders.propose("cas", [Proposal("p1", "ETHUSDT", "buy", 0.01, 3000.0, checks=checks)])
    runtime.orders.approve(order.id, ALICE)
    with pytest.raises(Conflict, match="changed by someone else"):  # a second operator acting on what it read
        runtime.orders._move(order, "rejected", "bob", "reject", "too late")
    assert [a.action for a in runtime.orders.audit(subject=order.id)] == ["approve", "proposed"]
    entry = runtime.orders.audit(subject=order.id, action="approve")[0]
    assert entry.dataset_versions is None and entry.details["approvers"] == [ALICE.name]
    assert runtime.orders.get(order.id).status == "approved"
    runtime.orders.set_kill_switch(True, ALICE, "drill")
    (other,) = runtime.orders.propose("cas", [Proposal("p2", "ETHUSDT", "buy", 0.01, 3000.0, checks=checks)])
    with pytest.raises(Conflict, match="kill switch"):
        runtime.orders.approve(other.id, ALICE)
    assert runtime.orders.submit(order.id).status == "approved"  # halted: nothing sent
