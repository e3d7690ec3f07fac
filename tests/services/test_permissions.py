"""Every action that needs a role checks it in services: a viewer is refused with a clear message and nothing
changes (no job, no run, no data written, no export, no call to Lona), whatever the page or the CLI shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import func, select

from services.agents import runs
from services.core.auth import Actor
from services.core.errors import PermissionDenied
from services.core.records import graph_runs, jobs, lona_backtests, lona_strategies, risk_policies
from services.market_data import exports, imports, ingest
from services.market_data.datasets import DatasetRef
from services.strategies import backtests
from tests.support.universe import params, universe

VIEWER = Actor("viewer@bank.com", frozenset({"viewer"}))
REF = DatasetRef.parse("binance/BTCUSDT/1h")
CSV = b"timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,10\n"

ACTIONS: dict[str, tuple[str, Callable]] = {
    "start a run": ("trader", lambda rt, refs: runs.start_run(rt, params(refs), VIEWER)),
    "continue a run": ("trader", lambda rt, refs: runs.continue_run(rt, "no-such-run", VIEWER)),
    "cancel a run": ("trader", lambda rt, refs: runs.cancel_run(rt, "no-such-run", VIEWER)),
    "start an ingest": ("trader", lambda rt, refs: ingest.start_ingest(rt.jobs, "binance", "BTCUSDT", "1h", 0, None,
                                                                      VIEWER)),
    "start an update": ("trader", lambda rt, refs: ingest.start_update(rt.jobs, None, VIEWER)),
    "ingest now": ("trader", lambda rt, refs: ingest.ingest(rt, "binance", "BTCUSDT", "1h", 0, None, actor=VIEWER)),
    "update now": ("trader", lambda rt, refs: ingest.update(rt, refs[0], actor=VIEWER)),
    "update all now": ("trader", lambda rt, refs: ingest.update_all(rt, actor=VIEWER)),
    "import a file": ("trader", lambda rt, refs: imports.import_file(rt.datasets, REF, CSV, "x.csv", actor=VIEWER)),
    "export for Lona": ("trader", lambda rt, refs: exports.export(rt.datasets, rt.store, DatasetRef.parse(refs[0]),
                                                                  "csv", actor=VIEWER)),
    "register with Lona": ("admin", lambda rt, refs: backtests.register_agent(rt, actor=VIEWER)),
    "create a strategy": ("trader", lambda rt, refs: backtests.create_strategy(rt, "buy dips", actor=VIEWER)),
    "upload a strategy": ("trader", lambda rt, refs: backtests.upload_strategy(rt, "x", "code", actor=VIEWER)),
    "publish a dataset": ("trader", lambda rt, refs: backtests.publish_dataset(rt, refs[0], actor=VIEWER)),
    "start a backtest": ("trader", lambda rt, refs: backtests.start_backtest(
        rt, "strat", [refs[0]], date(2024, 1, 1), date(2024, 1, 2), actor=VIEWER)),
    "follow a backtest": ("trader", lambda rt, refs: backtests.follow_backtest(rt, "report", actor=VIEWER)),
    "change the risk policy": ("admin", lambda rt, refs: rt.orders.set_policy({}, {}, VIEWER, "tighten")),
    "turn the kill switch on": ("admin", lambda rt, refs: rt.orders.set_kill_switch(True, VIEWER, "drill")),
    "approve an order": ("approver", lambda rt, refs: rt.orders.approve("no-such-order", VIEWER)),
    "reject an order": ("approver", lambda rt, refs: rt.orders.reject("no-such-order", VIEWER, "no")),
    "edit an order": ("approver", lambda rt, refs: rt.orders.edit("no-such-order", VIEWER, quantity=1)),
}


def _state(runtime) -> dict:
    with runtime.engine.connect() as connection:
        counts = {table.name: connection.execute(select(func.count()).select_from(table)).scalar()
                  for table in (jobs, graph_runs, lona_backtests, lona_strategies, risk_policies)}
    counts["datasets"] = sorted(str(e.ref) for e in runtime.datasets.catalog())
    counts["exports"] = [b.name for b in runtime.store.list(runtime.settings.exports_container)]
    counts["kill_switch"] = runtime.orders.kill_switch_on()
    return counts


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from services.core.config import load_settings
    from services.runtime import Runtime

    runtime = Runtime(load_settings(nexus_home=tmp_path_factory.mktemp("home"),
                                    lona_agent_token="dummy-token-for-refusal-tests"))
    return runtime, universe(runtime)


@pytest.mark.parametrize("action", ACTIONS, ids=list(ACTIONS))
def test_a_viewer_is_refused_with_a_clear_message_and_nothing_changes(world, action):
    runtime, refs = world
    role, attempt = ACTIONS[action]
    before = _state(runtime)
    with pytest.raises(PermissionDenied) as refused:
        attempt(runtime, refs)
    assert f"the {role} role is needed" in str(refused.value) and VIEWER.name in str(refused.value)
    assert _state(runtime) == before
