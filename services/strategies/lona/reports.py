"""Reading a Lona report: metrics normalised to percents (saying which unit was assumed), timeline, trades."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: our metric name -> the spellings Lona (and the upstream adapter) use, plain snake first
_ALIASES = {
    "total_return": ("total_return", "totalReturn", "total_return_pct", "totalReturnPct"),
    "max_drawdown": ("max_drawdown", "maxDrawdown", "max_drawdown_pct", "maxDrawdownPct"),
    "win_rate": ("win_rate", "winRate", "win_rate_pct", "winRatePct"),
    "sharpe_ratio": ("sharpe_ratio", "sharpeRatio", "sharpe"),
    "total_trades": ("total_trades", "totalTrades", "trades", "num_trades"),
}
_PERCENT_METRICS = ("total_return", "max_drawdown", "win_rate")
_TIMELINE_KEYS = ("backtest_timeline", "timeline", "equity_curve")
_TRADE_KEYS = ("trades", "trade_history", "trade_list", "transactions")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Metrics:
    """A report's headline metrics. Percent metrics are in percent; drawdown is a positive magnitude.

    ``units`` says how Lona's numbers were read (fractions scaled by 100, or percents as reported) and
    why, so the UI can show it; ``other`` keeps every other numeric stat as reported.
    """

    total_return_pct: float | None = None
    max_drawdown_pct: float | None = None
    win_rate_pct: float | None = None
    sharpe_ratio: float | None = None
    total_trades: int | None = None
    units: str = ""
    other: dict[str, float] = field(default_factory=dict)


def _pick(stats: dict[str, Any], name: str) -> tuple[str, float] | None:
    for key in _ALIASES[name]:
        number = _number(stats.get(key))
        if number is not None:
            return key, number
    return None


def _plain_unit(plain: dict[str, float]) -> tuple[str, str]:
    """Decide whether un-suffixed percent-like stats are fractions or percents; return (unit, reason)."""
    bounded = {k: v for k, v in plain.items() if k in ("max_drawdown", "win_rate")}
    over = [f"{k} {v:g}" for k, v in bounded.items() if abs(v) > 1]
    if over:
        return "percent", f"{', '.join(over)} cannot be a fraction"
    if bounded:
        return "fraction", f"{', '.join(f'{k} {v:g}' for k, v in bounded.items())} within ±1"
    value = plain["total_return"]
    if abs(value) <= 1:
        return "fraction", f"total_return {value:g} within ±1 (ambiguous: only the return was reported)"
    return "percent", f"total_return {value:g} beyond ±1 (ambiguous: only the return was reported)"


def normalise_metrics(stats: dict[str, Any] | None) -> Metrics:
    """Read ``total_stats`` of any known spelling into Metrics, in percent, saying which unit was assumed.

    Keys ending in ``_pct``/``Pct`` are percents. Plain keys are read as fractions unless a win rate or
    drawdown beyond ±1 shows they are percents (Lona's units are not documented); non-numbers are dropped.
    """
    stats = stats or {}
    picked = {name: hit for name in _ALIASES if (hit := _pick(stats, name))}
    plain = {n: v for n, (k, v) in picked.items() if n in _PERCENT_METRICS and not k.lower().endswith("pct")}
    unit, reason = _plain_unit(plain) if plain else ("percent", "")
    scale = 100.0 if unit == "fraction" else 1.0
    percents: dict[str, float | None] = {}
    for name in _PERCENT_METRICS:
        if name in picked:
            value = picked[name][1]
            percents[name] = value * (scale if name in plain else 1.0)
    if plain:
        how = "fractions, shown ×100 as percents" if unit == "fraction" else "percents, shown as reported"
        units = f"read {', '.join(plain)} as {how} ({reason})"
    elif percents:
        units = "percents as reported (keys marked _pct)"
    else:
        units = "no return, drawdown or win-rate figures reported"
    used = {key for key, _ in picked.values()}
    other = {k: n for k, v in stats.items() if k not in used and (n := _number(v)) is not None}
    drawdown = percents.get("max_drawdown")
    trades = picked.get("total_trades")
    return Metrics(
        total_return_pct=percents.get("total_return"),
        max_drawdown_pct=abs(drawdown) if drawdown is not None else None,
        win_rate_pct=percents.get("win_rate"),
        sharpe_ratio=picked["sharpe_ratio"][1] if "sharpe_ratio" in picked else None,
        total_trades=int(trades[1]) if trades else None,
        units=units,
        other=other,
    )


def _first_list(payload: Any, keys: tuple[str, ...]) -> list:
    if not isinstance(payload, dict):
        return []
    return next((payload[k] for k in keys if isinstance(payload.get(k), list)), [])


def timeline_frame(full_report: Any) -> pd.DataFrame:
    """Equity and drawdown over time: columns ``date`` (UTC), ``equity``, ``drawdown_pct`` (<= 0, percent).

    Reads ``backtest_timeline`` or ``timeline`` entries ``{date, equity, drawdown}``. Drawdowns within ±1
    are taken as fractions; a missing drawdown is computed from the equity's running peak.
    """
    rows = [r for r in _first_list(full_report, _TIMELINE_KEYS) if isinstance(r, dict)]
    frame = pd.DataFrame.from_records(rows)
    if frame.empty or "equity" not in frame.columns:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ms, UTC]"), "equity": pd.Series(dtype="float64"),
                             "drawdown_pct": pd.Series(dtype="float64")})
    date_column = next((c for c in ("date", "timestamp", "time", "datetime") if c in frame.columns), None)
    dates = frame[date_column] if date_column else pd.Series(range(len(frame)))
    if pd.api.types.is_numeric_dtype(dates):
        dates = pd.to_datetime(dates, unit="ms", utc=True)
    else:
        dates = pd.to_datetime(dates, utc=True, errors="coerce", format="mixed")
    equity = pd.to_numeric(frame["equity"], errors="coerce").astype("float64")
    if "drawdown" in frame.columns:
        drawdown = pd.to_numeric(frame["drawdown"], errors="coerce").astype("float64")
        if drawdown.abs().max() <= 1:
            drawdown = drawdown * 100
        drawdown = -drawdown.abs()
    else:
        peak = np.fmax.accumulate(equity.to_numpy())
        drawdown = pd.Series((equity.to_numpy() / peak - 1) * 100, dtype="float64")
    out = pd.DataFrame({"date": dates.dt.as_unit("ms"), "equity": equity, "drawdown_pct": drawdown})
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def trades_frame(full_report: Any) -> pd.DataFrame:
    """The trade history of a full report as a frame (columns as Lona sent them)."""
    rows = [r for r in _first_list(full_report, _TRADE_KEYS) if isinstance(r, dict)]
    return pd.DataFrame.from_records(rows)
