"""The ``graph_runs`` table: one row per run, its status and, node by node, progress, timings, results, rationale."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from services.agents.results import Rationale, RunResults, Step, Trace
from services.agents.state import NODES, RunParams, add_usage, node_results, plain
from services.core import clock
from services.core.errors import BadInput
from services.core.records import graph_runs

ACTIVE = ("queued", "running")
FINAL = ("completed", "failed", "cancelled")
STATUSES = ("queued", "running", "awaiting_approval", *FINAL)


@dataclass(frozen=True)
class GraphRun:
    """A run as stored, parsed into read models (``services.agents.results``)."""

    id: str
    status: str
    actor: str
    params: RunParams
    universe: tuple[str, ...]
    dataset_versions: dict[str, str]
    steps: dict[str, Step]
    results: RunResults
    rationale: dict[str, Rationale]
    #: token usage summed over the run's LLM calls (counts by name, and the model)
    llm_usage: dict
    traces: tuple[Trace, ...]
    trace_url: str | None
    outcome: str | None
    error: str | None
    job_id: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        """Queued or running (a worker has it, or will)."""
        return self.status in ACTIVE

    @property
    def progress(self) -> float:
        """Share of the nodes done or skipped."""
        return sum(1 for s in self.steps.values() if s.status in ("done", "skipped")) / len(NODES)

    def step(self, node: str) -> Step:
        """The node's progress entry (status ``pending`` before it starts)."""
        return self.steps.get(node, Step())


def _run(row) -> GraphRun:
    """Parse a stored row once into the read models."""
    values = row._mapping
    return GraphRun(
        id=values["id"], status=values["status"], actor=values["actor"], params=RunParams.from_dict(values["params"]),
        universe=tuple(values["universe"]), dataset_versions=dict(values["dataset_versions"]),
        steps={node: Step.model_validate(step) for node, step in values["steps"].items()},
        results=RunResults.model_validate(values["results"]),
        rationale={step: Rationale.model_validate(entry) for step, entry in values["rationale"].items()},
        llm_usage=dict(values["llm_usage"]), traces=tuple(Trace.model_validate(t) for t in values["traces"]),
        trace_url=values["trace_url"], outcome=values["outcome"], error=values["error"], job_id=values["job_id"],
        created_at=values["created_at"], updated_at=values["updated_at"], finished_at=values["finished_at"])


class RunStore:
    """Reads and writes of the runs table; a run has one writer at a time (the job that holds it)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, run_id: str, params: RunParams, actor: str) -> GraphRun:
        """Record a queued run."""
        now = clock.now()
        with self.engine.begin() as connection:
            connection.execute(graph_runs.insert().values(
                id=run_id, status="queued", actor=actor, params=params.as_dict(), universe=list(params.universe),
                dataset_versions={}, steps={}, results={}, rationale={}, llm_usage={}, traces=[],
                created_at=now, updated_at=now))
        return self.get(run_id)

    def _row(self, run_id: str):
        with self.engine.connect() as connection:
            return connection.execute(select(graph_runs).where(graph_runs.c.id == run_id)).first()

    def _existing(self, run_id: str):
        row = self._row(run_id)
        if row is None:
            raise BadInput(f"no agent run {run_id} (nexus graph list shows the runs)")
        return row

    def _stored(self, run_id: str) -> dict:
        """The row as stored (plain JSON columns), for the writers; BadInput when unknown."""
        return dict(self._existing(run_id)._mapping)

    def find(self, run_id: str) -> GraphRun | None:
        """The run, or None when there is no such run."""
        row = self._row(run_id)
        return None if row is None else _run(row)

    def get(self, run_id: str) -> GraphRun:
        """The run; BadInput when unknown."""
        return _run(self._existing(run_id))

    def list(self, status: str | Iterable[str] | None = None, limit: int = 100) -> list[GraphRun]:
        """Runs, newest first, optionally of some statuses."""
        query = select(graph_runs).order_by(graph_runs.c.created_at.desc()).limit(limit)
        if isinstance(status, str):
            query = query.where(graph_runs.c.status == status)
        elif status:
            query = query.where(graph_runs.c.status.in_(list(status)))
        with self.engine.connect() as connection:
            return [_run(r) for r in connection.execute(query)]

    def claim(self, run_id: str, expected: Iterable[str], status: str, **values) -> bool:
        """Compare-and-set the status (from one of ``expected``); False when the run was not in one of them."""
        with self.engine.begin() as connection:
            return bool(connection.execute(update(graph_runs).where(
                graph_runs.c.id == run_id, graph_runs.c.status.in_(list(expected)),
            ).values(status=status, updated_at=clock.now(), **values)).rowcount)

    def set(self, run_id: str, **values) -> None:
        """Update columns of the run."""
        with self.engine.begin() as connection:
            connection.execute(update(graph_runs).where(graph_runs.c.id == run_id).values(
                updated_at=clock.now(), **values))

    def add_trace(self, run_id: str, trace: dict) -> None:
        """Record one invocation's trace (its root run id and link, or why there is none)."""
        run = self._stored(run_id)
        values: dict = {"traces": [*run["traces"], trace]}
        if trace.get("url") and not run["trace_url"]:
            values["trace_url"] = trace["url"]
        self.set(run_id, **values)

    def step_started(self, run_id: str, node: str) -> None:
        """Mark ``node`` running (again, when a resume re-enters it)."""
        run = self._stored(run_id)
        steps = {**run["steps"], node: {"status": "running", "started_at": clock.now().isoformat()}}
        self.set(run_id, steps=steps)

    def step_finished(self, run_id: str, node: str, update_: dict, message: str = "") -> None:
        """Store what ``node`` returned: results, rationale, token usage, timings (and the data versions)."""
        run = self._stored(run_id)
        now = clock.now()
        step = dict(run["steps"].get(node, {}))
        started = datetime.fromisoformat(step["started_at"]) if "started_at" in step else now
        step.update(status="done", finished_at=now.isoformat(), seconds=round((now - started).total_seconds(), 3),
                    message=message)
        values: dict = {"steps": {**run["steps"], node: step},
                        "results": {**run["results"], node: plain(node_results(update_))}}
        if update_.get("rationale"):
            values["rationale"] = {**run["rationale"], **plain(update_["rationale"])}
        if update_.get("usage"):
            values["llm_usage"] = add_usage(run["llm_usage"], update_["usage"])
        if node == "load_data":
            values["dataset_versions"] = update_.get("dataset_versions", {})
        self.set(run_id, **values)

    def waiting(self, run_id: str, message: str) -> None:
        """The graph stopped at ``interrupt()``: the approval step waits for decisions."""
        steps = self._stored(run_id)["steps"]
        step = {**steps.get("approval", {}), "status": "waiting", "message": message}
        self.set(run_id, status="awaiting_approval", steps={**steps, "approval": step})

    def finish(self, run_id: str, status: str, outcome: str | None = None, error: str | None = None) -> None:
        """Close the run: a running step fails with it, steps never reached are marked skipped."""
        steps = dict(self._stored(run_id)["steps"])
        for node in NODES:
            state = steps.get(node, {}).get("status")
            if state in ("running", "waiting") and status != "completed":
                steps[node] = {**steps[node], "status": "failed", "message": error or status}
            elif state is None or state == "pending":
                steps[node] = {"status": "skipped"}
        self.set(run_id, status=status, steps=steps, outcome=outcome, error=error, finished_at=clock.now())
