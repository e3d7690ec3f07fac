"""Lona signals for the context step: for each strategy a run names and each symbol of its universe, the last
position (long/flat/short) of the latest completed backtest, since when, and the backtest's quality (Sharpe,
max drawdown, number of trades); and the bounded tilt the optimizer reads from them.

Backtests are the ones this console started (``services.strategies.backtests``), read through their stored
reports (Lona is asked only for what is not stored yet). A signal that cannot be read — Lona down or slow, no
completed backtest, a report without the figures, data newer than the run's as-of time — is left out with the
reason; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from services.core.errors import ConfigError
from services.market_data.datasets import DatasetRef
from services.market_data.ohlcv import approx_interval_ms
from services.strategies.backtests import Backtest, BacktestReport, LonaServices, backtest_history, backtest_report
from services.strategies.lona.client import ONCE
from services.strategies.lona.credentials import connect
from services.strategies.lona.errors import LonaError, LonaNotFound
from services.trading.risk import GateLimits

#: recorded backtests of one strategy looked through, newest first
HISTORY = 200
#: how a position moves the tilt
DIRECTION = {"long": 1, "flat": 0, "short": -1}
_ENTRY = ("entry_date", "entry_time", "open_date", "opened_at", "entry")
_EXIT = ("exit_date", "exit_time", "close_date", "closed_at", "exit")
_SIDE = ("side", "direction", "type")
_SIZE = ("size", "quantity", "qty")
_SIDES = {"long": "long", "buy": "long", "short": "short", "sell": "short"}
DAY_S = 86_400


class Unreadable(Exception):
    """Why a strategy gives no signal on a symbol (the message is shown in the step)."""


def lona_signals(runtime: LonaServices, strategies: Sequence[str], symbols: Sequence[str], when: datetime,
                 gate: GateLimits) -> dict:
    """Signals of ``strategies`` on ``symbols`` as of ``when``, and what was skipped. A backtest counts for a
    symbol when one of its datasets is on that symbol (any exchange or interval of ours).

    Lona is asked once per strategy (its name, and that it still exists), without retries: once it failed, the
    remaining strategies are skipped with the same reason so a run never waits on a gateway that is down.
    """
    found: dict[str, list[dict]] = {s: [] for s in symbols}
    skipped: list[dict] = []
    named: list[dict] = []
    down: str | None = None
    for strategy_id in strategies:
        name, why = None, down
        if why is None:
            try:
                name = _strategy_name(runtime, strategy_id)
            except LonaNotFound:
                why = f"strategy {strategy_id} was not found on Lona"
            except LonaError as error:
                why = down = f"Lona did not answer: {error}"
            except ConfigError as error:  # no token: says what to set
                why = down = str(error)
        named.append({"id": strategy_id, "name": name, "note": why})
        history = backtest_history(runtime, HISTORY, strategy_id) if why is None else []
        for symbol in symbols:
            try:
                if why is not None:
                    raise Unreadable(why)
                found[symbol].append(_signal(runtime, strategy_id, name, symbol, history, when, gate))
            except Unreadable as reason:
                skipped.append({"strategy_id": strategy_id, "strategy": name, "symbol": symbol, "reason": str(reason)})
            except (LonaError, ConfigError) as error:
                why = down = f"Lona did not answer: {error}"
                skipped.append({"strategy_id": strategy_id, "strategy": name, "symbol": symbol, "reason": why})
    limits = {k: getattr(gate, k) for k in ("lonaTiltMax", "lonaMinSharpe", "lonaMaxDrawdownPct", "lonaMinTrades")}
    result = {"as_of": when.isoformat(), "strategies": named, "symbols": found, "skipped": skipped, "limits": limits}
    return {**result, "tilts": signal_tilts(result, gate)}


def _strategy_name(runtime: LonaServices, strategy_id: str) -> str:
    with connect(runtime.settings, retry=ONCE) as client:
        strategy = client.get_strategy(strategy_id)
    return strategy.name or strategy_id


def _signal(runtime: LonaServices, strategy_id: str, name: str, symbol: str, history: list[Backtest],
            when: datetime, gate: GateLimits) -> dict:
    """The signal of the newest completed backtest of the strategy on ``symbol`` whose data the run could know."""
    covering = [(b, d) for b in history for d in b.datasets if DatasetRef.parse(d["ref"]).symbol == symbol]
    if not covering:
        raise Unreadable(f"no backtest of {name} on {symbol} was started from this console")
    known = [(b, d) for b, d in covering if _known(d, when)]
    if not known:
        raise Unreadable(f"every backtest of {name} on {symbol} uses candles after the run's as-of time "
                         f"{when:%Y-%m-%d %H:%M} UTC")
    statuses = []
    for backtest, dataset in known:
        report = backtest_report(runtime, backtest.report_id) if backtest.status != "FAILED" else None
        statuses.append(report.status if report else "FAILED")
        if report is not None and report.status == "COMPLETED":
            return read_signal(report, strategy_id, name, symbol, dataset, when, gate)
    raise Unreadable(f"no completed backtest of {name} on {symbol} (latest {', '.join(statuses[:3])})")


def _known(dataset: dict, when: datetime) -> bool:
    """True when the backtest's last candle closed by ``when`` (False when the record does not say)."""
    last = dataset.get("last_ts")
    if not isinstance(last, int):
        return False
    bar = approx_interval_ms(DatasetRef.parse(dataset["ref"]).interval)
    return last + bar <= when.timestamp() * 1000


