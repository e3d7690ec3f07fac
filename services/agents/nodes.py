"""The nodes of the agent graph and the graph itself:
load_data → predictor → anomaly → context → optimizer → risk_gate → approval (interrupt) → execute → record.

A run with no order to propose goes from risk_gate straight to record. Nodes keep only JSON in the
state; the universe's candles stay in this object and are read again (at the recorded versions) when a
run continues in another process.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt

from services.agents.allocation import allocate
from services.agents.anomalies import context_events, detect_universe
from services.agents.artifacts import ArtifactCache
from services.agents.commentary import Commentary
from services.agents.context import as_of, gather, means, tilts
from services.agents.deps import AgentServices
from services.agents.forecasting import forecast
from services.agents.gate import check_orders
from services.agents.run_store import RunStore
from services.agents.signals import lona_signals, signal_tilts
from services.agents.state import NODES, RunParams, RunState, plain
from services.agents.summaries import (
    anomaly_summary,
    context_summary,
    no_order_reason,
    optimizer_summary,
    predictor_summary,
    risk_summary,
    signals_summary,
)
from services.agents.universe import Universe, load_universe
from services.core import clock
from services.market_data.market_hours import open_by_symbol
from services.market_data.ohlcv import approx_interval_ms
from services.trading.book import make_book
from services.trading.orders import Proposal
from services.trading.risk import Check


class RunSteps:
    """The nodes of one run, bound to the runtime (datasets, venue, orders) and to the run's record."""

    def __init__(self, runtime: AgentServices, store: RunStore, run_id: str, commentary: Commentary,
                 trace_url: str | None):
        self.runtime = runtime
        self.store = store
        self.run_id = run_id
        self.commentary = commentary
        self.trace_url = trace_url
        self.cache = ArtifactCache(runtime.store, runtime.settings.models_container)
        self._universe: Universe | None = None

    def node(self, name: str) -> Callable[[RunState, RunnableConfig], dict]:
        """The node ``name``: marks its start in the run record, returns its update as plain JSON."""
        body = getattr(self, name)

        def run(state: RunState, config: RunnableConfig) -> dict:
            self.store.step_started(self.run_id, name)
            return plain(body(state, config))

        run.__name__ = name
        return run

    # --- data ---------------------------------------------------------------------------------------------
    def load_data(self, state: RunState, _config: RunnableConfig) -> dict:
        """The universe read at one version per dataset, on its common calendar."""
        params = RunParams.from_dict(state["params"])
        self._universe = load_universe(self.runtime.datasets, params.refs, params.lookback)
        return {"universe": self._universe.describe(), "dataset_versions": self._universe.versions,
                "calendar": self._universe.calendar()}

    def _data(self, state: RunState) -> Universe:
        """The universe this run loaded (read again at the recorded versions after a restart)."""
        if self._universe is None:  # continuing in a new process: the same versions, or a clear refusal
            params = RunParams.from_dict(state["params"])
            self._universe = load_universe(self.runtime.datasets, params.refs, params.lookback,
                                           expected_versions=state["dataset_versions"])
        return self._universe

    # --- models -------------------------------------------------------------------------------------------
    def predictor(self, state: RunState, _config: RunnableConfig) -> dict:
        """Forecasts with intervals and walk-forward metrics; the model trained here or reused."""
        params = RunParams.from_dict(state["params"])
        settings = self.runtime.settings
        config = params.predictor_config(settings.predictor_max_epochs, settings.predictor_samples_per_epoch)
        forecasts, model = forecast(self._data(state), config, self.cache)
        facts = {s: {k: f[k] for k in ("expected_return", "lower", "upper", "shrinkage", "beats_naive")}
                 | {"rmse_ratio": f["metrics"]["rmse_ratio"], "hit_rate": f["metrics"]["hit_rate"]}
                 for s, f in forecasts.items()}
        return {"forecasts": forecasts, "model": model,
                **self._explain("predictor", predictor_summary(forecasts, model), facts)}

    def anomaly(self, state: RunState, _config: RunnableConfig) -> dict:
        """Anomaly events per symbol, and the symbols a critical one leaves out."""
        events, excluded = detect_universe(self._data(state), self.cache)
        counts = {s: dict(Counter(e["severity"] for e in found)) for s, found in events.items()}
        return {"anomalies": events, "excluded": excluded,
                **self._explain("anomaly", anomaly_summary(events, excluded), {"counts": counts, "excluded": excluded})}

    def context(self, state: RunState, _config: RunnableConfig) -> dict:
        """News sentiment over the policy's lookback before the run's as-of time, matching lessons/patterns, and the
        signals of the Lona strategies the run names (none named: no ``signals`` at all)."""
        params = RunParams.from_dict(state["params"])
        _policy, gate = self.runtime.orders.policy()
        bar_ms = min(approx_interval_ms(ref.interval) for ref in params.refs)
        when = as_of(state["calendar"]["last_ts"], bar_ms, clock.now())
        symbols = [d["symbol"] for d in state["universe"]]
        found = gather(self.runtime.news, self.runtime.knowledge, symbols, when, gate)
        facts = {s: {k: c[k] for k in ("count", "mean", "shock")} for s, c in found["symbols"].items()}
        if not params.strategies:
            return {"context": found, **self._explain("context", context_summary(found), facts)}
        signals = lona_signals(self.runtime, params.strategies, symbols, when, gate)
        summary = context_summary(found) + "\n" + signals_summary(signals)
        lona = {"signals": {s: [{k: x[k] for k in ("strategy", "position", "age_days", "sharpe", "counted")}
                                for x in found_] for s, found_ in signals["symbols"].items()},
                "skipped": [f"{x['symbol']}: {x['reason']}" for x in signals["skipped"]], "tilts": signals["tilts"]}
        return {"context": found, "signals": signals,
                **self._explain("context", summary, {"news": facts, "lona": lona})}

    def optimizer(self, state: RunState, _config: RunnableConfig) -> dict:
        """Target weights from the venue's positions and the forecasts, and the orders that reach them."""
        params = RunParams.from_dict(state["params"])
        universe = self._data(state)
        _policy, gate = self.runtime.orders.policy()
        allocation = allocate(universe.returns(), state["forecasts"], state["excluded"],
                              self.runtime.venue.account(), universe.last_prices(), self.runtime.venue.lot_size,
                              gate, params.horizon, universe.bars_per_year, tilts(state.get("context"), gate),
                              signal_tilts(state.get("signals"), gate))
        facts = {k: allocation[k] for k in ("weights", "cash_weight", "expected_return", "expected_volatility",
                                            "turnover", "orders")}
        return {"allocation": allocation, **self._explain("optimizer", optimizer_summary(allocation), facts)}

    def risk_gate(self, state: RunState, _config: RunnableConfig) -> dict:
        """Every check on every proposed order, with values and limits (nothing here can be overridden)."""
        policy, gate = self.runtime.orders.policy()
        refs = {d["symbol"]: d["ref"] for d in state["universe"]}
        book = replace(make_book(self.runtime.venue, self.runtime.orders), market_open=open_by_symbol(refs),
                       sentiment_mean=means(state.get("context")))
        proposed = [{**o, "proposal_id": f"{o['symbol']}-{o['side']}", "dataset_ref": refs[o["symbol"]]}
                    for o in state["allocation"]["orders"]]
        orders = check_orders(proposed, book, policy, gate, set(state["excluded"]))
        facts = [{"symbol": o["symbol"], "side": o["side"], "notional": o["notional"],
                  "failing": [c["name"] for c in o["checks"] if not c["passed"]]} for o in orders]
        return {"orders": orders, **self._explain("risk_gate", risk_summary(orders), {"orders": facts})}

    @staticmethod
    def after_gate(state: RunState) -> str:
        """Approval when there is something to approve, else straight to the record."""
        return "approval" if state["orders"] else "record"

    def _explain(self, step: str, summary: str, facts: dict) -> dict:
        """The step's rationale and the tokens it cost, as a state update."""
        entry, usage = self.commentary.explain(step, summary, facts)
        return {"rationale": {step: entry}, "usage": usage}

    # --- people and money ---------------------------------------------------------------------------------
    def approval(self, state: RunState, config: RunnableConfig) -> dict:
        """Record the proposals in the orders table, then stop until people decide (``interrupt``)."""
        proposals = [
            Proposal(proposal_id=o["proposal_id"], symbol=o["symbol"], side=o["side"], quantity=o["quantity"],
                     reference_price=o["reference_price"], order_type=o["order_type"], limit_price=o["limit_price"],
                     dataset_ref=o["dataset_ref"], checks=[Check(**c) for c in o["checks"]],
                     context=plain(self._context(state, o)))
            for o in state["orders"]
        ]
        configurable = config.get("configurable", {})
        checkpoint_id = configurable.get("checkpoint_id") or configurable.get("checkpoint_map", {}).get("")
        created = self.runtime.orders.propose(self.run_id, proposals, dataset_versions=state["dataset_versions"],
                                              checkpoint_id=checkpoint_id)
        decisions = interrupt({"run_id": self.run_id, "orders": [
            {"order_id": o.id, "symbol": o.symbol, "side": o.side, "quantity": o.quantity, "notional": o.notional,
             "checks_pass": o.checks_pass} for o in created]})
        return {"decisions": decisions}

    def _context(self, state: RunState, order: dict) -> dict:
        """What the inbox shows beside an order: forecast, anomalies, weights, rationale, trace, data date."""
        symbol = order["symbol"]
        f = state["forecasts"][symbol]
        rationale = state.get("rationale", {})
        text = "\n\n".join(entry["llm"] or entry["summary"] for step in ("optimizer", "risk_gate")
                           if (entry := rationale.get(step)))
        return {"forecast": {k: f[k] for k in ("expected_return", "lower", "upper", "horizon", "beats_naive")},
                "anomalies": context_events(state["anomalies"].get(symbol, [])),
                "weights": {k: v for k, v in state["allocation"]["weights"][symbol].items()
                            if k in ("current", "target", "before_tilt", "sentiment_tilt", "signal_tilt")},
                "news": self._news(state, symbol),
                "rationale": text, "trace_url": self.trace_url, "data_until_ms": state["calendar"]["last_ts"],
                "run_id": self.run_id, **self._signals(state, symbol)}

    @staticmethod
    def _signals(state: RunState, symbol: str) -> dict:
        """The symbol's Lona signals and why others are missing (nothing for a run that named no strategy)."""
        signals = state.get("signals")
        if not signals:
            return {}
        return {"signals": signals["symbols"].get(symbol, []),
                "signals_skipped": [s for s in signals["skipped"] if s["symbol"] == symbol]}

    @staticmethod
    def _news(state: RunState, symbol: str) -> dict | None:
        """The symbol's news sentiment and knowledge matches as the context step found them (None: no step)."""
        context = state.get("context")
        if not context:
            return None
        return {**context["symbols"][symbol], "lookback_hours": context["lookback_hours"],
                "as_of": context["as_of"]}

    def execute(self, state: RunState, _config: RunnableConfig) -> dict:
        """Send the run's approved orders (exactly once each) and report where every order ended."""
        # each order carries the dataset it is priced from, so any process fills it from the run's own data
        self.runtime.orders.submit_approved(self.run_id)  # only orders a person approved are ever sent
        executed = [{"order_id": o.id, "symbol": o.symbol, "side": o.side, "quantity": o.quantity,
                     "status": o.status, "filled_quantity": o.filled_quantity, "average_price": o.average_price,
                     "fee": o.fee, "notional": o.notional, "last_error": o.last_error}
                    for o in self.runtime.orders.list(run_id=self.run_id)]
        return {"executed": executed}

    def record(self, state: RunState, _config: RunnableConfig) -> dict:
        """The run's final word."""
        if not state.get("orders"):
            reason = no_order_reason(state["allocation"])
            return {"outcome": f"completed without orders: {reason}"}
        counts = Counter(o["status"] for o in state.get("executed", []))
        told = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return {"outcome": f"{sum(counts.values())} order(s) decided and processed: {told}"}


def build_graph(steps: RunSteps, checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The compiled graph over ``steps``, checkpointed by ``checkpointer`` (thread id = run id)."""
    graph = StateGraph(RunState)
    for name in NODES:
        graph.add_node(name, steps.node(name))
    graph.add_edge(START, "load_data")
    for before, after in itertools.pairwise(NODES[:NODES.index("risk_gate") + 1]):
        graph.add_edge(before, after)
    graph.add_conditional_edges("risk_gate", steps.after_gate, {"approval": "approval", "record": "record"})
    graph.add_edge("approval", "execute")
    graph.add_edge("execute", "record")
    graph.add_edge("record", END)
    return graph.compile(checkpointer=checkpointer)
