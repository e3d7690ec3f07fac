"""What every ``nexus`` command shares: one-line errors with exit codes, the acting user, dates."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from services.core import clock
from services.core.auth import Actor
from services.core.errors import BadInput, NexusError

Start = Annotated[str | None, typer.Option(help="first day (UTC), YYYY-MM-DD")]
End = Annotated[str | None, typer.Option(help="last day (UTC, inclusive), YYYY-MM-DD")]


def fail(message: str, code: int) -> None:
    """One line on stderr, then exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn domain errors into one line on stderr and exit code 2 (bad input) or 1 (anything else)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NexusError as error:
            fail("; ".join(str(error).splitlines()), error.exit_code)
        except OSError as error:
            fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "), 2 if error.filename else 1)

    return run


def runtime():
    """The process runtime (settings read from the environment)."""
    from services.runtime import get_runtime

    return get_runtime()


def os_user() -> str:
    """Who runs this command (the OS user), recorded with every change made from the CLI."""
    return f"cli:{os.environ.get('USER') or os.environ.get('USERNAME') or 'unknown'}"


def acting(claimed: str | None = None) -> Actor:
    """The person behind this command, with the roles the services check: ``NEXUS_TOKEN``'s owner, or in local
    mode the ``--as`` claim (``claimed``; the OS user for commands that do not ask), with every role."""
    from services.core.tokens import command_actor

    rt = runtime()
    return command_actor(rt.tokens, rt.settings, os.environ.get("NEXUS_TOKEN"), claimed, os_user())


def parse_day(text: str | None, end_of_day: bool = False) -> int | None:
    """``YYYY-MM-DD`` (or full ISO time) to Unix ms UTC; None passes through."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"date '{text}' must look like 2024-01-31 or 2024-01-31T12:00") from None
    if end_of_day and len(text) == 10:
        return clock.day_end_ms(moment.date())
    return clock.to_ms(moment)
