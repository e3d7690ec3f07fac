"""``nexus knowledge``: the sentiment model on the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from models.sentiment import load_sentiment_model

app = typer.Typer(help="Knowledge: news sentiment.", no_args_is_help=True)


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
