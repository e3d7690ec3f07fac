"""What happened after a decision, from stored candles: P&L of the agent alone and of agent + operator, the
forecast against the realised return, and the aggregates of many decisions (pure computation, no I/O).

Bar 0 is the last bar the proposing run saw (``anchor_ts``); the outcome at ``h`` bars is the close of the
``h``-th stored candle after it. An executed order's P&L uses its fill price and fee; the "agent alone" P&L of
an executed order is the same fill at the proposed quantity (fee scaled with it), and of an order that was not
executed the proposal's quantity at its reference price. So the value people added, ``actual - agent``, is
zero for an approval that filled as proposed, the saving (or cost) of an edit, and minus the would-have P&L of
a rejection or an expiry; it sums to ``agent + operator - agent alone`` exactly.

Every source is reviewed the same way: for an order a person entered on the ticket or an API client proposed,
"agent alone" is that proposer alone (their proposal executed as proposed) and the value added is the
approver's. Such orders carry no forecast: they count in P&L and value added at the fixed horizons, never in the
hit rate or the interval coverage, and they have no forecast horizon (``NOT_APPLICABLE`` there, in no aggregate).
An approved order is scored once it is final, for what filled (a partial fill that was cancelled or failed
counts its filled part).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from services.core.numbers import exact

#: the fixed horizons every decision is followed at, in bars; plus the forecast's own horizon
FIXED_HORIZONS = (1, 5, 20)
FORECAST = "forecast"
HORIZONS = (*(str(h) for h in FIXED_HORIZONS), FORECAST)
HORIZON_LABELS = {"1": "1 bar", "5": "5 bars", "20": "20 bars", FORECAST: "the forecast horizon"}
#: which value-added bucket each decision falls in
BUCKETS = {"edited": "edits", "rejected": "rejections", "cancelled": "rejections", "expired": "expiries",
           "approved": "other"}
#: an outcome at a horizon the decision does not have (the forecast horizon of an order without a forecast)
NOT_APPLICABLE = "n/a"
#: the agent graph's source; orders of other sources were entered by a person or proposed through the API
GRAPH_SOURCE = "agent-graph"


@dataclass(frozen=True)
class Decision:
    """A decided order as the review needs it: the proposal, the decision, the execution and the forecast."""

    order_id: str
    run_id: str
    symbol: str
    side: str
    decision: str
    operator: str
    proposed_quantity: float
    reference_price: float
    anchor_ts: int | None
    executed_quantity: float = 0.0
    fill_price: float | None = None
    fee: float = 0.0
    settled: bool = True
    forecast_return: float | None = None
    forecast_lower: float | None = None
    forecast_upper: float | None = None
    forecast_horizon: int | None = None
    source: str = GRAPH_SOURCE

    def bars(self, horizon: str) -> int | None:
        """Bars after the anchor of ``horizon`` (None for the forecast horizon of an order without a forecast)."""
        return self.forecast_horizon if horizon == FORECAST else int(horizon)


@dataclass(frozen=True)
class Outcome:
    """One decision at one horizon: pending (with why) until the stored candles reach it, then its numbers."""

    horizon: str
    bars: int | None
    status: str = "pending"
    note: str = ""
    exit_ts: int | None = None
    exit_price: float | None = None
    realised_return: float | None = None
    hit: bool | None = None
    covered: bool | None = None
    agent_pnl: float | None = None
    actual_pnl: float | None = None
    value_added: float | None = None


@dataclass(frozen=True)
class Candles:
    """Stored candles after a decision's anchor (timestamps and closes, oldest first) and the anchor's close."""

    timestamps: np.ndarray
    closes: np.ndarray
    base_close: float | None = None


def outcome(decision: Decision, horizon: str, after: Candles | None, note: str = "") -> Outcome:
    """``decision`` at ``horizon`` from the candles ``after`` its anchor (None: none readable, ``note`` says
    why)."""
    bars = decision.bars(horizon)
    if bars is None:
        return Outcome(horizon, None, NOT_APPLICABLE, "no forecast horizon")
    if not decision.settled:
        filled = decision.executed_quantity
        return Outcome(horizon, bars, note=f"{exact(filled)} filled so far: scored once the order is final"
                       if filled > 0 else "not executed yet")
    if decision.anchor_ts is None:
        return Outcome(horizon, bars, note=note or "the proposal names no bar it was made on")
    if after is None:
        return Outcome(horizon, bars, note=note or "no candles")
    if len(after.closes) < bars:
        missing = bars - len(after.closes)
        return Outcome(horizon, bars, note=f"waiting for {missing} more candle{'s' if missing != 1 else ''}")
    exit_price = float(after.closes[bars - 1])
    sign = 1.0 if decision.side == "buy" else -1.0
    if decision.executed_quantity > 0 and decision.fill_price is not None:
        actual = sign * decision.executed_quantity * (exit_price - decision.fill_price) - decision.fee
        scaled_fee = decision.fee * decision.proposed_quantity / decision.executed_quantity
        agent = sign * decision.proposed_quantity * (exit_price - decision.fill_price) - scaled_fee
    else:
        actual = 0.0
        agent = sign * decision.proposed_quantity * (exit_price - decision.reference_price)
    base = after.base_close or decision.reference_price
    realised = math.log(exit_price / base)
    hit = None
    if decision.forecast_return:  # a zero (or missing) forecast calls no direction
        hit = (decision.forecast_return > 0) == (realised > 0)
    covered = None
    if horizon == FORECAST and decision.forecast_lower is not None and decision.forecast_upper is not None:
        covered = decision.forecast_lower <= realised <= decision.forecast_upper
    return Outcome(horizon, bars, "done", "", int(after.timestamps[bars - 1]), exit_price, realised, hit, covered,
                   agent, actual, actual - agent)


@dataclass
class Aggregate:
    """The review of many decisions at one horizon."""

    decisions: int = 0
    resolved: int = 0
    pending: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    forecasts: int = 0
    hits: int = 0
    agent_pnl: float = 0.0
    actual_pnl: float = 0.0
    value: dict[str, float] = field(default_factory=lambda: dict.fromkeys(sorted(set(BUCKETS.values())), 0.0))
    intervals: int = 0
    covered: int = 0

    @property
    def hit_rate(self) -> float | None:
        """Share of the resolved forecasts whose sign was right (None before any)."""
        return self.hits / self.forecasts if self.forecasts else None

    @property
    def coverage(self) -> float | None:
        """Share of the resolved 90 % intervals that held the realised return (None before any)."""
        return self.covered / self.intervals if self.intervals else None

    def add(self, decision: Decision, result: Outcome) -> None:
        """Count one decision's outcome in."""
        self.decisions += 1
        self.counts[decision.decision] = self.counts.get(decision.decision, 0) + 1
        if result.status != "done":
            self.pending += 1
            return
        self.resolved += 1
        self.agent_pnl += result.agent_pnl or 0.0
        self.actual_pnl += result.actual_pnl or 0.0
        bucket = BUCKETS.get(decision.decision, "other")
        self.value[bucket] += result.value_added or 0.0
        if result.hit is not None:
            self.forecasts += 1
            self.hits += result.hit
        if result.covered is not None:
            self.intervals += 1
            self.covered += result.covered


def scopes(decision: Decision) -> Sequence[tuple[str, str]]:
    """The aggregates a decision counts in: overall, its run, its symbol, its source, its operator (when someone
    decided)."""
    keys = [("overall", ""), ("run", decision.run_id), ("symbol", decision.symbol), ("source", decision.source)]
    if decision.operator:
        keys.append(("operator", decision.operator))
    return keys


def aggregate(rows: Iterable[tuple[Decision, Outcome]]) -> dict[tuple[str, str, str], Aggregate]:
    """(scope, key, horizon) → the aggregate of ``rows`` (each decision with one of its outcomes; those at a
    horizon the decision does not have are left out)."""
    result: dict[tuple[str, str, str], Aggregate] = {}
    for decision, item in rows:
        if item.status == NOT_APPLICABLE:
            continue
        for scope, key in scopes(decision):
            result.setdefault((scope, key, item.horizon), Aggregate()).add(decision, item)
    return result
