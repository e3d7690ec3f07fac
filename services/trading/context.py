"""What an order carries beside its terms, typed: the forecast, anomalies, weights, rationale and trace the
agent graph saw, or the source and rationale of an API proposer.

The orders table keeps it as plain JSON (``Order.context``); ``Order.about`` parses it once into these models so
the inbox reads attributes, not nested dicts by string keys.
"""

from __future__ import annotations

from services.core.read_models import Number, ReadModel


class Weight(ReadModel):
    """A symbol's share of equity now and after the proposed orders (and before the sentiment and Lona signal
    tilts, if any)."""

    current: float
    target: float
    before_tilt: Number = None
    sentiment_tilt: Number = None
    signal_tilt: Number = None


class Signal(ReadModel):
    """A Lona signal the agent graph read (services.agents.signals): the last position of a strategy's latest
    completed backtest on the symbol, since when, the backtest's quality, and whether the policy counts it."""

    strategy_id: str
    strategy: str
    symbol: str
    report_id: str
    dataset_ref: str | None = None
    data_until_ms: int | None = None
    position: str
    since: str
    age_days: Number = None
    sharpe: Number = None
    max_drawdown_pct: Number = None
    trades: int | None = None
    counted: bool = False
    problems: tuple[str, ...] = ()
    #: what the approver reads, e.g. ``SMA cross 20/50 on Lona: long since 3 days, Sharpe 1.12, …``
    text: str


class SkippedSignal(ReadModel):
    """A strategy that gave no signal on the symbol, and why (Lona down, no completed backtest, a bad report…)."""

    strategy_id: str
    strategy: str | None = None
    symbol: str
    reason: str

    @property
    def text(self) -> str:
        """``No Lona signal from <strategy>: <reason>``."""
        return f"No Lona signal from {self.strategy or self.strategy_id}: {self.reason}"


class ContextForecast(ReadModel):
    """The forecast kept with an order: expected log return over the horizon, its interval, naive comparison."""

    expected_return: Number = None
    lower: Number = None
    upper: Number = None
    horizon: int | None = None
    beats_naive: bool | None = None


class ContextAnomaly(ReadModel):
    """One anomaly the run saw on the order's symbol (the few most severe are kept)."""

    time: str | None = None
    kind: str
    severity: str
    score: Number = None
    detail: str = ""


class OrderContext(ReadModel):
    """Everything stored beside an order's terms; empty defaults for what its proposer did not give."""

    forecast: ContextForecast | None = None
    anomalies: tuple[ContextAnomaly, ...] = ()
    weights: Weight | None = None
    #: the context step's news and knowledge for the symbol (services.agents.results.SymbolContext's fields)
    news: dict | None = None
    #: the Lona signals of the strategies the run named, and those that gave none (with why)
    signals: tuple[Signal, ...] = ()
    signals_skipped: tuple[SkippedSignal, ...] = ()
    rationale: str = ""
    trace_url: str | None = None
    data_until_ms: int | None = None
    run_id: str | None = None
    #: API proposals: who proposed (the token's owner), through which token, from which source
    source: str | None = None
    proposer: str | None = None
    token: str | None = None
    #: manual orders: the person who entered the ticket (never its approver)
    entered_by: str | None = None
    #: the venue's lot rule the quantity follows (rounded down to a lot)
    lot: str | None = None
