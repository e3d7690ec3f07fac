"""Races on PostgreSQL: 20 processes approving and sending the same 50 orders at once."""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter

import pytest

from services.core.config import load_settings
from services.core.errors import Conflict
from services.runtime import Runtime
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.fakes.live_engine import SERVICE_KEY, FakeLiveEngine

pytestmark = pytest.mark.postgres
PROCESSES, ORDERS = 20, 50


def _operator(index: int, settings: dict, order_ids: list[str], results) -> None:
    from services.core.auth import local_operator
    from services.core.http_retry import RetryPolicy
    from services.trading.execution.live_engine import LiveEngineVenue

    runtime = Runtime(load_settings(**settings))
    runtime.venue = LiveEngineVenue(runtime.settings, policy=RetryPolicy(attempts=3, base_delay_s=0.01))
    me = local_operator(f"operator-{index}")
    mine = list(order_ids)
    random.Random(index).shuffle(mine)
    approved = conflicts = 0
    for order_id in mine:
        try:
            runtime.orders.approve(order_id, me)
            approved += 1
        except Conflict:
            conflicts += 1
        runtime.orders.submit(order_id, actor=me.name)
    results.put((approved, conflicts))


def test_twenty_operators_fifty_orders_each_sent_exactly_once(postgres_url, tmp_path):
    with FakeLiveEngine() as fake:
        settings = {"database_url": postgres_url, "execution_venue": "live-engine", "live_engine_url": fake.url,
                    "live_engine_service_api_key": SERVICE_KEY, "nexus_home": tmp_path / "home"}
        runtime = Runtime(load_settings(**settings))
        proposals = [Proposal(f"p{i}", "ETHUSDT", "buy", 0.01, 3000.0,
                              checks=[Check("max order notional", True, 30.0, 1e6)]) for i in range(ORDERS)]
        order_ids = [o.id for o in runtime.orders.propose("race-run", proposals)]
        runtime.engine.dispose()
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        workers = [context.Process(target=_operator, args=(i, settings, order_ids, results)) for i in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
            assert worker.exitcode == 0
        outcomes = [results.get(timeout=5) for _ in workers]
        assert sum(a for a, _ in outcomes) == ORDERS
        assert sum(c for _, c in outcomes) == ORDERS * (PROCESSES - 1)
        assert fake.creations == ORDERS
        keys = Counter(call.json()["idempotencyKey"] for call in fake.calls("POST", "/api/internal/orders")
                       if call.body)
        assert set(keys) == {o.client_order_id for o in runtime.orders.list(run_id="race-run")}
        statuses = Counter(o.status for o in runtime.orders.list(run_id="race-run"))
        assert set(statuses) <= {"submitted", "filled"} and sum(statuses.values()) == ORDERS
        approvals = Counter(a.subject for a in runtime.orders.audit(action="approve", limit=10_000))
        assert len(approvals) == ORDERS and set(approvals.values()) == {1}
