"""``nexus``: the console's command line over the same services the pages use."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from cli import graph as cli_graph
from cli import ingest as cli_ingest
from cli import knowledge as cli_knowledge
from cli import lona as cli_lona
from cli import news as cli_news
from cli import orders as cli_orders
from cli import policy as cli_policy
from cli import review as cli_review
from cli import tokens as cli_tokens
from cli.support import End, Start, acting, fail, parse_day, reports_errors, runtime
from services.core import clock
from services.core.auth import SIGN_IN_FILES, ensure_can_start, listen_address, secrets_file_has_auth
from services.market_data.datasets import DatasetRef

app = typer.Typer(help="Trade Nexus Console: market data, agent runs, approvals, Lona.", no_args_is_help=True)
data_app = typer.Typer(help="OHLCV datasets in the blob store.", no_args_is_help=True)
demo_app = typer.Typer(help="Sample data shipped inside PyPI packages.", no_args_is_help=True)
app.add_typer(data_app, name="data")
data_app.registered_commands.extend(cli_ingest.app.registered_commands)
app.add_typer(demo_app, name="demo")
app.add_typer(cli_graph.app, name="graph")
app.add_typer(cli_knowledge.app, name="knowledge")
app.add_typer(cli_lona.app, name="lona")
app.add_typer(cli_news.app, name="news")
app.add_typer(cli_orders.app, name="orders")
app.add_typer(cli_orders.positions_app, name="positions")
app.add_typer(cli_tokens.app, name="tokens")
app.add_typer(cli_policy.app, name="policy")
app.command("killswitch")(reports_errors(cli_orders.killswitch))
app.command("review")(reports_errors(cli_review.review))


Ref = Annotated[str, typer.Argument(help="dataset reference exchange/SYMBOL/interval, e.g. sample/AAPL/1d")]


@data_app.command("list")
@reports_errors
def data_list() -> None:
    """List every dataset in the ohlcv container."""
    entries = runtime().datasets.catalog()
    typer.echo(f"{'dataset':32} {'rows':>9} {'first':>19} {'last':>19} {'size':>10}  flags")
    for entry in entries:
        first = f"{clock.from_ms(entry.first_ts):%Y-%m-%d %H:%M}" if entry.first_ts is not None else "?"
        last = f"{clock.from_ms(entry.last_ts):%Y-%m-%d %H:%M}" if entry.last_ts is not None else "?"
        flags = ",".join(f for f, on in (("close-only", entry.close_only), ("external", entry.external)) if on)
        rows = "?" if entry.rows is None else f"{entry.rows}"
        typer.echo(f"{entry.ref!s:32} {rows:>9} {first:>19} {last:>19} {entry.size:>10}  {flags}")


@data_app.command("import")
@reports_errors
def data_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON candle file")],
    exchange: Annotated[str, typer.Option(help="exchange id, lower case (binance, alpaca, …)")],
    symbol: Annotated[str, typer.Option(help="venue market id without separators (BTCUSDT)")],
    interval: Annotated[str, typer.Option(help="1m 5m 15m 30m 1h 4h 1d 1w 1M")],
    replace_overlap: Annotated[bool, typer.Option(help="overwrite stored candles at the same timestamps")] = False,
    sort: Annotated[bool, typer.Option(help="sort rows and drop exact duplicate rows first")] = False,
) -> None:
    """Import a candle file into a new or existing dataset (refused whole on any contract violation)."""
    from services.market_data.imports import check_size, import_file

    rt = runtime()
    ref = DatasetRef.of(exchange, symbol, interval)
    check_size(file.stat().st_size, file.name, rt.settings.max_import_bytes)
    result = import_file(rt.datasets, ref, file.read_bytes(), file.name, replace_overlap=replace_overlap,
                         repair_order=sort, actor=acting(), max_bytes=rt.settings.max_import_bytes)
    typer.echo(f"{ref}: {result.rows_added} candles added, {result.rows_replaced} replaced, "
               f"{result.rows_total} in total ({len(result.partitions_written)} partitions written)")


@data_app.command("show")
@reports_errors
def data_show(
    ref: Ref,
    start: Start = None,
    end: End = None,
    format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
) -> None:
    """Print a dataset's candles (Lona columns) to stdout."""
    from services.market_data import ohlcv

    dataset = DatasetRef.parse(ref)
    frame = runtime().datasets.read(dataset, parse_day(start), parse_day(end, end_of_day=True))
    if format == "csv":
        sys.stdout.write(ohlcv.to_csv_bytes(ohlcv.base_only(frame)).decode())
    elif format == "json":
        payload = ohlcv.to_lona_json_bytes(frame, dataset.symbol, dataset.interval, dataset.exchange)
        sys.stdout.write(payload.decode() + "\n")
    else:
        fail(f"format '{format}' must be csv or json", 2)


