"""Typed read models of a stored agent run: node results, progress, rationale and traces.

The graph keeps plain JSON in its state and in the ``graph_runs`` row (checkpoints stay portable); the run
store parses a row once into these models, so pages, components and the CLI read attributes instead of
nested dicts by string keys. Unknown keys are ignored (older rows keep loading); numbers a model could not
compute were stored as None (``state.plain``), hence ``float | None``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from services.core.read_models import Number, ReadModel
from services.trading.context import Signal, SkippedSignal, Weight
from services.trading.risk import Check


# --- progress, rationale, traces --------------------------------------------------------------------------------
class Step(ReadModel):
    """A node's progress entry: status, when it ran, how long, what it said."""

    status: str = "pending"
    started_at: str | None = None
    finished_at: str | None = None
    seconds: Number = None
    message: str = ""

    def stored(self) -> dict[str, Any]:
        """The JSON form kept in the runs table."""
        return self.model_dump(mode="json", exclude_none=True)


class Rationale(ReadModel):
    """One step's explanation: the deterministic summary, the LLM's text when asked, and a note on how it went."""

    summary: str
    llm: str | None = None
    note: str | None = None


class Trace(ReadModel):
    """One invocation's trace: its root run id and link, or why there is none."""

    segment: str
    run_id: str | None = None
    url: str | None = None
    note: str | None = None


# --- load_data ------------------------------------------------------------------------------------------------
class DatasetRead(ReadModel):
    """One dataset of the universe as the run read it."""

    ref: str
    symbol: str
    version: str | None = None
    close_only: bool = False
    bars: int
    first_ts: int
    last_ts: int
    dropped: int = 0
    nan_returns: int = 0


class Calendar(ReadModel):
    """The universe's common calendar (``last_ts`` is the data-until time of the run)."""

    bars: int
    first_ts: int
    last_ts: int
    bars_per_year: int | None = None


class LoadedData(ReadModel):
    """What ``load_data`` read."""

    universe: tuple[DatasetRead, ...] = ()
    dataset_versions: dict[str, str] = Field(default_factory=dict)
    calendar: Calendar | None = None


# --- predictor ------------------------------------------------------------------------------------------------
class ForecastMetrics(ReadModel):
    """Walk-forward quality of the raw model against the random walk."""

    n: int | None = None
    rmse: Number = None
    rmse_naive: Number = None
    rmse_ratio: Number = None
    hit_rate: Number = None
    up_rate: Number = None
    interval_coverage: Number = None
    beats_naive: bool | None = None


class PriceHistory(ReadModel):
    """The recent closes kept with a forecast for its chart (Unix ms, price)."""

    t: tuple[int, ...]
    close: tuple[Number, ...]


class SymbolForecast(ReadModel):
    """One symbol's forecast over the horizon: log returns, their interval, price equivalents, metrics."""

    expected_return: Number
    model_return: Number = None
    lower: Number
    upper: Number
    interval_level: float
    sigma: Number = None
    horizon: int
    shrinkage: Number
    beats_naive: bool
    note: str = ""
    metrics: ForecastMetrics
    as_of_ms: int | None = None
    last_close: Number = None
    expected_price: Number
    lower_price: Number
    upper_price: Number
    history: PriceHistory


class ModelFacts(ReadModel):
    """The predictor behind the forecasts: trained now or reused, its budget and overall metrics."""

    key: str | None = None
    cached: bool
    seconds: Number = None
    train_seconds: Number = None
    epochs: int | None = None
    #: epochs of each walk-forward fold's training
    fold_epochs: tuple[int, ...] = ()
    window: int
    horizon: int
    overall: ForecastMetrics
    pooled_shrinkage: Number = None


class PredictorResult(ReadModel):
    """What ``predictor`` found."""

    forecasts: dict[str, SymbolForecast]
    model: ModelFacts


# --- anomaly --------------------------------------------------------------------------------------------------
class Anomaly(ReadModel):
    """One anomaly event (Unix ms; ``end_timestamp`` for spans)."""

    timestamp: int
    end_timestamp: int | None = None
    time: str | None = None
    kind: str
    severity: str
    score: Number
    detail: str


class AnomalyResult(ReadModel):
    """What ``anomaly`` found: events per symbol and the symbols a critical one leaves out (with why)."""

    anomalies: dict[str, tuple[Anomaly, ...]]
    excluded: dict[str, str] = Field(default_factory=dict)


# --- context --------------------------------------------------------------------------------------------------
class Headline(ReadModel):
    """One news item the context step quotes."""

    title: str
    score: float
    url: str = ""
    published_at: str | None = None


class KnowledgeMatch(ReadModel):
    """A lesson or pattern of the knowledge base that matched the symbol."""

    kind: str
    id: str
    title: str
    score: Number = None


