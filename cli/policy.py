"""``nexus policy``: the risk policy and gate limits in force, and an admin's change with a reason (audited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.support import acting, reports_errors, runtime
from services.core.errors import BadInput

app = typer.Typer(help="Risk policy: show, set (admin).", no_args_is_help=True)


def _documents() -> tuple[dict, int]:
    policy, gate, revision = runtime().orders.policy_with_revision()
    return {"policy": policy.model_dump(exclude_none=True), "gate": gate.model_dump()}, revision


@app.command("show")
@reports_errors
def show() -> None:
    """The policy (risk-policy.v1) and the console's gate limits, as one JSON document."""
    typer.echo(json.dumps(_documents()[0], indent=2))


@app.command("set")
@reports_errors
def set_policy(file: Annotated[Path, typer.Argument(help="JSON with 'policy' and/or 'gate' (as `show` prints)")],
               reason: Annotated[str, typer.Option(help="why (required)")] = "") -> None:
    """Replace the policy and/or the gate limits; a check is turned off by listing it in gate.checksOff."""
    try:
        change = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise BadInput(f"{file.name} is not valid JSON: {error}") from None
    if not isinstance(change, dict) or not {"policy", "gate"} & set(change):
        raise BadInput(f"{file.name} must be an object with 'policy' and/or 'gate'")
    current, revision = _documents()  # the half not in the file is what was read here, so nothing in between
    runtime().orders.set_policy(change.get("policy", current["policy"]), change.get("gate", current["gate"]),
                                acting(), reason, seen_revision=revision)
    typer.echo("risk policy changed and audited")
