"""One JSON error shape for every answer that is not a success: ``{"code": …, "message": …}``.

The message says what to do; it never carries a secret (domain errors are written that way, and anything
unexpected is answered with a generic message while the details go to the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core.errors import (
    BadInput,
    Conflict,
    DatasetBusy,
    DatasetNotFound,
    NexusError,
    PermissionDenied,
    ServiceUnavailable,
    StorageUnavailable,
)
from services.core.tokens import InvalidToken

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """What every refused or failed request gets."""

    code: str
    message: str


class ApiError(Exception):
    """An answer other than success, raised by the API layer itself (auth, rate limit, preconditions)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


#: domain errors to (HTTP status, code), most specific first
_DOMAIN = (
    (InvalidToken, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (DatasetNotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (BadInput, 400, "bad_request"),
    ((DatasetBusy, StorageUnavailable, ServiceUnavailable), 503, "unavailable"),
)
_HTTP_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               406: "not_acceptable", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               429: "rate_limited"}

#: documented on every route: the shape of the errors it may answer
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "bad input: the message names the parameter and what is accepted"),
    (401, "no token, or an unknown, revoked or expired one"),
    (403, "the token lacks the scope, or its owner the role"),
    (404, "no such dataset or order"),
    (409, "changed by someone else, or an Idempotency-Key reused with another body"),
    (422, "a parameter does not have the documented type"),
    (429, "too many requests for this token: wait Retry-After seconds"),
    (503, "a dependency is unavailable: retry later"))}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error answer."""
    return JSONResponse({"code": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store", **(headers or {})})


def domain_status(error: NexusError) -> tuple[int, str]:
    """HTTP status and code of a domain error."""
    for kinds, status, code in _DOMAIN:
        if isinstance(error, kinds):
            return status, code
    return 500, "internal"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(NexusError)
    async def _domain(_request: Request, error: NexusError) -> JSONResponse:
        status, code = domain_status(error)
        message = "; ".join(str(error).splitlines()) if status < 500 else "the console failed; see its log"
        if status == 503:
            message = f"{message}; retry in a moment"
        return error_response(status, code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:5]:
            loc = list(item.get("loc", ()))
            if loc and loc[0] in ("body", "query", "path", "header", "cookie"):  # where it was, not a field name
                loc = loc[1:]
            where = ".".join(str(p) for p in loc)
            problems.append(f"{where or 'request'}: {item.get('msg', 'invalid')}")
        return error_response(422, "invalid_request", "; ".join(problems) + " (see /api/docs for the accepted values)")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "error")
        message = error.detail if isinstance(error.detail, str) else code
        if error.status_code == 404:
            message = "no such endpoint; see /api/docs for what exists"
        return error_response(error.status_code, code, message, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("API request failed", exc_info=error)
        return error_response(500, "internal", "the console failed; see its log")
