"""Deterministic rationale of each step, written from its numbers (what the run says when no LLM is asked)."""

from __future__ import annotations

from collections import Counter

from services.agents.results import SymbolContext


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"


def predictor_summary(forecasts: dict[str, dict], model: dict) -> str:
    """Forecast and interval per symbol, and whether the model beat the random walk on validation."""
    origin = ("weights reused (same data and settings)" if model["cached"]
              else f"trained in {model['train_seconds']:.1f} s")
    overall = model["overall"]
    lines = [f"LSTM over {model['window']}-return windows, {model['horizon']}-bar horizon, {origin}; walk-forward "
             f"RMSE ratio vs random walk {overall['rmse_ratio']:.3f} overall "
             f"({'beats' if overall['beats_naive'] else 'does not beat'} naive)."]
    for symbol, f in forecasts.items():
        lines.append(f"{symbol}: {_pct(f['expected_return'])} [{_pct(f['lower'])}, {_pct(f['upper'])}] "
                     f"(shrinkage {f['shrinkage']:.2f}; {'beats' if f['beats_naive'] else 'does not beat'} naive).")
    return "\n".join(lines)


def anomaly_summary(anomalies: dict[str, list[dict]], excluded: dict[str, str]) -> str:
    """Event counts by severity per symbol and which symbols are left out."""
    lines = []
    for symbol, events in anomalies.items():
        counts = Counter(e["severity"] for e in events)
        lines.append(f"{symbol}: {len(events)} event(s) ({counts['critical']} critical, {counts['warning']} warning, "
                     f"{counts['info']} info).")
    for symbol, why in excluded.items():
        lines.append(f"{symbol} is EXCLUDED from this run's orders: {why}.")
    if not excluded:
        lines.append("No critical anomaly: every symbol stays in.")
    return "\n".join(lines)


def context_summary(context: dict) -> str:
    """News and matching knowledge per symbol, and which symbols are in a sentiment shock."""
    lines = []
    for symbol, found in context["symbols"].items():
        line = f"{symbol}: {SymbolContext.model_validate(found).line(context['lookback_hours'])}"
        if found["shock"]:
            line += " (SENTIMENT SHOCK: buying is held by the risk gate)"
        if found["matches"]:
            line += "; knowledge: " + "; ".join(m["title"] for m in found["matches"])
        lines.append(line + ".")
    if context.get("note"):
        lines.append(context["note"] + ".")
    if not any(f["count"] or f["matches"] for f in context["symbols"].values()):
        lines.append("No news and no matching lessons: the weights are the optimizer's alone.")
    return "\n".join(lines)


def signals_summary(signals: dict) -> str:
    """Each Lona signal with its quality and whether it counts, what was skipped and why, the tilt per symbol."""
    limits = signals["limits"]
    lines = [f"Lona signals (counted with Sharpe >= {limits['lonaMinSharpe']:g}, max drawdown <= "
             f"{limits['lonaMaxDrawdownPct']:g} %, >= {limits['lonaMinTrades']} trades; tilt within "
             f"±{limits['lonaTiltMax']:.0%}):"]
    for symbol, found in signals["symbols"].items():
        lines += [f"{symbol}: {s['text']}." for s in found]
    lines += [f"{s['symbol']}: no signal from {s['strategy'] or s['strategy_id']}: {s['reason']}."
              for s in signals["skipped"]]
    tilts = signals["tilts"]
    lines.append("Signal tilt: " + ", ".join(f"{s} {t:+.1%}" for s, t in tilts.items()) + "." if tilts
                 else "No signal counts: the signals do not move the weights.")
    return "\n".join(lines)


def optimizer_summary(allocation: dict) -> str:
    """Weight changes, expected return and volatility over the horizon, and the orders proposed."""
    moves = ", ".join(f"{s} {w['current']:.1%}→{w['target']:.1%}" for s, w in allocation["weights"].items())
    lines = [f"Weights: {moves}; cash {allocation['cash_weight']:.1%}.",
             f"Expected return {_pct(allocation['expected_return'])}, volatility "
             f"{allocation['expected_volatility']:.2%} over the horizon; turnover {allocation['turnover']:.2f}."]
    orders = allocation["orders"]
    if orders:
        lines.append("Orders: " + "; ".join(f"{o['side']} {o['quantity']:g} {o['symbol']} (~{o['notional']:,.0f} USD)"
                                            for o in orders) + ".")
    tilted = {s: w for s, w in allocation["weights"].items() if w.get("sentiment_tilt")}
    if tilted:
        lines.append("Sentiment tilt: " + ", ".join(f"{s} {w['before_tilt']:.1%}→{w['target']:.1%} "
                                                    f"({w['sentiment_tilt']:+.1%})" for s, w in tilted.items()) + ".")
    signalled = {s: w for s, w in allocation["weights"].items() if w.get("signal_tilt")}
    if signalled:
        lines.append("Lona signal tilt: " + ", ".join(f"{s} {w['signal_tilt']:+.1%}" for s, w in signalled.items())
                     + " (added to any sentiment tilt before the caps).")
    if not orders:
        lines.append(f"No order: {no_order_reason(allocation)}.")
    return "\n".join(lines)


def no_order_reason(allocation: dict) -> str:
    """Why the optimizer proposed nothing."""
    if len(allocation["excluded"]) == len(allocation["weights"]):
        return "every symbol of the universe is excluded by a critical anomaly"
    return ("the target weights are within a lot, the minimum order size or the turnover penalty of the current "
            "positions (weights unchanged)")


def risk_summary(orders: list[dict]) -> str:
    """Which orders pass every check and which check fails where."""
    if not orders:
        return "No order to check."
    lines = []
    for order in orders:
        failing = [c for c in order["checks"] if not c["passed"]]
        verdict = "passes all {} checks".format(len(order["checks"])) if not failing else "FAILS " + "; ".join(
            f"{c['name']} ({c['value']} vs limit {c['limit']})" for c in failing)
        lines.append(f"{order['side']} {order['quantity']:g} {order['symbol']}: {verdict}.")
    return "\n".join(lines)
