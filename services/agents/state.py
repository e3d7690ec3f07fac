"""What a run of the agent graph is asked to do (RunParams) and the state its nodes hand on (RunState)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, TypedDict

import numpy as np

from services.core.errors import BadInput
from services.market_data.datasets import DatasetRef

if TYPE_CHECKING:  # torch loads with the predictor (seconds): only runs that train need it
    from models.predictor import PredictorConfig

#: the nodes, in the order a run passes them
#: Lona strategies one run may name
MAX_STRATEGIES = 5
NODES = ("load_data", "predictor", "anomaly", "context", "optimizer", "risk_gate", "approval", "execute", "record")


@dataclass(frozen=True)
class RunParams:
    """One run's request: the universe (dataset refs) and how far to look back and ahead.

    ``lookback`` is the number of bars of history per symbol, on the universe's common calendar;
    ``horizon`` the number of bars the forecast covers; ``window`` the returns in each LSTM input;
    ``strategies`` the Lona strategy ids whose latest completed backtests tilt the optimizer (none: no tilt).
    """

    universe: tuple[str, ...]
    horizon: int = 5
    lookback: int = 1000
    window: int = 60
    llm: bool = True
    strategies: tuple[str, ...] = ()
    refs: tuple[DatasetRef, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        universe = tuple(str(r).strip() for r in self.universe if str(r).strip())
        if not universe:
            raise BadInput("the universe is empty: choose at least one dataset (exchange/SYMBOL/interval)")
        refs = tuple(DatasetRef.parse(r) for r in universe)
        repeated = sorted({str(r) for r in refs if refs.count(r) > 1})
        if repeated:
            raise BadInput(f"the universe names {', '.join(repeated)} more than once")
        symbols = [r.symbol for r in refs]
        twice = sorted({s for s in symbols if symbols.count(s) > 1})
        if twice:
            raise BadInput(f"symbol {', '.join(twice)} appears in two datasets of the universe; keep one of them "
                           "(orders are placed by symbol)")
        if not 1 <= self.horizon <= 250:
            raise BadInput(f"horizon {self.horizon} must be between 1 and 250 bars")
        if not 5 <= self.window <= 500:
            raise BadInput(f"window {self.window} must be between 5 and 500 returns")
        if self.lookback < self.min_lookback:
            raise BadInput(f"lookback {self.lookback} is too short: the predictor needs at least {self.min_lookback} "
                           f"bars with a window of {self.window} and a horizon of {self.horizon} (walk-forward "
                           "validation); choose a longer lookback or a shorter window/horizon")
        strategies = tuple(str(s).strip() for s in self.strategies if str(s).strip())
        doubled = sorted({s for s in strategies if strategies.count(s) > 1})
        if doubled:
            raise BadInput(f"strategy {', '.join(doubled)} is named more than once")
        if len(strategies) > MAX_STRATEGIES:
            raise BadInput(f"{len(strategies)} Lona strategies named: at most {MAX_STRATEGIES} per run")
        bad = [s for s in strategies if len(s) > 100 or not s.isprintable() or "/" in s]
        if bad:
            raise BadInput(f"{bad[0][:40]!r} is not a Lona strategy id (as `nexus lona strategies list` shows them)")
        object.__setattr__(self, "strategies", strategies)
        object.__setattr__(self, "universe", tuple(str(r) for r in refs))
        object.__setattr__(self, "refs", refs)

    @property
    def min_lookback(self) -> int:
        """Fewest bars a symbol needs: the predictor's required returns plus the first close."""
        from models.predictor import PredictorConfig

        return PredictorConfig(lookback=self.window, horizon=self.horizon).required_length + 1

    def predictor_config(self, max_epochs: int | None, samples_per_epoch: int | None) -> PredictorConfig:
        """The predictor's hyper-parameters for this run (a training budget from the settings, when set)."""
        from models.predictor import PredictorConfig

        budget = {k: v for k, v in (("max_epochs", max_epochs), ("samples_per_epoch", samples_per_epoch)) if v}
        return PredictorConfig(lookback=self.window, horizon=self.horizon, **budget)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (stored with the run, passed to the job)."""
        document = asdict(self)
        document.pop("refs", None)
        document["universe"] = list(self.universe)
        if self.strategies:
            document["strategies"] = list(self.strategies)
        else:  # a run without signals is stored as before they existed
            document.pop("strategies")
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RunParams:
        """Rebuild from ``as_dict``."""
        return cls(universe=tuple(document["universe"]), horizon=int(document["horizon"]),
                   lookback=int(document["lookback"]), window=int(document["window"]), llm=bool(document["llm"]),
                   strategies=tuple(document.get("strategies", ())))


def _merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


def add_usage(left: dict | None, right: dict | None) -> dict:
    """Token usage summed key by key (numbers add up, the model name is replaced)."""
    total = dict(left or {})
    for key, value in (right or {}).items():
        total[key] = total.get(key, 0) + value if isinstance(value, int | float) else value
    return total


class RunState(TypedDict, total=False):
    """The graph's state: plain JSON values only, so every checkpoint is readable and portable."""

    run_id: str
    params: dict
    #: per dataset: ref, symbol, version, close_only, bars, first_ts, last_ts, dropped, nan_returns
    universe: list[dict]
    dataset_versions: dict[str, str]
    #: the common calendar: bars, first_ts, last_ts (= data_until_ms)
    calendar: dict
    forecasts: dict[str, dict]
    model: dict
    anomalies: dict[str, list[dict]]
    #: symbol -> why it is left out of this run's orders
    excluded: dict[str, str]
    #: as_of, start, lookback_hours, note, and per symbol: news count, mean, headlines, shock, knowledge matches
    context: dict
    #: only when the run names Lona strategies: as_of, strategies, per symbol its signals, skipped, limits, tilts
    signals: dict
    allocation: dict
    #: proposed orders with their risk checks
    orders: list[dict]
    #: order id -> decision as the orders table recorded it
    decisions: dict[str, dict]
    executed: list[dict]
    outcome: str
    rationale: Annotated[dict, _merge]
    usage: Annotated[dict, add_usage]
    trace_url: str | None


def plain(value: Any) -> Any:
    """``value`` as JSON-safe Python: numpy scalars unwrapped, NaN and infinities as None, tuples as lists.

    PostgreSQL's JSONB refuses NaN, and checkpoints should hold nothing a reader cannot load.
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def node_results(update: dict) -> dict:
    """What a node computed, without the rationale and token usage (stored beside it)."""
    return {k: v for k, v in update.items() if k not in ("rationale", "usage")}

