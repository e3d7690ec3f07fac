"""LangSmith tracing of graph runs: the tracer to pass, and the link to a run's trace built as LangSmith builds it.

With LANGSMITH_TRACING and LANGSMITH_API_KEY, each graph invocation is traced to LANGSMITH_PROJECT under
the run id we set, and the link is ``{host}/o/{tenant}/projects/p/{project}/r/{run_id}?poll=true``; the
project (with its tenant) is looked up once per process. Without them, or when LangSmith cannot be
reached, the run goes on untraced and without a link; tracing is then switched off explicitly, so an
environment that says LANGSMITH_TRACING=true without a key does not make the process wait at exit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.core.config import Settings
from services.core.redaction import redactor

_lock = threading.Lock()
#: (endpoint, project) -> the project's UI URL; (endpoint, key hash) -> client; filled once per process
_project_urls: dict[tuple[str, str], str] = {}
_clients: dict[tuple[str, int], Any] = {}


@dataclass
class Tracing:
    """What one graph invocation needs for tracing: callbacks for its config and the project's UI URL."""

    client: Any = None
    project: str = ""
    project_url: str | None = None
    note: str | None = None
    callbacks: list = field(default_factory=list)
    flush_timeout_s: float = 10.0

    @property
    def active(self) -> bool:
        """True when this invocation is traced."""
        return self.project_url is not None

    def url_for(self, run_id: str) -> str | None:
        """The UI link to the trace of the root run ``run_id`` (None when not traced)."""
        return f"{self.project_url}/r/{run_id}?poll=true" if self.project_url else None

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """Around the invocation: tracing as configured, never as the environment alone would have it."""
        from langsmith.run_helpers import tracing_context

        with tracing_context(enabled=None if self.active else False):
            yield

    def flush(self) -> None:
        """Send what is queued (bounded wait), so the process never hangs at exit on a pending trace."""
        if self.client is not None:
            self.client.flush(timeout=self.flush_timeout_s)


def open_tracing(settings: Settings) -> Tracing:
    """Tracing for one invocation; never raises (LangSmith down means no trace, not a failed run)."""
    if not settings.tracing_enabled:
        return Tracing(note=None if not settings.langsmith_tracing else "LANGSMITH_TRACING is on but "
                       "LANGSMITH_API_KEY is not set: not traced")
    project = settings.langsmith_project
    try:
        client = _client(settings)
        project_url = _project_url(client, settings.langsmith_endpoint, project)
    except Exception as error:  # unreachable, refused, malformed: trace-less run
        return Tracing(note=f"LangSmith unavailable ({type(error).__name__}); the run goes on without a trace")
    from langchain_core.tracers.langchain import LangChainTracer

    return Tracing(client=client, project=project, project_url=project_url,
                   callbacks=[LangChainTracer(project_name=project, client=client)],
                   flush_timeout_s=2 * settings.langsmith_timeout_seconds)


def _client(settings: Settings):
    """One LangSmith client per endpoint and key; it scrubs every secret of the settings from what it sends
    (an API's error echoing a key would otherwise travel inside a traced exception)."""
    from langsmith import Client
    from langsmith.anonymizer import create_anonymizer
    from urllib3.util.retry import Retry

    key = settings.langsmith_api_key.get_secret_value() if settings.langsmith_api_key else ""
    cache_key = (settings.langsmith_endpoint, hash(key))
    with _lock:
        if cache_key not in _clients:
            _clients[cache_key] = Client(
                api_url=settings.langsmith_endpoint, api_key=key,
                timeout_ms=int(settings.langsmith_timeout_seconds * 1000),
                retry_config=Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504)),
                anonymizer=create_anonymizer(redactor(settings), max_depth=24))
        return _clients[cache_key]


def _project_url(client, endpoint: str, project: str) -> str:
    """``{host}/o/{tenant}/projects/p/{project id}``: read (or created) once, then cached."""
    from langsmith.utils import LangSmithConflictError, LangSmithNotFoundError

    cache_key = (endpoint, project)
    with _lock:
        if cache_key in _project_urls:
            return _project_urls[cache_key]
    try:
        session = client.read_project(project_name=project)
    except LangSmithNotFoundError:
        try:
            session = client.create_project(project, description="Trade Nexus Console agent graph runs")
        except LangSmithConflictError:  # created meanwhile by another worker
            session = client.read_project(project_name=project)
    if not session.url:
        raise ValueError("LangSmith returned a project without a URL")
    with _lock:
        _project_urls[cache_key] = session.url
    return session.url
