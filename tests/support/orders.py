"""Order builders shared by the order, approval, overview, market-hours, secret-leak and graph tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from services.core.auth import local_operator
from services.market_data.datasets import DatasetRef
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.market import DAY, T0

ALICE = local_operator("alice")
BOB = local_operator("bob")
APPROVER = ALICE


def write_prices(runtime, symbol: str = "TEST", close: float = 100.0, n: int = 30) -> None:
    """``n`` flat daily candles at ``close`` as ``sample/<symbol>/1d``, the prices the paper venue fills at."""
    closes = np.full(n, close)
    frame = pd.DataFrame({"timestamp": T0 + DAY * np.arange(n, dtype="int64"), "open": closes,
                          "high": closes * 1.01, "low": closes * 0.99, "close": closes, "volume": np.ones(n)})
    runtime.datasets.write(DatasetRef.of("sample", symbol, "1d"), frame, replace_overlap=True)


def proposal(pid: str = "p1", quantity: float = 10, price: float = 100.0, symbol: str = "TEST",
             side: str = "buy", checks: list[Check] | None = None) -> Proposal:
    """A proposal on ``sample/<symbol>/1d`` whose one check passes unless ``checks`` say otherwise."""
    return Proposal(pid, symbol, side, quantity, price, dataset_ref=f"sample/{symbol}/1d",
                    checks=checks or [Check("max order notional", True, quantity * price, 1e6)],
                    context={"forecast": {"expected_return": 0.01}})


def decide(runtime, run_id: str, reject: set[str] = frozenset()) -> None:
    """Approve every order of the run except those of the symbols in ``reject``, then let the run resume."""
    for order in runtime.orders.list(run_id=run_id, status="pending_approval"):
        if order.symbol in reject:
            runtime.orders.reject(order.id, APPROVER, "not today")
        else:
            runtime.orders.approve(order.id, APPROVER)
    runtime.after_decisions(run_id)
