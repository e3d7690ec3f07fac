"""``nexus lona``: register with Lona, submit strategies, publish datasets, run backtests and read reports."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.support import End, Start, acting, reports_errors
from services.core.errors import BadInput, Conflict
from services.runtime import Runtime, get_runtime
from services.strategies import backtests as strategies
from services.strategies.lona.client import PROVIDERS
from services.strategies.lona.credentials import SHARED_PLACE
from services.strategies.lona.results import Strategy

app = typer.Typer(help="Strategies and backtests on Lona (the Lona Gateway).", no_args_is_help=True)
strategies_app = typer.Typer(help="Strategies on Lona: list, create from a description, upload code, show.",
                             no_args_is_help=True)
app.add_typer(strategies_app, name="strategies")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{option} '{text}' is not a day: use YYYY-MM-DD") from None


def _runtime() -> Runtime:
    return get_runtime()


Skip = Annotated[int, typer.Option(min=0, help="items to skip")]
Limit = Annotated[int, typer.Option(min=1, max=100, help="items per page")]


def _page_footer(shown: int, skip: int, total: int | None, has_next: bool) -> None:
    of = f" of {total}" if total is not None else ""
    more = f"; next page: --skip {skip + shown}" if has_next else ""
    typer.echo(f"{shown} shown (from {skip + 1 if shown else skip}){of}{more}")


@app.command()
@reports_errors
def register(
    invite_code: Annotated[str | None, typer.Option(help="an invite code you were given")] = None,
) -> None:
    """Register this agent with Lona (LONA_AGENT_REGISTRATION_SECRET, else by invite code) and save the token."""
    runtime = _runtime()
    registration, path = strategies.register_agent(runtime, invite_code, actor=acting())
    typer.echo(f"Registered agent {runtime.settings.lona_agent_id} with Lona as {registration.partner_name} "
               f"({registration.partner_id}); the token expires {registration.expires_at or 'at an unknown date'}.")
    if path == SHARED_PLACE:
        typer.echo(f"Token saved in {path}: every replica and worker with the same DATABASE_URL and "
                   "NEXUS_SECRETS_KEY uses it.")
    else:
        typer.echo(f"Token saved to {path} (readable by you only) on this machine ONLY: other replicas and workers "
                   "do not see it. Set LONA_AGENT_TOKEN to its lona_token value as a secret on every replica, or "
                   "set NEXUS_SECRETS_KEY on every replica and register again to keep it in the records database.")


@strategies_app.command("list")
@reports_errors
def strategies_list(skip: Skip = 0, limit: Limit = 50) -> None:
    """List the strategies Lona holds for this agent."""
    page = strategies.list_strategies(_runtime(), skip, limit)
    for item in page.items:
        typer.echo(f"{item.id}  {item.name}  {item.created_at or ''}".rstrip())
    _page_footer(len(page.items), skip, page.total, page.has_next)


def _show_code(code: str | None) -> None:
    typer.echo("--- code ---")
    typer.echo(code or "(no code)")


@strategies_app.command("create")
@reports_errors
def strategies_create(
    description: Annotated[str, typer.Option(help="what the strategy should do (at least 10 characters)")],
    name: Annotated[str | None, typer.Option(help="strategy name (default: from the description)")] = None,
    provider: Annotated[str, typer.Option(help=f"LLM provider: {', '.join(PROVIDERS)}")] = "xai",
    model: Annotated[str | None, typer.Option(help="the provider's model (default: Lona's choice)")] = None,
) -> None:
    """Have Lona generate a Backtrader strategy from a description (can take up to 3 minutes)."""
    made = strategies.create_strategy(_runtime(), description, actor=acting(), name=name, provider=provider,
                                      model=model)
    typer.echo(f"Created strategy {made.strategy_id}: {made.name}")
    typer.echo(f"--- explanation ---\n{made.explanation or '(none)'}")
    _show_code(made.code)


@strategies_app.command("upload")
@reports_errors
def strategies_upload(
    file: Annotated[Path, typer.Argument(help="a Python file with a Backtrader strategy")],
    name: Annotated[str | None, typer.Option(help="strategy name (default: the file name)")] = None,
    description: Annotated[str | None, typer.Option(help="what the strategy does")] = None,
) -> None:
    """Upload a Backtrader strategy file to Lona."""
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(f"cannot read {file}: {getattr(error, 'strerror', None) or error}") from None
    strategy_id = strategies.upload_strategy(_runtime(), name or file.stem, code, actor=acting(),
                                             description=description)
    typer.echo(f"Uploaded {file} as strategy {strategy_id}")


@strategies_app.command("show")
@reports_errors
def strategies_show(strategy_id: Annotated[str, typer.Argument(help="Lona strategy id")]) -> None:
    """Show one strategy and its code."""
    item: Strategy = strategies.get_strategy(_runtime(), strategy_id)
    typer.echo(f"{item.id}  {item.name}")
    for label, value in (("description", item.description), ("version", item.version),
                         ("language", item.language), ("created", item.created_at), ("updated", item.updated_at)):
        if value:
            typer.echo(f"{label}: {value}")
    _show_code(item.code)


@app.command()
@reports_errors
def symbols(
    global_: Annotated[bool, typer.Option("--global", "-g", help="Lona's pre-loaded symbols instead of ours")] = False,
    skip: Skip = 0,
    limit: Limit = 50,
) -> None:
    """List this agent's symbols on Lona (or Lona's global ones)."""
    page = strategies.list_symbols(_runtime(), global_, skip, limit)
    for item in page.items:
        span = f"{item.start_timestamp or '?'} → {item.end_timestamp or '?'}"
        typer.echo(f"{item.id}  {item.name}  {','.join(item.frequencies)}  {span}")
    _page_footer(len(page.items), skip, page.total, page.has_next)


@app.command()
@reports_errors
def publish(
    ref: Annotated[str, typer.Argument(help="dataset reference exchange/SYMBOL/interval, e.g. binance/BTCUSDT/1h")],
    start: Start = None,
    end: End = None,
) -> None:
    """Upload a dataset (or a range of it) to Lona as a symbol; the same data version is uploaded once."""
    first = _day(start, "--start") if start else None
    last = _day(end, "--end") if end else None
    published = strategies.publish_dataset(_runtime(), ref, first, last, actor=acting())
    verb = "Uploaded" if published.uploaded else "Already on Lona:"
    typer.echo(f"{verb} {published.dataset_ref} ({published.candles} candles) as symbol {published.symbol_id} "
               f"({published.name})")


def _echo_report(report: strategies.BacktestReport) -> None:
    running = report.progress is not None and report.status not in ("COMPLETED", "FAILED")
    progress = f", progress {report.progress:.0%}" if running else ""
    typer.echo(f"Report {report.report_id}: {report.status}{progress} (strategy {report.strategy_id})")
    if report.status == "FAILED" or report.error:
        typer.echo(report.error or "failed without a message")
        return
    metrics = report.metrics
    for label, value, shape in (("total return", metrics.total_return_pct, "{:.2f} %"),
                                ("max drawdown", metrics.max_drawdown_pct, "{:.2f} %"),
                                ("win rate", metrics.win_rate_pct, "{:.2f} %"),
                                ("sharpe ratio", metrics.sharpe_ratio, "{:.2f}"),
                                ("trades", metrics.total_trades, "{}")):
        if value is not None:
            typer.echo(f"{label:<14}{shape.format(value)}")
    if metrics.units:
        typer.echo(f"units: {metrics.units}")
    timeline = report.timeline
    if not timeline.empty:
        typer.echo(f"equity: {len(timeline)} points {timeline['date'].iloc[0]:%Y-%m-%d} → "
                   f"{timeline['date'].iloc[-1]:%Y-%m-%d}, last {timeline['equity'].iloc[-1]:,.2f}, "
                   f"worst drawdown {timeline['drawdown_pct'].min():.2f} %")
    if not report.trades.empty:
        typer.echo(f"trade history: {len(report.trades)} rows")


@app.command()
@reports_errors
def backtest(
    strategy_id: Annotated[str, typer.Argument(help="Lona strategy id")],
    symbols: Annotated[list[str], typer.Option(
        "--symbols", "-s", help="Lona symbol ids or datasets exchange/SYMBOL/interval (repeat or comma-separate)")],
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last day, YYYY-MM-DD")],
    cash: Annotated[float, typer.Option(help="initial cash")] = 100_000.0,
    commission: Annotated[float, typer.Option(help="commission per trade as a fraction (0.001 = 0.1 %)")] = 0.001,
    wait: Annotated[bool, typer.Option(help="wait for the result and print the report")] = False,
) -> None:
    """Run a backtest on Lona; a background job follows it (the CLI waits only with --wait)."""
    runtime = _runtime()
    wanted = [s.strip() for item in symbols for s in item.split(",") if s.strip()]
    started = strategies.start_backtest(runtime, strategy_id, wanted, _day(start, "--start"), _day(end, "--end"),
                                        actor=acting(), initial_cash=cash, commission=commission)
    typer.echo(f"Backtest {started.report_id} started on {', '.join(started.symbol_ids)} (job {started.job_id})")
    if not wait:
        typer.echo(f"Follow it with: nexus lona report {started.report_id}")
        return
    try:
        runtime.jobs.run_here(str(started.job_id), timeout_s=runtime.settings.lona_poll_timeout_seconds + 60)
    except Conflict as error:
        raise Conflict(f"{error}: the backtest goes on; look later with `nexus lona report {started.report_id}`"
                       ) from None
    report = strategies.backtest_report(runtime, started.report_id)
    _echo_report(report)
    if report.status != "COMPLETED":
        raise typer.Exit(1)


@app.command()
@reports_errors
def report(report_id: Annotated[str, typer.Argument(help="Lona report id")]) -> None:
    """Show a backtest report: status, metrics (with the units assumed), equity, trades, or why it failed."""
    _echo_report(strategies.backtest_report(_runtime(), report_id))
