"""AppTest of the inbox's order card: the Lona signals a run read on the order's symbol, as the agent worded them,
the strategies that gave none with why, and the signal tilt; an order of a run naming no strategy shows none."""

from __future__ import annotations

from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.orders import write_prices

TEXT = "SMA cross 20/50 on Lona: long since 3 days, Sharpe 1.12, max drawdown 8.3 %, 24 trades"
SIGNAL = {"strategy_id": "strat-1", "strategy": "SMA cross 20/50", "symbol": "IBM", "report_id": "rep-1",
          "dataset_ref": "sample/IBM/1d", "data_until_ms": 1_709_251_200_000, "position": "long",
          "since": "2024-02-27T00:00:00+00:00", "age_days": 3.0, "sharpe": 1.12, "max_drawdown_pct": 8.32,
          "trades": 24, "counted": True, "problems": [], "text": TEXT}
SKIPPED = {"strategy_id": "strat-2", "strategy": None, "symbol": "IBM",
           "reason": "Lona did not answer: Lona Gateway timed out after 1 attempt"}


def propose(runtime, context: dict) -> str:
    write_prices(runtime, "IBM", close=806.19)
    (stored,) = runtime.orders.propose("run-a", [Proposal(
        "ibm", "IBM", "buy", 10, 806.19, dataset_ref="sample/IBM/1d",
        checks=[Check("max order notional", True, 8061.9, 1e6)], context=context)])
    return stored.id


def test_the_card_shows_the_signal_the_missing_ones_and_the_tilt(runtime, page_app):
    order_id = propose(runtime, {"weights": {"current": 0.0, "target": 0.22, "before_tilt": 0.2, "signal_tilt": 0.1},
                                 "signals": [SIGNAL], "signals_skipped": [SKIPPED]})
    at = page_app("approvals")
    at.run()
    at.button(key=f"open_{order_id}").click().run()
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert TEXT in shown
    assert "No Lona signal from strat-2: Lona did not answer: Lona Gateway timed out after 1 attempt" in shown
    assert "Lona signal tilt +10.0%: target weight 20.0% before the tilts → 22.0%" in shown


def test_an_order_of_a_run_without_strategies_shows_no_signal(runtime, page_app):
    order_id = propose(runtime, {"weights": {"current": 0.0, "target": 0.2}})
    at = page_app("approvals")
    at.run()
    at.button(key=f"open_{order_id}").click().run()
    assert not at.exception, at.exception
    assert not any("Lona" in t.value for t in at.text)
