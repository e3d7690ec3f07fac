"""The one HTTP retry policy: bounded retries on 429 (honouring Retry-After), 5xx and timeouts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from services.core.errors import ServiceUnavailable

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a request that failed for a transient reason."""

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; a server's Retry-After (seconds) wins."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay_s)
            except ValueError:
                pass
        backoff = self.base_delay_s * (2**attempt)
        return min(backoff * (0.5 + random.random() / 2), self.max_delay_s)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class Transient:
    """A failure worth retrying: what went wrong, the server's Retry-After (if any) and HTTP status (if any)."""

    problem: str
    retry_after: str | None = None
    status_code: int | None = None


def call_with_retry(
    call: Callable[[], T],
    transient: Callable[[Exception], Transient | None],
    *,
    service: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call`` until it succeeds, raises a non-transient error, or the attempts run out.

    ``transient`` says whether an exception is worth retrying (None: re-raise it at once); that is how
    clients we do not drive with httpx (ccxt, alpaca-py) share this policy. Raises ServiceUnavailable,
    naming ``service`` and the last problem, when every attempt failed transiently; its ``status_code``
    is that of the last attempt's answer (None when the last attempt got none).
    """
    failure = Transient("")
    for attempt in range(policy.attempts):
        try:
            return call()
        except Exception as error:
            failure = transient(error)
            if failure is None:
                raise
        if attempt + 1 < policy.attempts:
            sleep(policy.delay(attempt, failure.retry_after))
    tries = f"{policy.attempts} attempt{'s' if policy.attempts != 1 else ''}"
    raise ServiceUnavailable(f"{service} {failure.problem} after {tries}", status_code=failure.status_code)


class _RetryableResponse(Exception):
    def __init__(self, response: httpx.Response):
        self.response = response


def _httpx_transient(error: Exception) -> Transient | None:
    if isinstance(error, httpx.TimeoutException):
        return Transient("timed out")
    if isinstance(error, httpx.TransportError):
        return Transient(f"could not connect ({type(error).__name__})")
    if isinstance(error, _RetryableResponse):
        status = error.response.status_code
        return Transient(f"answered HTTP {status}", error.response.headers.get("Retry-After"), status)
    return None


def send_with_retry(
    send: Callable[[], httpx.Response],
    *,
    service: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """Call ``send`` until it returns a non-retryable response or the attempts run out.

    Returns the last response (which may be a 4xx for the caller to map). Raises ServiceUnavailable,
    naming ``service``, when every attempt timed out, could not connect or got a retryable status; its
    ``status_code`` is that of the last attempt's answer (None when the last attempt got none).
    """

    def attempt() -> httpx.Response:
        response = send()
        if response.status_code in RETRYABLE_STATUS:
            raise _RetryableResponse(response)
        return response

    return call_with_retry(attempt, _httpx_transient, service=service, policy=policy, sleep=sleep)
