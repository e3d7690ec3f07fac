"""Agent graph runs as background jobs: start, resume after the approvals, continue after a crash, follow.

A run executes on the job worker (kind ``graph_run``), never in the Streamlit script, and writes its
progress node by node into ``graph_runs``, which every page, operator and CLI reads. It stops at the
approval interrupt ("awaiting approval"); once every order of the run is decided in the orders table,
``resume_run`` queues its resumption, whose ``execute`` node sends only the approved orders. A run whose
worker died is marked failed when its job is (``sync_runs``) and can be continued from its checkpoint.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from services.agents.deps import AgentServices
from services.agents.run_store import ACTIVE, GraphRun, RunStore
from services.agents.state import RunParams
from services.core.auth import Actor
from services.core.errors import Conflict, NexusError
from services.jobs.queue import JobCancelled, JobContext, JobHandedBack

if TYPE_CHECKING:  # LangGraph loads with the runner (seconds): only the worker that runs a graph needs it
    from services.agents.runner import Mode

JOB_KIND = "graph_run"


def store_of(runtime: AgentServices) -> RunStore:
    """The runs table of ``runtime``'s records database."""
    return RunStore(runtime.engine)


def start_run(runtime: AgentServices, params: RunParams, actor: Actor, inline: bool = False) -> GraphRun:
    """Record a run for ``actor`` (a trader) and queue its job; with ``inline``, also run the job in this process
    now (CLI ``--wait``)."""
    actor.require("trader", "start agent runs")
    store = store_of(runtime)
    run = store.create(str(uuid.uuid4()), params, actor.name)
    _submit(runtime, store, run.id, "start", actor.name, inline)
    return store.get(run.id)


def resume_run(runtime: AgentServices, run_id: str) -> GraphRun | None:
    """Resume a run waiting for approval once none of its orders is pending; None when there is nothing to do.

    Safe to call from anywhere and any number of times: only the caller that moves the run from
    ``awaiting_approval`` to ``queued`` submits the job.
    """
    store = store_of(runtime)
    run = store.find(run_id)
    if run is None or run.status != "awaiting_approval":
        return None
    if runtime.orders.list(status="pending_approval", run_id=run_id, limit=1):
        return None
    if not store.claim(run_id, ("awaiting_approval",), "queued", job_id=None):
        return None
    _submit(runtime, store, run_id, "resume", "agent-graph")
    return store.get(run_id)


def continue_run(runtime: AgentServices, run_id: str, actor: Actor, inline: bool = False) -> GraphRun:
    """Continue a failed or cancelled run from its last checkpoint (nodes already done are not redone); traders."""
    actor.require("trader", "continue agent runs")
    store = store_of(runtime)
    run = store.get(run_id)
    done = {node: step.stored() for node, step in run.steps.items() if step.status == "done"}
    if not store.claim(run_id, ("failed", "cancelled"), "queued", error=None, finished_at=None, steps=done,
                       job_id=None):
        raise Conflict(f"run {run_id} is {run.status}: only a failed or cancelled run can be continued")
    _submit(runtime, store, run_id, "continue", actor.name, inline)
    return store.get(run_id)


def cancel_run(runtime: AgentServices, run_id: str, actor: Actor) -> GraphRun:
    """Ask a queued or running run to stop (a running one stops after its current node); traders."""
    actor.require("trader", "cancel agent runs")
    store = store_of(runtime)
    run = store.get(run_id)
    if not run.active or not run.job_id:
        raise Conflict(f"run {run_id} is {run.status}: only a queued or running run can be cancelled")
    runtime.jobs.cancel(run.job_id, actor.name)
    sync_runs(runtime)
    return store.get(run_id)


def get_run(runtime: AgentServices, run_id: str) -> GraphRun:
    """One run (after settling runs whose worker died); BadInput when unknown."""
    sync_runs(runtime)
    return store_of(runtime).get(run_id)


def list_runs(runtime: AgentServices, status: str | None = None, limit: int = 100) -> list[GraphRun]:
    """Runs, newest first (after settling runs whose worker died)."""
    sync_runs(runtime)
    return store_of(runtime).list(status, limit)


def sync_runs(runtime: AgentServices) -> None:
    """Make the runs table follow the jobs: a run never stays running after its job ended.

    Stale jobs (a killed worker) are swept to failed first; their runs fail with a message saying how
    to continue them. Runs waiting for decisions that are all taken (orders that expired meanwhile) resume.
    """
    store = store_of(runtime)
    runtime.jobs.sweep_stale()
    for run in store.list(ACTIVE, limit=500):
        job = runtime.jobs.get(run.job_id) if run.job_id else None
        if job is None or job.active:  # no job yet: the one being queued will say how it went
            continue
        status = "cancelled" if job.status == "cancelled" else "failed"
        why = job.error or "the job ended without finishing the run"
        if store.claim(run.id, ACTIVE, status):
            store.finish(run.id, status, error=f"{why}; continue it from its last checkpoint with "
                                               f"`nexus graph continue {run.id}` or the Agent Runs page")
    for run in store.list("awaiting_approval", limit=500):
        resume_run(runtime, run.id)


def _submit(runtime: AgentServices, store: RunStore, run_id: str, mode: Mode, actor: str, inline: bool = False) -> None:
    try:
        job_id = runtime.jobs.submit(JOB_KIND, {"run_id": run_id, "mode": mode}, actor,
                                     title=f"agent run {run_id[:8]} ({mode})")
    except NexusError as error:
        store.finish(run_id, "failed", error=f"could not queue the run: {error}")
        raise
    store.set(run_id, job_id=job_id)
    if inline:
        runtime.jobs.run_here(job_id)  # the run is a no-op when a worker (or Huey's immediate mode) took it


def graph_run_job(ctx: JobContext, services: AgentServices, run_id: str, mode: Mode = "start") -> dict:
    """Job body: run (or resume, or continue) the graph of ``run_id`` on this worker."""
    from services.agents.runner import invoke

    store = store_of(services)
    if not store.claim(run_id, ("queued",), "running", job_id=ctx.job_id):
        return {"summary": f"run {run_id} was no longer queued; nothing done", "run_id": run_id}
    if mode == "start" and ctx.attempt > 1:
        mode = "continue"  # handed back or queued again: pick up after the last checkpoint, do not start over
    ctx.progress(store.get(run_id).progress, f"{mode}: running", force=True)
    try:
        run = invoke(services, store, store.get(run_id), mode, ctx)
    except JobHandedBack:
        store.claim(run_id, ("running",), "queued", job_id=ctx.job_id)  # the next worker claims it again
        raise
    except JobCancelled as error:
        store.finish(run_id, "cancelled", error=str(error))
        raise
    except NexusError as error:
        store.finish(run_id, "failed", error=str(error))
        raise
    except Exception as error:  # a run must never be left running because of an unexpected error
        store.finish(run_id, "failed", error=f"{type(error).__name__}: {error}")
        raise
    summary = run.outcome if run.status == "completed" else f"run {run_id} is {run.status.replace('_', ' ')}"
    return {"summary": summary, "run_id": run_id, "status": run.status}
