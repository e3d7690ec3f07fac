"""What the console serves beside its pages, on the same port: ``GET /health`` and security headers."""

from __future__ import annotations

import contextlib

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.errors import NexusError
from services.ops.health import WARMUP, health_report
from services.runtime import get_runtime

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",  # browsers ignore it over plain HTTP
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
#: Streamlit draws custom components in iframes from its own origin under this path
COMPONENT_PATH = "/component/"
NO_STORE = {"Cache-Control": "no-store"}


def health(_request: Request) -> JSONResponse:
    """200 and each dependency's state while the console can serve; 503 when a required one is down, or
    ``starting`` (503 with Retry-After) while the first migrations run.

    The route is public, so in production it tells states only: the details (hosts, paths) are for the signed-in
    Settings page. A sync endpoint: Starlette runs it on its thread pool; the report is cached for a few seconds.
    """
    try:
        runtime = get_runtime()
        if WARMUP.starting(runtime):  # a cold start is not an outage: say so, and when to ask again
            return JSONResponse({"status": "starting", "service": "trade-nexus-console",
                                 "detail": "migrating the records database; not an outage"},
                                status_code=503, headers={**NO_STORE, "Retry-After": "5"})
        report = health_report(runtime)
    except (NexusError, OSError) as error:  # settings that do not validate, NEXUS_HOME not writable: cannot serve
        return JSONResponse({"status": "down", "error": str(error)}, status_code=503, headers=NO_STORE)
    body = report.as_dict(details=runtime.settings.app_env != "production")
    return JSONResponse(body, status_code=200 if report.serving else 503, headers=NO_STORE)


def warm_up() -> None:
    """Start migrating the records database as the server starts, before the first page or probe needs it."""
    with contextlib.suppress(NexusError, OSError):  # settings that do not validate: /health says why
        WARMUP.begin(get_runtime())


class SecurityHeaders:
    """ASGI middleware: every HTTP response gets ``SECURITY_HEADERS`` unless it set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framing = "SAMEORIGIN" if scope["path"].startswith(COMPONENT_PATH) else "DENY"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**SECURITY_HEADERS, "X-Frame-Options": framing}.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


ROUTES = [Route("/health", health, methods=["GET", "HEAD"])]
MIDDLEWARE = [Middleware(SecurityHeaders)]
