"""``nexus graph``: start agent runs, follow them, continue them after a crash, read what they found."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.support import acting, fail, reports_errors, runtime
from services.agents.run_store import GraphRun
from services.agents.runs import cancel_run, continue_run, get_run, list_runs, start_run
from services.agents.state import NODES, RunParams

app = typer.Typer(help="Agent graph runs: predictor, anomalies, optimizer, risk gate, approval.",
                  no_args_is_help=True)
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="run the job here and now, or queue it for a worker")]


@app.command("run")
@reports_errors
def run(
    universe: Annotated[str, typer.Option(help="comma-separated dataset refs, e.g. sample/AAPL/1d,sample/IBM/1d")],
    horizon: Annotated[int, typer.Option(help="bars the forecast covers")] = 5,
    lookback: Annotated[int, typer.Option(help="bars of history per symbol, on the common calendar")] = 1000,
    window: Annotated[int, typer.Option(help="returns in each LSTM input window")] = 60,
    llm: Annotated[bool, typer.Option("--llm/--no-llm", help="ask the LLM (XAI_API_KEY) for a rationale")] = True,
    strategy: Annotated[list[str] | None, typer.Option(
        "--strategy", help="a Lona strategy id whose latest completed backtests tilt the optimizer (repeatable)")
    ] = None,
    wait: Wait = True,
) -> None:
    """Start a run; with --wait, print its proposals (they wait in the Approvals inbox) and the run id."""
    params = RunParams(tuple(universe.split(",")), horizon=horizon, lookback=lookback, window=window, llm=llm,
                       strategies=tuple(strategy or ()))
    done = start_run(runtime(), params, acting(), inline=wait)
    _report(done)


@app.command("show")
@reports_errors
def show(run_id: str) -> None:
    """A run: status, node timings, forecasts, anomalies, weights, orders and checks, rationale, trace link."""
    found = get_run(runtime(), run_id)
    typer.echo(f"run {found.id}  {found.status}  by {found.actor}  {found.created_at:%Y-%m-%d %H:%M:%S} UTC")
    typer.echo(f"  universe {', '.join(found.universe)}  params {found.params.as_dict()}")
    for ref, version in found.dataset_versions.items():
        typer.echo(f"  data {ref} @ {version}")
    for node in NODES:
        step = found.step(node)
        seconds = f"{step.seconds:.2f} s" if step.seconds is not None else ""
        typer.echo(f"  {node:10} {step.status:8} {seconds:>10}  {step.message}")
    predictor, anomaly = found.results.predictor, found.results.anomaly
    for symbol, f in (predictor.forecasts if predictor else {}).items():
        metrics = f.metrics
        typer.echo(f"  forecast {symbol:8} {f.expected_return:+.3%} [{f.lower:+.3%}, {f.upper:+.3%}]  "
                   f"rmse ratio {metrics.rmse_ratio or float('nan'):.3f}  hit {metrics.hit_rate or 0:.2f}  "
                   f"coverage {metrics.interval_coverage or 0:.2f}")
    for symbol, why in (anomaly.excluded if anomaly else {}).items():
        typer.echo(f"  EXCLUDED {symbol}: {why}")
    signals = found.results.context.signals if found.results.context else None
    for signal in (s for listed in (signals.symbols.values() if signals else ()) for s in listed):
        typer.echo(f"  signal {signal.symbol:8} {signal.text}  (report {signal.report_id})")
    for skipped in signals.skipped if signals else ():
        typer.echo(f"  signal {skipped.symbol:8} {skipped.text}")
    for step, entry in found.rationale.items():
        typer.echo(f"  rationale {step}: {entry.llm or entry.summary}".replace("\n", "\n    "))
        if entry.note:
            typer.echo(f"    ({entry.note})")
    if found.llm_usage:
        typer.echo(f"  LLM usage {found.llm_usage}")
    _report(found)


@app.command("list")
@reports_errors
def list_command(status: Annotated[str | None, typer.Option(help="only this status")] = None) -> None:
    """Recent runs, newest first."""
    for found in list_runs(runtime(), status):
        typer.echo(f"{found.id}  {found.status:17} {found.created_at:%Y-%m-%d %H:%M} {found.actor:20} "
                   f"{','.join(found.universe)}")


@app.command("continue")
@reports_errors
def continue_command(run_id: str, wait: Wait = True) -> None:
    """Continue a failed or cancelled run from its last checkpoint (a worker died, a dataset was busy…)."""
    _report(continue_run(runtime(), run_id, acting(), inline=wait))


@app.command("cancel")
@reports_errors
def cancel(run_id: str) -> None:
    """Stop a queued or running run (a running one stops after its current node)."""
    _report(cancel_run(runtime(), run_id, acting()))


def _report(found: GraphRun) -> None:
    """The proposals of the run, its trace link and its run id; exit 1 when the run failed."""
    rt = runtime()
    for order in rt.orders.list(run_id=found.id):
        failing = [c["name"] for c in order.checks if not c["passed"]]
        typer.echo(f"  order {order.id}  {order.status:17} {order.side:4} {order.quantity:>12g} {order.symbol:8} "
                   f"@ {order.reference_price:<10g} {order.notional:>12,.2f} USD  "
                   + ("checks pass" if not failing else "FAILS " + ", ".join(failing)))
    if found.trace_url:
        typer.echo(f"  trace {found.trace_url}")
    if found.status == "awaiting_approval":
        typer.echo("  the orders wait in the Approvals inbox (or: nexus orders approve ID --as NAME)")
    if found.outcome:
        typer.echo(f"  outcome: {found.outcome}")
    typer.echo(f"run {found.id} {found.status.replace('_', ' ')}"
               + (f" (job {found.job_id}; follow it with nexus graph show {found.id})" if found.status == "queued"
                  else ""))
    if found.status == "failed":
        fail(f"run {found.id} failed: {found.error}", 1)
