"""Text and tables of the approvals inbox (no Streamlit): one line per order, the check table and its summary.

Every number goes through ``services.core.numbers.exact``: prices and quantities as stored, never rounded to
fewer digits and never in scientific notation.
"""

from __future__ import annotations

import pandas as pd

from services.agents.results import SymbolContext
from services.core.numbers import computed, exact
from services.trading.context import ContextAnomaly, ContextForecast, OrderContext
from services.trading.inbox import InboxLine, SinceThen
from services.trading.risk import Check
from services.trading.terms import Terms


def time_left(seconds: float) -> str:
    """``12 min`` / ``1 h 05 min`` / ``expired``."""
    if seconds <= 0:
        return "expired"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 0)} min"


def drift_text(drift_pct: float | None) -> str:
    """``drift +0.12%`` or ``no quote``."""
    return "no quote" if drift_pct is None else f"drift {drift_pct:+.2f}%"


def checks_summary(checks: list[Check]) -> str:
    """``passes all 9 checks`` / ``2 of 9 checks FAIL: …``: from the same list the table shows."""
    failing = [c.name for c in checks if not c.passed]
    if not failing:
        return f"passes all {len(checks)} checks"
    return f"{len(failing)} of {len(checks)} checks FAIL: {', '.join(failing)}"


def line_label(line: InboxLine) -> str:
    """The one line of an order in the list: side, quantity, symbol, notional, drift, time left, checks."""
    order = line.order
    checks = f"checks {line.passed}/{len(line.checks)}" + (" ✗" if line.failing else " ✓")
    return " · ".join((f"{order.side.upper()} {exact(order.quantity)} {order.symbol}",
                       f"{exact(order.notional)} USD", drift_text(line.drift_pct), time_left(order.seconds_left),
                       checks))


#: how a person's decision reads in "since then" (the other moves are the executor's and the venue's)
_DECIDED = {"approve": "approved", "first_approval": "first approval", "reject": "rejected", "edit": "edited",
            "expire": "expired"}


def since_text(since: SinceThen) -> str:
    """``Since then: approved by bob; now filled 10 of 10 at 806.19 (BUY 10 IBM market on paper).``: what became
    of the order an outcome on screen is about, beside that outcome."""
    order = since.order
    decided = [f"{_DECIDED[m.action]} by {m.actor}" + (f" ({m.reason})" if m.action == "reject" else "")
               for m in since.moves if m.action in _DECIDED]
    now = f"now {order.status.replace('_', ' ')}"
    if order.filled_quantity and order.average_price is not None:
        now += f" {exact(order.filled_quantity)} of {exact(order.quantity)} at {computed(order.average_price)}"
    return f"Since then: {'; '.join([*decided, now])} ({Terms.of(order).describe()})."


def terms_caption(line: InboxLine) -> str:
    """Type, limit, reference, notional, venue and the client order id of an order."""
    order = line.order
    limit = f" limit {exact(order.limit_price)}" if order.limit_price is not None else ""
    return (f"{order.order_type}{limit} · reference {exact(order.reference_price)} · notional "
            f"{exact(order.notional)} USD · {order.venue} · client id `{order.client_order_id}` · "
            f"version {order.version}")


def weight_text(line: InboxLine) -> str:
    """``Weight: 4.1% → 9.8%`` for the order's current quantity ('' when the run gave no weights)."""
    if line.weight is None:
        return ""
    current, after = line.weight
    return f"Weight: {current:.1%} → **{after:.1%}**"


def forecast_text(forecast: ContextForecast | None) -> str:
    """Expected return with its interval and whether the model beats the naive forecast ('' when none)."""
    if forecast is None or forecast.expected_return is None:
        return ""
    horizon = "?" if forecast.horizon is None else forecast.horizon
    text = f"expected return **{forecast.expected_return:+.2%}** over {horizon} bars"
    if forecast.lower is not None and forecast.upper is not None:
        text += f", 90% interval [{forecast.lower:+.2%}, {forecast.upper:+.2%}]"
    if forecast.beats_naive is False:
        text += " · model does not beat the naive forecast, the optimizer used a shrunk value"
    return f"Forecast: {text}"


def news_lines(about: OrderContext) -> list[str]:
    """What the run knew beyond prices: the news line, the lessons and patterns that matched, and how sentiment
    moved the target weight ([] for an order of a run without the context step)."""
    news = about.news
    if not news:
        return []
    found = SymbolContext.model_validate(news)
    lines = [("News: " + found.line(float(news["lookback_hours"]))
              + (" · SENTIMENT SHOCK: buying held by the risk gate" if found.shock else ""))]
    lines += [f"Matched {m.kind}: {m.title}" for m in found.matches]
    weight = about.weights
    if weight is not None and weight.sentiment_tilt and weight.before_tilt is not None:
        lines.append(f"Sentiment tilt {weight.sentiment_tilt:+.1%}: target weight {weight.before_tilt:.1%} → "
                     f"{weight.target:.1%}")
    elif found.count:
        lines.append("Sentiment did not move the weight (no tilt allowed or nothing to tilt)")
    return lines


def signal_lines(about: OrderContext) -> list[str]:
    """The Lona signals the run read on the order's symbol (as the agent worded them), the strategies that gave
    none and why, and how far the signals moved the target weight ([] for a run that named no strategy)."""
    lines = [s.text for s in about.signals] + [s.text for s in about.signals_skipped]
    weight = about.weights
    if weight is not None and weight.signal_tilt and weight.before_tilt is not None:
        lines.append(f"Lona signal tilt {weight.signal_tilt:+.1%}: target weight {weight.before_tilt:.1%} before the "
                     f"tilts → {weight.target:.1%}")
    return lines


def _cell(value: float | str | None) -> str:
    return exact(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)


def checks_frame(checks: list[Check]) -> pd.DataFrame:
    """Risk checks as a table (value and limit as stored, side by side)."""
    return pd.DataFrame([{"check": c.name, "result": "pass" if c.passed else "FAIL", "value": _cell(c.value),
                          "limit": _cell(c.limit), "detail": c.detail} for c in checks],
                        columns=["check", "result", "value", "limit", "detail"])


def anomalies_frame(anomalies: tuple[ContextAnomaly, ...]) -> pd.DataFrame:
    """The anomalies the agent saw on the order's symbol, as a table."""
    return pd.DataFrame([a.model_dump() for a in anomalies],
                        columns=["time", "kind", "severity", "score", "detail"])


def sent_rows(terms: list[Terms]) -> pd.DataFrame:
    """Exactly the orders a bulk action covers (as text, numbers as stored)."""
    return pd.DataFrame([{"side": t.side.upper(), "quantity": exact(t.quantity), "symbol": t.symbol,
                          "type": t.order_type, "limit": exact(t.limit_price), "venue": t.venue} for t in terms],
                        columns=["side", "quantity", "symbol", "type", "limit", "venue"])
