"""Bearer tokens with scopes, checked by the API itself (``st.login`` does not guard mounted routes), and a
per-token rate limit answered with 429 and ``Retry-After``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from services.core.tokens import SCOPE_HELP, AccessToken
from services.runtime import Runtime, get_runtime

_bearer = HTTPBearer(auto_error=False, description="an access token (tnx_…) issued by an admin in Settings")


class RateLimiter:
    """A token bucket per access token: ``per_minute`` requests a minute, bursts up to that many.

    ``per_minute`` None reads API_RATE_LIMIT_PER_MINUTE from the settings at each request (so building the app
    never needs valid settings: /health must still answer 503 when they do not validate).
    """

    def __init__(self, per_minute: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # token id -> (allowance left, when)
        self._lock = threading.Lock()

    def take(self, key: str, per_minute: float) -> float:
        """Spend one of ``key``'s ``per_minute`` requests; 0 when allowed, else the seconds until one is."""
        if per_minute <= 0:
            return 0.0
        rate = per_minute / 60.0
        now = self.clock()
        with self._lock:
            left, then = self._buckets.get(key, (per_minute, now))
            left = min(per_minute, left + (now - then) * rate)
            if left < 1.0:
                self._buckets[key] = (left, now)
                return (1.0 - left) / rate
            self._buckets[key] = (left - 1.0, now)
            return 0.0


async def runtime() -> Runtime:
    """The process's services (a dependency, so tests may install their own; async: a plain function would be
    run on a worker thread, one more hand-over per request)."""
    return get_runtime()


Services = Annotated[Runtime, Depends(runtime)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def token_with(scope: str) -> Callable[..., AccessToken]:
    """A dependency: the request's bearer token, active, carrying ``scope`` and within its rate limit."""

    def check(request: Request, credentials: Credentials, services: Services) -> AccessToken:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise ApiError(401, "unauthorized", f"send 'Authorization: Bearer <token>' with a token carrying the "
                                                f"{scope} scope ({SCOPE_HELP[scope]}); an admin issues one in "
                                                f"Settings or with nexus tokens create",
                           {"WWW-Authenticate": "Bearer"})
        token = services.tokens.authenticate(credentials.credentials)  # InvalidToken → 401
        limiter: RateLimiter = request.app.state.limiter
        per_minute = services.settings.api_rate_limit_per_minute if limiter.per_minute is None else limiter.per_minute
        wait = limiter.take(token.id, per_minute)
        if wait:
            raise ApiError(429, "rate_limited", f"token {token.id} made more than {per_minute:g} requests a "
                                                f"minute; retry in {math.ceil(wait)} s",
                           {"Retry-After": str(math.ceil(wait))})
        token.require_scope(scope)  # PermissionDenied → 403
        return token

    return check
