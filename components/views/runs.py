"""What the Agent Runs page shows, as tables built without Streamlit from a run's stored record."""

from __future__ import annotations

import pandas as pd

from services.agents.results import Anomaly, CheckedOrder, LonaSignals, SymbolForecast
from services.agents.run_store import GraphRun
from services.agents.state import NODES

#: the predictor's shrinkage factor, named for what it is: the share of the model's forecast that validation
#: supports (1 = the forecast as the model made it, 0 = shrunk all the way to the random walk's zero return)
SKILL_KEPT = "skill kept"
SKILL_KEPT_HELP = ("Share of the model's forecast kept after walk-forward validation: 1 = published as the model "
                   "made it, 0 = fully shrunk to the random walk (zero expected return). "
                   "Expected return = skill kept × raw model.")


def progress_text(run: GraphRun) -> str:
    """The progress bar's caption: where the run is, and for a failed or cancelled run which node stopped and why."""
    done = sum(1 for n in NODES if run.step(n).status in ("done", "skipped"))
    count = f"{done} of {len(NODES)} nodes done"
    status = _words(run.status)
    if run.status in ("failed", "cancelled"):
        stopped = next((n for n in NODES if run.step(n).status == "failed"), None)
        where = f"at {_words(stopped)}" if stopped else "before any node ran" if not done else "between nodes"
        why = (run.step(stopped).message if stopped else "") or run.error or "no reason recorded"
        return f"{status} {where} ({count}): {why}"
    current = next((n for n in NODES if run.step(n).status in ("running", "waiting")), None)
    return f"{status} · {_words(current)} ({count})" if current else f"{status} ({count})"


def _words(name: str) -> str:
    return name.replace("_", " ")


def _time(ms: int | None) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC") if ms is not None else pd.NaT


def runs_frame(runs: list[GraphRun]) -> pd.DataFrame:
    """The run history: one row per run."""
    return pd.DataFrame([
        {"run": r.id, "status": r.status.replace("_", " "), "started": r.created_at, "by": r.actor,
         "universe": ", ".join(r.universe), "progress": r.progress,
         "orders": len(r.results.orders), "outcome": r.outcome or r.error or ""}
        for r in runs
    ], columns=["run", "status", "started", "by", "universe", "progress", "orders", "outcome"])


def steps_frame(run: GraphRun) -> pd.DataFrame:
    """Per node: status, seconds and what it said."""
    return pd.DataFrame([
        {"node": n, "status": step.status, "seconds": step.seconds, "message": step.message}
        for n, step in ((n, run.step(n)) for n in NODES)
    ])


def metrics_frame(forecasts: dict[str, SymbolForecast]) -> pd.DataFrame:
    """Forecast, interval and walk-forward metrics against the naive (random-walk) forecast, per symbol."""
    return pd.DataFrame([
        {"symbol": s, "expected return": f.expected_return, "lower": f.lower, "upper": f.upper,
         "raw model": f.model_return, SKILL_KEPT: f.shrinkage, "RMSE": f.metrics.rmse,
         "RMSE naive": f.metrics.rmse_naive, "RMSE ratio": f.metrics.rmse_ratio, "hit rate": f.metrics.hit_rate,
         "coverage": f.metrics.interval_coverage, "beats naive": f.beats_naive, "note": f.note}
        for s, f in forecasts.items()
    ])


def events_frame(anomalies: dict[str, tuple[Anomaly, ...]],
                 severities: tuple[str, ...] = ("critical", "warning", "info")) -> pd.DataFrame:
    """Every anomaly event of the run (newest first) with the chosen severities."""
    rows = [{"symbol": s, "time": _time(e.timestamp), "kind": e.kind, "severity": e.severity, "score": e.score,
             "detail": e.detail}
            for s, events in anomalies.items() for e in events if e.severity in severities]
    frame = pd.DataFrame(rows, columns=["symbol", "time", "kind", "severity", "score", "detail"])
    return frame.sort_values("time", ascending=False, kind="stable").reset_index(drop=True)


def orders_frame(orders: tuple[CheckedOrder, ...]) -> pd.DataFrame:
    """Proposed orders with the verdict of the risk gate."""
    return pd.DataFrame([
        {"symbol": o.symbol, "side": o.side, "quantity": o.quantity, "type": o.order_type,
         "reference price": o.reference_price, "notional": o.notional, "target weight": o.target_weight,
         "checks": "pass" if o.passed else "FAIL: " + ", ".join(c.name for c in o.failing)}
        for o in orders
    ])


SIGNAL_COLUMNS = ["symbol", "strategy", "position", "since", "age (days)", "Sharpe", "max drawdown %", "trades",
                  "counted", "tilt", "report", "data until", "why"]


def signals_frame(signals: LonaSignals) -> pd.DataFrame:
    """The Lona signals a run read, one row per strategy and symbol: position and since when, quality, whether the
    policy counts it and the symbol's tilt, the report read; strategies that gave none say why."""
    rows = [{"symbol": s.symbol, "strategy": s.strategy, "position": s.position,
             "since": pd.Timestamp(s.since).tz_convert("UTC"), "age (days)": s.age_days, "Sharpe": s.sharpe,
             "max drawdown %": s.max_drawdown_pct, "trades": s.trades, "counted": s.counted,
             "tilt": signals.tilts.get(s.symbol), "report": s.report_id, "data until": _time(s.data_until_ms),
             "why": "; ".join(s.problems)}
            for found in signals.symbols.values() for s in found]
    rows += [{"symbol": s.symbol, "strategy": s.strategy or s.strategy_id, "position": "no signal",
              "counted": False, "why": s.reason} for s in signals.skipped]
    return pd.DataFrame(rows, columns=SIGNAL_COLUMNS)


def versions_frame(run: GraphRun) -> pd.DataFrame:
    """The data a run read: dataset, version (ETag), bars, span, calendar notes."""
    return pd.DataFrame([
        {"dataset": d.ref, "version": d.version, "bars": d.bars, "first": _time(d.first_ts), "last": _time(d.last_ts),
         "close-only": d.close_only, "off calendar": d.dropped, "NaN returns": d.nan_returns}
        for d in run.results.universe
    ])