class SymbolContext(ReadModel):
    """A symbol's news over the lookback window (count, mean score, extremes), shock flag and knowledge matches."""

    count: int = 0
    mean: Number = None
    most_negative: Headline | None = None
    most_positive: Headline | None = None
    shock: bool = False
    matches: tuple[KnowledgeMatch, ...] = ()

    @property
    def headline(self) -> Headline | None:
        """The headline that speaks for the mean: the most negative when it is below zero, else the most positive."""
        if self.mean is None:
            return None
        return self.most_negative if self.mean < 0 else self.most_positive

    def line(self, hours: float) -> str:
        """``3 news items in 48 h, sentiment -0.42: <headline>`` (or ``no news in 48 h``)."""
        window = f"{hours:g} h"
        if not self.count or self.mean is None:
            return f"no news in {window}"
        plural = "s" if self.count != 1 else ""
        headline = self.headline
        return (f"{self.count} news item{plural} in {window}, sentiment {self.mean:+.2f}"
                + (f": {headline.title}" if headline else ""))


class NewsContext(ReadModel):
    """What the context step read: the window [start, as_of) (ISO 8601) and each symbol's findings."""

    as_of: str
    start: str
    lookback_hours: float
    symbols: dict[str, SymbolContext] = Field(default_factory=dict)
    note: str | None = None


class StrategyRead(ReadModel):
    """A Lona strategy the run named: its name on Lona, or why it was not read."""

    id: str
    name: str | None = None
    note: str | None = None


class SignalLimits(ReadModel):
    """The policy the signals were counted and bounded with (gate limits at the context step)."""

    lonaTiltMax: float
    lonaMinSharpe: float
    lonaMaxDrawdownPct: float
    lonaMinTrades: int


class LonaSignals(ReadModel):
    """What the context step read from Lona: per symbol its signals, what gave none and why, the tilt per symbol."""

    as_of: str
    strategies: tuple[StrategyRead, ...] = ()
    symbols: dict[str, tuple[Signal, ...]] = Field(default_factory=dict)
    skipped: tuple[SkippedSignal, ...] = ()
    limits: SignalLimits
    tilts: dict[str, float] = Field(default_factory=dict)


class ContextResult(ReadModel):
    """What ``context`` found (``signals`` only when the run named Lona strategies)."""

    context: NewsContext
    signals: LonaSignals | None = None


# --- optimizer and risk gate ----------------------------------------------------------------------------------
class ProposedOrder(ReadModel):
    """An order the optimizer proposes."""

    symbol: str
    side: str
    quantity: float
    order_type: str
    reference_price: float
    notional: float
    limit_price: float | None = None
    target_weight: Number = None
    current_quantity: Number = None


class Allocation(ReadModel):
    """Target weights, expected return and volatility over the horizon, and the orders that reach them."""

    equity: Number = None
    excluded: tuple[str, ...] = ()
    weights: dict[str, Weight]
    orders: tuple[ProposedOrder, ...] = ()
    cash_weight: Number
    expected_return: Number
    expected_volatility: Number
    turnover: Number = None
    shrinkage: Number = None
    converged: bool | None = None
    message: str | None = None


class OptimizerResult(ReadModel):
    """What ``optimizer`` proposed."""

    allocation: Allocation


class CheckedOrder(ProposedOrder):
    """A proposed order with every risk check and whether all pass."""

    proposal_id: str | None = None
    dataset_ref: str | None = None
    checks: tuple[Check, ...]
    passed: bool

    @property
    def failing(self) -> tuple[Check, ...]:
        """The checks that fail."""
        return tuple(c for c in self.checks if not c.passed)


class GateResult(ReadModel):
    """What ``risk_gate`` checked."""

    orders: tuple[CheckedOrder, ...] = ()


# --- approval, execute, record --------------------------------------------------------------------------------
class ApprovalResult(ReadModel):
    """The decisions the run resumed with (order id → decision as the orders table recorded it)."""

    decisions: dict[str, Any] = Field(default_factory=dict)


class ExecutedOrder(ReadModel):
    """Where one of the run's orders ended after ``execute``."""

    order_id: str
    symbol: str
    side: str
    quantity: float
    status: str
    filled_quantity: Number = None
    average_price: Number = None
    fee: Number = None
    notional: Number = None
    last_error: str | None = None


class ExecuteResult(ReadModel):
    """What ``execute`` did."""

    executed: tuple[ExecutedOrder, ...] = ()


class RecordResult(ReadModel):
    """The run's final word."""

    outcome: str


class RunResults(ReadModel):
    """Each node's result, None for a node that has not finished."""

    load_data: LoadedData | None = None
    predictor: PredictorResult | None = None
    anomaly: AnomalyResult | None = None
    context: ContextResult | None = None
    optimizer: OptimizerResult | None = None
    risk_gate: GateResult | None = None
    approval: ApprovalResult | None = None
    execute: ExecuteResult | None = None
    record: RecordResult | None = None

    @property
    def universe(self) -> tuple[DatasetRead, ...]:
        """The datasets read (empty before ``load_data`` finished)."""
        return self.load_data.universe if self.load_data else ()

    @property
    def orders(self) -> tuple[CheckedOrder, ...]:
        """The proposed orders with their checks (empty before ``risk_gate`` finished)."""
        return self.risk_gate.orders if self.risk_gate else ()

    def dataset(self, symbol: str) -> DatasetRead:
        """The dataset of ``symbol``; KeyError when the universe has none."""
        for item in self.universe:
            if item.symbol == symbol:
                return item
        raise KeyError(symbol)
