"""A constructed decision history whose review is known by hand (the decision-review service, page and CLI tests).

Two symbols with 30 flat daily candles at 100 (bar 0, the anchor, is the 30th); the run proposes four buys of 10
at 100 with a 5-bar forecast. Alice approves UP (A) and halves DOWN before approving it (C, an edit), Bob rejects
DOWN (B), and the other UP proposal (D) expires. Fills are at 100 (no slippage, no fee). Then the future arrives:
UP closes at 101 after 1 bar, 102 after 5, 104 after 20; DOWN at 99, 97 and 95.

At 5 bars: A +20 (agent alone +20), B would have lost 30, C -15 instead of -30, D would have made +20; agent alone
-20, agent + operator +5; edits +15, rejections +30, expiries -20. Forecast signs right for A, C, D (3 of 4);
intervals hold the realised return of A and C (2 of 4).

``decide_others`` adds orders from outside the graph, both entered an hour after the anchor bar opened: Alice
enters a manual buy of 10 UP on the ticket (M), Bob approves it and it fills at 100; agent@platform.io proposes a
buy of 10 DOWN through the API (P, source ``agent-platform``) and Alice rejects it. Neither has a forecast. At 5
bars M makes +20 (the proposer alone too), P would have lost 30 (rejections +30); at 1 bar +10 and -10, at 20
bars +40 and -50.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sqlalchemy import update

from services.core import clock
from services.core.auth import local_operator
from services.core.records import orders as orders_table
from services.market_data.datasets import DatasetRef
from services.trading.manual import Ticket, enter_order
from services.trading.orders import Proposal
from services.trading.proposals import ExternalBatch, ExternalOrder, propose_external
from services.trading.risk import Check
from tests.support.market import DAY, HOUR, T0
from tests.support.orders import ALICE, BOB

RUN = "run-review-1"
HISTORY = 30
ANCHOR = T0 + (HISTORY - 1) * DAY
#: closes after the anchor, bar 1 to 20
FUTURE = {"UP": [101.0, 101.5, 101.5, 101.5, 102.0, *[103.0] * 14, 104.0],
          "DOWN": [99.0, 98.5, 98.5, 98.5, 97.0, *[96.0] * 14, 95.0]}
#: (proposal, symbol, forecast expected log return, lower, upper)
PROPOSALS = {"A": ("UP", 0.01, -0.01, 0.05), "B": ("DOWN", 0.01, -0.02, 0.04), "C": ("DOWN", -0.01, -0.05, 0.03),
             "D": ("UP", 0.01, 0.0, 0.01)}


def _write(runtime, symbol: str, closes: np.ndarray, first_bar: int) -> None:
    frame = pd.DataFrame({"timestamp": T0 + DAY * np.arange(first_bar, first_bar + len(closes), dtype="int64"),
                          "open": closes, "high": closes * 1.01, "low": closes * 0.99, "close": closes,
                          "volume": np.ones(len(closes))})
    runtime.datasets.write(DatasetRef.of("sample", symbol, "1d"), frame, replace_overlap=True)


def write_history(runtime) -> None:
    """The 30 flat candles at 100 of UP and DOWN, up to the anchor."""
    for symbol in FUTURE:
        _write(runtime, symbol, np.full(HISTORY, 100.0), 0)


def write_future(runtime, bars: int = 20) -> None:
    """The first ``bars`` candles after the anchor of UP and DOWN."""
    for symbol, closes in FUTURE.items():
        _write(runtime, symbol, np.asarray(closes[:bars]), HISTORY)


def _proposal(pid: str) -> Proposal:
    symbol, expected, lower, upper = PROPOSALS[pid]
    return Proposal(pid, symbol, "buy", 10, 100.0, dataset_ref=f"sample/{symbol}/1d",
                    checks=[Check("max order notional", True, 1000.0, 1e6)],
                    context={"forecast": {"expected_return": expected, "lower": lower, "upper": upper, "horizon": 5},
                             "data_until_ms": ANCHOR, "run_id": RUN})


def decide_history(runtime) -> dict[str, str]:
    """Propose A–D, decide them as the module says, fill the approved ones; proposal → order id."""
    orders = runtime.orders
    made = {o.proposal_id: o.id for o in orders.propose(RUN, [_proposal(p) for p in PROPOSALS])}
    orders.approve(made["A"], ALICE, "looks right")
    orders.reject(made["B"], BOB, "too risky before earnings")
    orders.edit(made["C"], ALICE, quantity=5, reason="halve it")
    orders.approve(made["C"], ALICE)
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).where(orders_table.c.id == made["D"]).values(
            expires_at=clock.now() - timedelta(seconds=1)))
    orders.expire_due()
    orders.submit_approved(RUN)
    return made


PROPOSER = "agent@platform.io"
API_SOURCE = "agent-platform"


def decide_others(runtime) -> dict[str, str]:
    """Enter M on the ticket (Bob approves, it fills) and propose P through the API (Alice rejects), both an hour
    into the anchor bar; "M"/"P" → order id."""
    orders = runtime.orders
    manual = enter_order(orders, runtime.prices, ALICE, Ticket("review-m", "UP", "buy", quantity=10))
    orders.approve(manual.id, BOB, "fine by me")
    orders.submit(manual.id)
    token, _secret = runtime.tokens.issue(local_operator("admin@bank.com"), PROPOSER, scopes=["orders:propose"])
    _run, (api,) = propose_external(runtime.engine, orders, orders.book, runtime.prices.quote,
                                    runtime.prices.dataset_for, token, ExternalBatch(
                                        API_SOURCE, "mean reversion", [ExternalOrder("DOWN", "buy", 10)]))
    orders.reject(api.id, ALICE, "the platform is wrong about DOWN")
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).where(orders_table.c.id.in_((manual.id, api.id))).values(
            created_at=clock.from_ms(ANCHOR + HOUR)))
    return {"M": manual.id, "P": api.id}


def reviewed_history(make_runtime, others: bool = False, **settings):
    """A runtime holding the whole history (with ``others``: M and P too), the future candles and the worker's
    review of them."""
    from services.review.store import refresh

    runtime = make_runtime(paper_slippage_bps=0, paper_fee_bps=0, **settings)
    write_history(runtime)
    made = decide_history(runtime)
    if others:
        made |= decide_others(runtime)
    write_future(runtime)
    refresh(runtime.engine, runtime.datasets)
    return runtime, made