def read_signal(report: BacktestReport, strategy_id: str, name: str, symbol: str, dataset: dict, when: datetime,
                gate: GateLimits) -> dict:
    """The signal of one completed report: last position and since when, quality, whether the policy counts it."""
    metrics = report.metrics
    missing = [label for label, value in (("Sharpe ratio", metrics.sharpe_ratio),
                                          ("max drawdown", metrics.max_drawdown_pct),
                                          ("number of trades", metrics.total_trades)) if value is None]
    if missing:
        raise Unreadable(f"report {report.report_id} of {name} has no usable {', '.join(missing)} (missing or not "
                         "a number)")
    trades = report.trades
    if "symbol" in trades.columns:
        trades = trades[trades["symbol"].astype(str) == symbol]
    elif report.backtest is not None and len(report.backtest.datasets) > 1:
        raise Unreadable(f"report {report.report_id} of {name} covers {len(report.backtest.datasets)} datasets and "
                         "its trades do not say which symbol they are on")
    start = report.backtest.start_date if report.backtest else None
    position, since = last_position(trades, metrics.total_trades, start, f"report {report.report_id} of {name}")
    sharpe, drawdown, count = metrics.sharpe_ratio, metrics.max_drawdown_pct, metrics.total_trades
    problems = quality_problems(sharpe, drawdown, count, gate)
    age_days = max(0.0, (when - since).total_seconds() / DAY_S)
    text = (f"{name} on Lona: {position} {_since(age_days)}, Sharpe {sharpe:.2f}, max drawdown {drawdown:.1f} %, "
            f"{count} trade{'s' if count != 1 else ''}")
    if problems:
        text += f" (not counted: {'; '.join(problems)})"
    return {"strategy_id": strategy_id, "strategy": name, "symbol": symbol, "report_id": report.report_id,
            "dataset_ref": dataset["ref"], "data_until_ms": dataset["last_ts"], "position": position,
            "since": since.isoformat(), "age_days": age_days, "sharpe": sharpe, "max_drawdown_pct": drawdown,
            "trades": count, "counted": not problems, "problems": problems, "text": text}


def last_position(trades: pd.DataFrame, total_trades: int, start, what: str) -> tuple[str, datetime]:
    """(long|flat|short, since when) from a report's trade history: the latest trade still open gives its side
    since its entry, a closed one is flat since its exit; no trade at all is flat since the backtest's start."""
    if trades.empty:
        if total_trades == 0 and start is not None:
            return "flat", datetime(start.year, start.month, start.day, tzinfo=UTC)
        raise Unreadable(f"{what} counts {total_trades} trades but sends no trade history")
    entry = _column(trades, _ENTRY)
    if entry is None:
        raise Unreadable(f"{what}: its trades have no entry date")
    entries = pd.to_datetime(trades[entry], utc=True, errors="coerce", format="mixed")
    if entries.isna().any():
        raise Unreadable(f"{what}: a trade has no readable entry date")
    last = trades.loc[entries.idxmax()]
    exit_column = _column(trades, _EXIT)
    exited = None if exit_column is None else last[exit_column]
    if exited is not None and not pd.isna(exited) and str(exited).strip():
        closed = pd.to_datetime(exited, utc=True, errors="coerce")
        if pd.isna(closed):
            raise Unreadable(f"{what}: its last trade's exit date {exited!r} is not a date")
        return "flat", closed.to_pydatetime()
    return _side(last, trades, what), entries.max().to_pydatetime()


def _column(trades: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in trades.columns), None)


def _side(trade: pd.Series, trades: pd.DataFrame, what: str) -> str:
    column = _column(trades, _SIDE)
    if column is not None and str(trade[column]).strip().lower() in _SIDES:
        return _SIDES[str(trade[column]).strip().lower()]
    size = _column(trades, _SIZE)
    value = pd.to_numeric(pd.Series([trade[size]]), errors="coerce").iloc[0] if size else None
    if value is None or pd.isna(value) or value == 0:
        raise Unreadable(f"{what}: its open trade says neither its side nor a signed size")
    return "long" if value > 0 else "short"


def quality_problems(sharpe: float, drawdown_pct: float, trades: int, gate: GateLimits) -> list[str]:
    """Why the policy does not count a backtest of this quality ([] when it does)."""
    problems = []
    if sharpe < gate.lonaMinSharpe:
        problems.append(f"Sharpe {sharpe:.2f} below {gate.lonaMinSharpe:g}")
    if drawdown_pct > gate.lonaMaxDrawdownPct:
        problems.append(f"max drawdown {drawdown_pct:.1f} % above {gate.lonaMaxDrawdownPct:g} %")
    if trades < gate.lonaMinTrades:
        problems.append(f"{trades} trades, fewer than {gate.lonaMinTrades}")
    return problems


def _since(age_days: float) -> str:
    if age_days < 1:
        return "since less than a day"
    days = int(age_days)
    return f"since {days} day{'s' if days != 1 else ''}"


def signal_tilts(signals: dict | None, gate: GateLimits) -> dict[str, float]:
    """Relative weight tilt per symbol: ``lonaTiltMax`` × the mean direction (long +1, flat 0, short −1) of the
    signals the policy counts, so within ±lonaTiltMax; symbols without a counted signal get none."""
    if not signals:
        return {}
    tilts = {}
    for symbol, found in signals["symbols"].items():
        directions = [DIRECTION[s["position"]] for s in found if s["counted"]]
        if directions:
            tilts[symbol] = gate.lonaTiltMax * sum(directions) / len(directions)
    return tilts
