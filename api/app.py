"""The API application: built once per process, mounted at ``/api`` on the console's port (``app/asgi.py``) or
served alone by ``nexus api`` (``standalone``), with the same routes, errors and auth either way."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from api import data, errors, knowledge, proposals
from api.health import health
from api.security import RateLimiter

DESCRIPTION = """The Trade Nexus Console as a service (the *trader-data* API).

Every endpoint needs `Authorization: Bearer <token>` with the scope it names (`data:read`, `knowledge:read`,
`orders:propose`); an admin issues tokens in Settings or with `nexus tokens create`. Errors are always
`{"code", "message"}`; the message says what to do. Each token may make `API_RATE_LIMIT_PER_MINUTE` requests a
minute (429 and `Retry-After` beyond).
"""


def create_app(rate_limit_per_minute: float | None = None) -> FastAPI:
    """A new API app (paths relative to its mount point: ``/v1/…``, ``/openapi.json``, ``/docs``); the rate limit
    per token is ``rate_limit_per_minute`` or, when None, API_RATE_LIMIT_PER_MINUTE."""
    app = FastAPIOffline(title="Trade Nexus Console API", version="1", description=DESCRIPTION,
                         redoc_url=None, openapi_url="/openapi.json", docs_url="/docs")
    app.state.limiter = RateLimiter(rate_limit_per_minute)  # None: the setting, read at each request
    errors.install(app)
    app.include_router(data.router)
    app.include_router(knowledge.router)
    app.include_router(proposals.router)
    return app


def standalone(rate_limit_per_minute: float | None = None) -> Starlette:
    """The API alone, as the trader-data service: ``/api/…`` plus the public ``/health`` (same as the console)."""
    return Starlette(routes=[Route("/health", health, methods=["GET", "HEAD"]),
                             Mount("/api", app=create_app(rate_limit_per_minute))],
                     exception_handlers={404: _no_route, 405: _no_route})


async def _no_route(_request: Request, error: Exception) -> JSONResponse:
    """A path no route matches (not even the mount: a newline in it, say) gets the API's error shape too."""
    status = getattr(error, "status_code", 404)
    return errors.error_response(status, "not_found" if status == 404 else "method_not_allowed",
                                 "no such endpoint; see /api/docs for what exists")
