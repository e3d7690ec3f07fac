"""``nexus data ingest`` and ``nexus data update``: fetch candles from Alpaca, Binance or any ccxt exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from cli.support import End, acting, parse_day, reports_errors, runtime
from services.core.errors import BadInput

app = typer.Typer(help="Fetch candles from market-data sources.", no_args_is_help=True)


@contextmanager
def _progress_bar() -> Iterator[Callable]:
    """A terminal progress bar on stderr; yields the ingest progress callback that drives it."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[detail]}"), console=Console(stderr=True), transient=True)
    task = bar.add_task("ingest", total=1.0, detail="starting")

    def update(state) -> None:
        bar.update(task, completed=state.fraction, description=state.ref, detail=state.figures())

    with bar:
        yield update


@app.command("ingest")
@reports_errors
def ingest_command(
    symbol: Annotated[str, typer.Option(help="market as the source writes it (BTC/USDT, AAPL, BTC/USD) or its id")],
    interval: Annotated[str, typer.Option(help="1m 5m 15m 30m 1h 4h 1d 1w 1M (what the source offers)")],
    start: Annotated[str, typer.Option(help="first day (UTC), YYYY-MM-DD")],
    end: End = None,
    source: Annotated[str, typer.Option(help="alpaca, alpaca-crypto, binance or any ccxt exchange id")] = "binance",
) -> None:
    """Fetch a range of closed candles into the dataset exchange/SYMBOL/interval (resumes where it stopped).

    Without --end it goes up to the last closed candle.
    """
    from services.market_data.ingest import ingest

    start_ms = parse_day(start)
    end_ms = parse_day(end, end_of_day=True)
    with _progress_bar() as progress:
        result = ingest(runtime(), source, symbol, interval, start_ms, None if end_ms is None else end_ms + 1,
                        actor=acting(), progress=progress)
    typer.echo(result.summary)


@app.command("update")
@reports_errors
def update_command(
    ref: Annotated[str | None, typer.Argument(help="dataset reference exchange/SYMBOL/interval")] = None,
    all_datasets: Annotated[bool, typer.Option("--all", help="update every dataset that came from a source")] = False,
) -> None:
    """Bring a dataset (or all of them) up to the last closed candle, fetching only new candles."""
    from services.market_data.ingest import update, update_all

    if (ref is None) == (not all_datasets):
        raise BadInput("give one dataset reference (binance/BTCUSDT/1m) or --all, not both")
    with _progress_bar() as progress:
        if ref is not None:
            typer.echo(update(runtime(), ref, actor=acting(), progress=progress).summary)
            return
        outcome = update_all(runtime(), actor=acting(), progress=progress)
    for result in outcome.results:
        typer.echo(result.summary)
    for name, error in outcome.failed.items():
        typer.echo(f"error: {name}: {error}", err=True)
    typer.echo(outcome.headline)
    if outcome.failed:
        raise typer.Exit(1)
