"""``nexus knowledge``: search the knowledge base, add a pattern, refresh it from the console's records, and score
news sentiment."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from cli.support import acting, reports_errors, runtime
from models.sentiment import load_sentiment_model
from services.knowledge import harvest
from services.knowledge.store import KINDS, PATTERN_TYPES

app = typer.Typer(help="Knowledge base: patterns, regimes, lessons, events, correlations; news sentiment.",
                  no_args_is_help=True)
Listed = Annotated[list[str] | None, typer.Option(help="repeat for several")]


@app.command("search")
@reports_errors
def search(
    query: Annotated[str, typer.Argument(help="what to look for, in words")],
    asset: Annotated[list[str] | None, typer.Option("--asset", help="only items about this symbol (repeatable)")]
    = None,
    kind: Annotated[list[str] | None, typer.Option("--kind", help=f"only this kind: {', '.join(KINDS)}")] = None,
    limit: Annotated[int, typer.Option(help="how many items, 1 to 100")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Items nearest in meaning to QUERY, best first."""
    for item in runtime().knowledge.search(query, assets=asset, kinds=kind, limit=limit):
        if as_json:
            typer.echo(json.dumps(item, default=str))
        else:
            typer.echo(f"{item['score']:.3f}  {item['kind']:11} {item['title']}")
            typer.echo(f"       {item['summary']}")


@app.command("add")
@reports_errors
def add(
    name: Annotated[str, typer.Option(help="the pattern's name")],
    pattern_type: Annotated[str, typer.Option("--type", help=f"one of {', '.join(PATTERN_TYPES)}")],
    description: Annotated[str, typer.Option(help="what the pattern is and when it works")],
    asset: Listed = None,
    timeframe: Listed = None,
    regime: Listed = None,
    confidence: Annotated[float, typer.Option(help="from 0 to 1")] = 0.5,
    source: Annotated[str, typer.Option(help="where it comes from (a paper, a desk note)")] = "",
) -> None:
    """Add a trading pattern (trader role)."""
    item_id = runtime().knowledge.add_pattern(acting(), name, pattern_type, description, asset or [],
                                              timeframe or [], regime or [], confidence, source)
    typer.echo(f"pattern {item_id} added")


@app.command("refresh")
@reports_errors
def refresh() -> None:
    """Bring the knowledge base up to date with backtests, orders, runs and every dataset (here, now)."""
    rt = runtime()
    report = harvest.refresh(rt.knowledge, rt.engine, rt.datasets)
    for source, counts in report.items():
        typer.echo(f"{source:12} {counts['added']} added, {counts['updated']} updated, "
                   f"{counts['unchanged']} unchanged")


@app.command("sentiment")
def sentiment(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="lines scored together")] = 256,
) -> None:
    """Read one text per line on stdin; print one JSON object {"label", "score"} per line, in order."""
    model = load_sentiment_model()
    if model.is_fallback:
        typer.echo(f"note: embedding model not installed; using the fallback {model.version}", err=True)
    pending: list[str] = []
    for line in sys.stdin:
        pending.append(line.rstrip("\r\n"))
        if len(pending) >= batch:
            _emit(model.score(pending))
            pending = []
    _emit(model.score(pending))


def _emit(results: list) -> None:
    for result in results:
        typer.echo(json.dumps(result.to_dict()))
