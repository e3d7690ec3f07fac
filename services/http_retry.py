"""The one HTTP retry policy: bounded retries on 429 (honouring Retry-After), 5xx and timeouts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from services.errors import ServiceUnavailable

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


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
    last_problem = ""
    last_status: int | None = None
    for attempt in range(policy.attempts):
        try:
            response = send()
        except httpx.TimeoutException:
            last_problem, last_status = "timed out", None
            retry_after = None
        except httpx.TransportError as error:
            last_problem, last_status = f"could not connect ({type(error).__name__})", None
            retry_after = None
        else:
            if response.status_code not in RETRYABLE_STATUS:
                return response
            last_problem, last_status = f"answered HTTP {response.status_code}", response.status_code
            retry_after = response.headers.get("Retry-After")
        if attempt + 1 < policy.attempts:
            sleep(policy.delay(attempt, retry_after))
    tries = f"{policy.attempts} attempt{'s' if policy.attempts != 1 else ''}"
    raise ServiceUnavailable(f"{service} {last_problem} after {tries}", status_code=last_status)
