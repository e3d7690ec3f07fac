"""``nexus tokens``: personal access tokens, the CLI's credential in production (admins issue and revoke them)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

import typer

from cli.support import acting, parse_day, reports_errors, runtime
from services.core import clock
from services.core.errors import BadInput
from services.core.tokens import AccessToken

app = typer.Typer(help="Personal access tokens: create, list, revoke (admin only).", no_args_is_help=True)
_IN_DAYS = re.compile(r"^(\d{1,4})d$")


def _expiry(text: str | None) -> datetime | None:
    """``30d`` (days from now), ``2027-01-31`` (the end of that UTC day) or an ISO time; None: never."""
    if text is None:
        return None
    days = _IN_DAYS.match(text.strip())
    if days:
        return clock.now() + timedelta(days=int(days.group(1)))
    try:
        return clock.from_ms(parse_day(text.strip(), end_of_day=True))
    except BadInput:
        raise BadInput(f"expiry '{text}' must look like 30d, 2027-01-31 or 2027-01-31T12:00") from None


def _line(token: AccessToken) -> str:
    state = ("revoked" if token.revoked_at else "expired") if not token.active else "active"
    expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "never"
    used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
    return (f"{token.id}  {state:7}  {token.owner:28} roles {','.join(token.roles) or '-':22} "
            f"scopes {','.join(token.scopes) or '-':30} expires {expires:16} last used {used:16} {token.label}")


@app.command("create")
@reports_errors
def create(
    person: Annotated[str, typer.Option("--for", help="whom the token is for (their e-mail)")],
    role: Annotated[list[str] | None, typer.Option(help="a role the CLI may act with (repeat for several)")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="an HTTP API scope (repeat for several)")] = None,
    expires: Annotated[str | None, typer.Option(help="30d, 2027-01-31 or an ISO time; default: never")] = None,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Issue a token; its secret is printed once and never stored (only its SHA-256 is)."""
    token, secret = runtime().tokens.issue(acting(), person, roles=role or (), scopes=scope or (), label=label,
                                           expires_at=_expiry(expires))
    typer.echo(_line(token))
    typer.echo(f"secret (shown once; give it to {token.owner}, who sets it as NEXUS_TOKEN): {secret}")


@app.command("list")
@reports_errors
def list_tokens(owner: Annotated[str | None, typer.Option("--for", help="only this person's tokens")] = None) -> None:
    """Every token, newest first (never a secret)."""
    for token in runtime().tokens.listing(acting(), owner):
        typer.echo(_line(token))


@app.command("revoke")
@reports_errors
def revoke(token_id: str, reason: Annotated[str, typer.Option(help="why (required)")] = "") -> None:
    """Revoke a token at once: its next use is refused."""
    typer.echo(_line(runtime().tokens.revoke(acting(), token_id, reason or "revoked from the CLI")))
