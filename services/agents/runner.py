"""One invocation of a run's graph: checkpointer and tracing opened, nodes streamed into the run record."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from services.agents.checkpoints import open_checkpointer
from services.agents.commentary import Commentary
from services.agents.deps import AgentServices, Progress
from services.agents.nodes import RunSteps, build_graph
from services.agents.run_store import GraphRun, RunStore
from services.agents.tracing import open_tracing

Mode = Literal["start", "resume", "continue"]


def decisions_of(runtime: AgentServices, run_id: str) -> dict[str, dict]:
    """The decisions on a run's orders as the orders table (the source of truth) records them."""
    return {o.id: {"status": o.status, "symbol": o.symbol, "side": o.side, "quantity": o.quantity,
                   "approved_by": o.approved_by}
            for o in runtime.orders.list(run_id=run_id)}


def invoke(runtime: AgentServices, store: RunStore, run: GraphRun, mode: Mode, ctx: Progress | None = None) -> GraphRun:
    """Run the graph of ``run`` until it ends or stops at the approval interrupt; return the run as stored.

    ``start`` feeds the run's parameters; ``resume`` answers the interrupt with the decisions read from the
    orders table; ``continue`` picks up after the last checkpoint (a run whose worker died).
    The first invocation's LangSmith root run id is the run id itself; later ones get their own.
    """
    settings = runtime.settings
    tracing = open_tracing(settings)
    root_id = run.id if mode == "start" else str(uuid.uuid4())
    store.add_trace(run.id, {"run_id": root_id, "segment": mode, "url": tracing.url_for(root_id),
                             "note": tracing.note})
    trace_url = store.get(run.id).trace_url
    steps = RunSteps(runtime, store, run.id, Commentary(settings, run.params.llm), trace_url)
    config: dict[str, Any] = {"configurable": {"thread_id": run.id}, "run_id": root_id, "callbacks": tracing.callbacks,
                              "run_name": "agent graph run", "metadata": {"nexus_run_id": run.id, "segment": mode},
                              "tags": ["trade-nexus-console"]}
    interrupted = False
    with open_checkpointer(settings) as saver, tracing.context():
        graph = build_graph(steps, saver)
        command = _command(runtime, graph, run, mode)
        try:
            for chunk in graph.stream(command, config, stream_mode="updates"):
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        interrupted = True
                        continue
                    store.step_finished(run.id, node, update or {})
                    if ctx is not None:
                        done = store.get(run.id).progress
                        ctx.progress(done, f"{node} done", force=True)
                        ctx.check_cancelled()
        finally:
            tracing.flush()
        values = graph.get_state(config).values
    if interrupted:
        pending = len(values.get("orders", []))
        store.waiting(run.id, f"{pending} order(s) wait for a decision in the Approvals inbox")
    else:
        store.finish(run.id, "completed", outcome=values.get("outcome", "completed"))
    return store.get(run.id)


def _command(runtime: AgentServices, graph: CompiledStateGraph, run: GraphRun, mode: Mode) -> Any:
    if mode == "resume":
        return Command(resume=decisions_of(runtime, run.id))
    if mode == "continue" and graph.get_state({"configurable": {"thread_id": run.id}}).values:
        return None  # from the last checkpoint
    return {"run_id": run.id, "params": run.params.as_dict(), "rationale": {}, "usage": {}}