@data_app.command("export")
@reports_errors
def data_export(
    ref: Ref,
    format: Annotated[str, typer.Option(
        "--format", help="csv or json (Lona's data format, Unix ms), upload-csv (its symbol upload, UTC text)",
    )] = "csv",
    start: Start = None,
    end: End = None,
    name: Annotated[str | None, typer.Option(help="export name (default SYMBOL_interval_first_last)")] = None,
) -> None:
    """Export a range for Lona into the exports container."""
    from services.market_data.exports import export

    rt = runtime()
    result = export(rt.datasets, rt.store, DatasetRef.parse(ref), format, parse_day(start),
                    parse_day(end, end_of_day=True), name, rt.settings.exports_container, actor=acting())
    typer.echo(f"exported {result.rows} candles to {rt.settings.exports_container}/{result.blob_name}")


@data_app.command("quality")
@reports_errors
def data_quality(ref: Ref) -> None:
    """Missing candles, zero-volume runs and import findings of a dataset."""
    from services.market_data.market_hours import trading_calendar
    from services.market_data.quality import assess

    rt = runtime()
    dataset = DatasetRef.parse(ref)
    report = assess(rt.datasets.read(dataset), rt.datasets.manifest(dataset), dataset.interval,
                    calendar=trading_calendar(dataset))
    typer.echo(f"{dataset}: {report.candles} candles, {report.missing} missing of {report.expected} expected "
               f"({report.completeness:.2%} complete)")
    if report.closed_slots_note:
        typer.echo(f"  note: {report.closed_slots_note}")
    for gap in report.gaps[:10]:
        typer.echo(f"  gap {clock.from_ms(gap.start_ms):%Y-%m-%d %H:%M} .. "
                   f"{clock.from_ms(gap.end_ms):%Y-%m-%d %H:%M}: {gap.candles} candles")


@demo_app.command("seed")
@reports_errors
def demo_seed(force: Annotated[bool, typer.Option(help="rewrite the sample datasets")] = False) -> None:
    """Seed the sample datasets shipped in PyPI packages (skips those already present)."""
    from services.market_data.seed import seed

    results = seed(runtime().datasets, force=force, log=typer.echo)
    typer.echo(f"{len(results)} dataset(s) seeded" if results else "sample datasets already present")


@app.command("serve")
@reports_errors
def serve(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    host: Annotated[str | None, typer.Option("--host", "--address", help="address to listen on (default: "
                                             "127.0.0.1 without sign-in, every interface with it)")] = None,
    worker: Annotated[bool, typer.Option(help="also run a job worker beside the app")] = True,
) -> None:
    """Seed sample data if missing, then run the job worker and the Streamlit app until interrupted."""
    from services.market_data.seed import seed

    rt = runtime()
    root = Path(__file__).resolve().parents[1]
    # Streamlit's own places (user-wide, project) first, then the file written from AUTH_* variables
    secrets_files = [*SIGN_IN_FILES, rt.settings.nexus_home / "streamlit-secrets.toml"]
    signed_in = any(secrets_file_has_auth(path) for path in secrets_files[:-1])
    if not signed_in:
        ensure_can_start(rt.settings, secrets_files[-1])
        signed_in = secrets_file_has_auth(secrets_files[-1])
    address, warning = listen_address(rt.settings, host, signed_in)
    if warning:
        typer.echo(warning, err=True)
    seeded = seed(rt.datasets, log=typer.echo)
    typer.echo(f"sample data: {len(seeded)} dataset(s) seeded" if seeded else "sample data present")
    rt.engine  # noqa: B018  (migrates the records database before two processes race to do it)
    children = []
    if worker:
        children.append(subprocess.Popen([sys.executable, "-m", "cli.worker", "--workers", "2"], cwd=root))
    children.append(subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(root / "app" / "main.py"), "--server.port", str(port),
         "--server.address", address, *[arg for f in secrets_files for arg in ("--secrets.files", str(f))]],
        cwd=root))
    typer.echo(f"Trade Nexus Console on http://{'localhost' if address == '127.0.0.1' else address}:{port}")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=rt.settings.worker_shutdown_grace_seconds + 5)  # jobs finish or go back
            except subprocess.TimeoutExpired:
                child.kill()


@app.command("api")
@reports_errors
def api(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    address: Annotated[str, typer.Option(help="address to listen on")] = "0.0.0.0",
) -> None:
    """Serve the HTTP API alone (the trader-data service): /api/… and /health, the same code as the console's."""
    import uvicorn

    from api.app import standalone

    runtime().engine  # noqa: B018  (migrates the records database before the first request)
    typer.echo(f"Trade Nexus API on http://localhost:{port}/api/docs")
    uvicorn.run(standalone(), host=address, port=port, log_level="warning")


def _interrupt(*_args: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    app()
