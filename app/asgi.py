"""What the console serves beside its pages, on the same port: ``GET /health``, the HTTP API at ``/api`` and
security headers."""

from __future__ import annotations

import contextlib
import gc

from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import create_app
from api.health import health
from services.core.errors import NexusError
from services.ops.health import WARMUP
from services.runtime import get_runtime

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",  # browsers ignore it over plain HTTP
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
#: Streamlit draws custom components in iframes from its own origin under this path
COMPONENT_PATH = "/component/"


def warm_up() -> None:
    """Start migrating the records database as the server starts, before the first page or probe needs it;
    then freeze what the start loaded (modules, the runtime) out of the garbage collector's reach: a full
    collection over it took 80-130 ms, stalling every request in flight at that moment."""
    with contextlib.suppress(NexusError, OSError):  # settings that do not validate: /health says why
        WARMUP.begin(get_runtime())
    gc.freeze()


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


#: a mounted app's startup hooks are not run by Starlette: the API needs none (it builds its services lazily)
ROUTES = [Route("/health", health, methods=["GET", "HEAD"]), Mount("/api", app=create_app())]
MIDDLEWARE = [Middleware(SecurityHeaders)]
