"""``GET /health``: the one public route, served by the console (``app/asgi.py``) and by ``nexus api`` alike."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from services.core.errors import NexusError
from services.ops.health import WARMUP, health_report
from services.runtime import get_runtime

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
