"""View model of the Review page and ``nexus review``: stored review rows as tables and plot frames (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from services.core.numbers import exact
from services.review.store import AggregateRow, DecisionRow

#: the interval level the predictor forecasts (models.predictor.PredictorConfig.interval_level)
NOMINAL_COVERAGE = 0.90
AGGREGATE_COLUMNS = ["scope", "key", "decisions", "resolved", "pending", "hit rate", "agent alone",
                     "agent + operator", "value added", "by edits", "by rejections", "by expiries", "unfilled",
                     "coverage", "intervals"]
DECISION_COLUMNS = ["decided", "source", "proposed by", "run", "symbol", "side", "decision", "operator", "reason",
                    "proposed", "final", "filled", "fill price", "forecast", "interval", "realised", "hit", "covered",
                    "agent alone", "agent + operator", "value added", "outcome", "order"]


def aggregates_table(rows: Sequence[AggregateRow]) -> pd.DataFrame:
    """The aggregates of the chosen scopes, one row each."""
    return pd.DataFrame([{
        "scope": row.scope, "key": row.key, "decisions": row.decisions, "resolved": row.resolved,
        "pending": row.pending, "hit rate": row.hit_rate, "agent alone": round(row.agent_pnl, 2),
        "agent + operator": round(row.actual_pnl, 2), "value added": round(row.value_added, 2),
        "by edits": round(row.value_edits, 2), "by rejections": round(row.value_rejections, 2),
        "by expiries": round(row.value_expiries, 2), "unfilled": round(row.value_other, 2),
        "coverage": row.coverage, "intervals": row.intervals} for row in rows], columns=AGGREGATE_COLUMNS)


def _terms(terms: dict) -> str:
    quantity = exact(terms.get("quantity"))
    limit = terms.get("limit_price")
    return f"{quantity} @ {exact(limit)} limit" if limit is not None else f"{quantity} market"


def _interval(row: DecisionRow) -> str:
    if row.forecast_lower is None or row.forecast_upper is None:
        return ""
    return f"[{row.forecast_lower:+.2%}, {row.forecast_upper:+.2%}] over {row.forecast_horizon} bars"


def decisions_table(rows: Sequence[DecisionRow]) -> pd.DataFrame:
    """One line per decided order: who proposed it, the proposal, decision, execution, forecast and outcome at the
    chosen horizon."""
    return pd.DataFrame([{
        "decided": row.decided_at, "source": row.source, "proposed by": row.proposer or row.source,
        "run": row.run_id, "symbol": row.symbol, "side": row.side,
        "decision": row.decision, "operator": row.operator, "reason": row.reason, "proposed": _terms(row.proposed),
        "final": _terms(row.final), "filled": row.executed_quantity, "fill price": row.fill_price,
        "forecast": row.forecast_return, "interval": _interval(row), "realised": row.realised_return,
        "hit": _yes_no(row.hit), "covered": _yes_no(row.covered), "agent alone": row.agent_pnl,
        "agent + operator": row.actual_pnl, "value added": row.value_added,
        "outcome": "done" if row.outcome_status == "done" else f"{row.outcome_status}: {row.note}",
        "order": f"/orders?order={row.order_id}"} for row in rows], columns=DECISION_COLUMNS)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def cumulative_pnl(rows: Sequence[DecisionRow]) -> pd.DataFrame:
    """Running P&L of the agent alone and of agent + operator over the resolved decisions, in decision order."""
    done = [r for r in rows if r.outcome_status == "done"]
    frame = pd.DataFrame({"decided": [r.decided_at for r in done], "agent alone": [r.agent_pnl for r in done],
                          "agent + operator": [r.actual_pnl for r in done]},
                         columns=["decided", "agent alone", "agent + operator"])
    frame[["agent alone", "agent + operator"]] = frame[["agent alone", "agent + operator"]].cumsum()
    return frame


def interval_points(rows: Sequence[DecisionRow]) -> pd.DataFrame:
    """Each resolved forecast with its interval and the realised return (for the calibration plot)."""
    return pd.DataFrame([{"label": f"{r.symbol} {r.decided_at:%Y-%m-%d %H:%M} ({r.order_id})",
                          "forecast": r.forecast_return, "lower": r.forecast_lower, "upper": r.forecast_upper,
                          "realised": r.realised_return, "covered": bool(r.covered)}
                         for r in rows if r.outcome_status == "done" and r.covered is not None],
                        columns=["label", "forecast", "lower", "upper", "realised", "covered"])


def rates_frame(at_horizon: Sequence[AggregateRow], at_forecast: Sequence[AggregateRow]) -> pd.DataFrame:
    """Per key of one scope: the hit rate at the chosen horizon and the interval coverage at the forecast horizon
    (where intervals are held), for the rates plot."""
    coverage = {r.key: r.coverage for r in at_forecast}
    return pd.DataFrame([{"key": r.key, "hit rate": r.hit_rate, "coverage": coverage.get(r.key),
                          "resolved": r.resolved} for r in at_horizon],
                        columns=["key", "hit rate", "coverage", "resolved"])
