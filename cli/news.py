"""``nexus news``: fetch news from Alpaca News or an RSS/Atom feed (scored by the sentiment model), list it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.support import End, acting, parse_day, reports_errors, runtime
from services.core.errors import BadInput

app = typer.Typer(help="News items with their sentiment: ingest from Alpaca News or a feed, list.",
                  no_args_is_help=True)


@app.command("ingest")
@reports_errors
def ingest(
    source: Annotated[str, typer.Option(help="alpaca (needs ALPACA_API_KEY / ALPACA_API_SECRET)")] = "alpaca",
    symbols: Annotated[str | None, typer.Option(help="comma-separated tickers for Alpaca, e.g. AAPL,MSFT")] = None,
    start: Annotated[str | None, typer.Option(help="first day (UTC), YYYY-MM-DD (Alpaca)")] = None,
    end: End = None,
    feed: Annotated[str | None, typer.Option(help="an RSS or Atom feed URL instead of Alpaca")] = None,
) -> None:
    """Fetch news into the records database; a re-run resumes and stores nothing twice."""
    from services.news.ingest import ingest_alpaca, ingest_feed

    def progress(_fraction: float, message: str) -> None:
        typer.echo(message, err=True)

    if feed is not None:
        if symbols is not None or start is not None:
            raise BadInput("--feed takes no --symbols or --start: feed items keep only what the feed says")
        result = ingest_feed(runtime(), feed, actor=acting(), progress=progress)
    else:
        if source != "alpaca":
            raise BadInput(f"unknown news source '{source}': use --source alpaca or --feed URL")
        if symbols is None or start is None:
            raise BadInput("Alpaca News needs --symbols and --start")
        end_ms = parse_day(end, end_of_day=True)
        result = ingest_alpaca(runtime(), symbols, parse_day(start), None if end_ms is None else end_ms + 1,
                               actor=acting(), progress=progress)
    typer.echo(result.summary)


@app.command("list")
@reports_errors
def list_items(
    symbol: Annotated[str | None, typer.Option(help="only items the source tagged with this ticker")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """The newest stored items, newest first: time, sentiment, tickers, headline."""
    items = runtime().news.list(symbol=symbol, limit=limit)
    if as_json:
        for item in items:
            typer.echo(json.dumps(item.to_dict()))
        return
    if not items:
        typer.echo("no news stored" + (f" for {symbol.upper()}" if symbol else "") +
                   "; fetch some with `nexus news ingest`")
        return
    for item in items:
        when = f"{item.published_at:%Y-%m-%d %H:%M}" if item.published_at else "(no date)"
        tickers = ",".join(item.symbols) or "-"
        typer.echo(f"{when:16} {item.sentiment_label:8} {item.sentiment_score:+.2f} {tickers:12} {item.title}")
