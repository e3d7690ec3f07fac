"""What every page shares: the services (built once per process), the acting operator, error display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from services.errors import NexusError
from services.market_view import ChartBuilder
from services.runtime import Runtime, get_runtime


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


def actor() -> str:
    """Who is acting in this browser session (recorded with every change)."""
    return st.session_state.get("actor", "local-operator")


@contextlib.contextmanager
def shows_errors() -> Iterator[None]:
    """Show a domain error as a red box with its message instead of a traceback."""
    try:
        yield
    except NexusError as error:
        st.error(str(error), icon="⛔")
