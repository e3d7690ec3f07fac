"""What every page shares: the services (built once per process), the acting operator, error display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from components.views.market import ChartBuilder
from services.core.auth import ROLE_HELP, Actor, local_operator, signed_in_actor
from services.core.errors import NexusError
from services.runtime import Runtime, get_runtime

#: icons come from the Material Symbols font Streamlit ships; an emoji needs a colour-emoji font Chromium may lack
ERROR_ICON = ":material/error:"


@dataclass
class Console:
    """Long-lived services for the pages (kept by st.cache_resource, never copied)."""

    runtime: Runtime
    charts: ChartBuilder


@st.cache_resource(show_spinner=False)
def console() -> Console:
    """The process-wide console services."""
    runtime = get_runtime()
    return Console(runtime=runtime, charts=ChartBuilder(runtime.datasets))


def sign_in_enabled() -> bool:
    """True when Streamlit's secrets carry an [auth] section (OIDC sign-in through st.login)."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def current_actor() -> Actor:
    """Who is acting in this browser session (recorded with every change): the local operator in local mode."""
    if sign_in_enabled() and st.user.is_logged_in:
        user = st.user.to_dict()
        return signed_in_actor(str(user.get("email") or ""), str(user.get("name") or ""), user,
                               console().runtime.settings)
    return local_operator()


def needs_role(role: str, help_text: str | None = None, *, ready: bool = True) -> dict[str, Any]:
    """Options of a button whose action needs ``role``: disabled, saying why, for an operator without it.

    ``ready=False`` disables it too (its inputs are incomplete); ``help_text`` is shown otherwise.
    """
    refused = not current_actor().can(role)
    return {"disabled": refused or not ready, "help": f"Needs the {role} role ({ROLE_HELP[role]})." if refused
            else help_text}


def actor() -> str:
    """The acting person's name."""
    return current_actor().name


@contextlib.contextmanager
def shows_errors() -> Iterator[None]:
    """Show a domain error as a red box with its message instead of a traceback."""
    try:
        yield
    except NexusError as error:
        st.error(str(error), icon=ERROR_ICON)
