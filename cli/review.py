"""``nexus review``: the decision review's aggregates as the worker stored them (overall, per run, symbol, operator,
source)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from cli.support import runtime
from services.core.errors import BadInput
from services.review.store import JOB_KIND, SCOPES, ReviewFilter


def review(
    run: Annotated[str | None, typer.Option(help="only this graph run's decisions")] = None,
    symbol: Annotated[str | None, typer.Option(help="only this symbol's decisions")] = None,
    operator: Annotated[str | None, typer.Option(help="only the decisions of this operator (e-mail or name)")] = None,
    source: Annotated[str | None, typer.Option(
        help="only the orders of this source: agent-graph, manual, or an API client's name")] = None,
    horizon: Annotated[str, typer.Option(help="1, 5 or 20 bars after the proposal, or 'forecast'")] = "5",
    by: Annotated[str | None, typer.Option(help="also every run, symbol, operator or source on its own line")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Hit rate, P&L of the agent alone vs agent + operator, value added by edits and rejections and 90 % interval
    coverage of the decided orders of every source (read from the stored review; the worker's decision_review job
    writes it). Manual and API orders carry no forecast: they count in P&L and value added, not in the hit rate or
    the coverage."""
    if by is not None and by not in SCOPES:
        raise BadInput(f"--by '{by}' is not one of {', '.join(SCOPES)}")
    store = runtime().review
    chosen = ReviewFilter(run=run, symbol=symbol, operator=operator, source=source, horizon=horizon)
    rows = store.aggregates(chosen)
    if by is not None:
        rows += [r for r in store.by_scope(by, horizon) if (r.scope, r.key) not in chosen.scopes]
    if not rows:
        typer.echo(f"no decided order reviewed yet (the worker's {JOB_KIND} job follows decided orders of every "
                   "source through the stored candles)", err=True)
        return
    for row in rows:
        typer.echo(json.dumps(row.as_dict()) if as_json else row.line())
