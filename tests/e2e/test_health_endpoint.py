"""The running console answers GET /health (dependencies, security headers) and Streamlit's own health route."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.e2e

CHECK_KEYS = {"name", "title", "required", "configured", "ok", "state", "detail", "latency_ms", "checked_at", "since"}
NAMES = {"blob", "database", "queue", "live-engine", "alpaca", "binance", "lona", "xai", "langsmith", "auth"}


def test_health_lists_every_dependency_with_security_headers(app_url):
    response = httpx.get(f"{app_url}/health", timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    body = response.json()
    assert body["status"] in ("ok", "degraded")
    assert body["required"] == ["blob", "database"]
    assert {check["name"] for check in body["checks"]} == NAMES
    for check in body["checks"]:
        assert set(check) == CHECK_KEYS
    by_name = {check["name"]: check for check in body["checks"]}
    assert by_name["blob"]["ok"] is True and by_name["database"]["ok"] is True
    assert by_name["binance"]["ok"] is None and "not checked" in by_name["binance"]["detail"]


def test_worker_beside_the_app_reports_to_the_queue_check(app_url):
    deadline = time.monotonic() + 30
    while True:
        queue = next(c for c in httpx.get(f"{app_url}/health", timeout=10).json()["checks"] if c["name"] == "queue")
        if queue["ok"] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert queue["ok"] is True, queue["detail"]
    assert "a worker reported" in queue["detail"]


def test_health_is_cached_between_probes(app_url):
    stamps = [httpx.get(f"{app_url}/health", timeout=10).json()["checked_at"] for _ in range(3)]
    # a burst of probes costs one run of the checks: within 5 s at most one refresh, so two stamps agree
    assert stamps[0] == stamps[1] or stamps[1] == stamps[2]


def test_streamlit_health_route_still_answers(app_url):
    response = httpx.get(f"{app_url}/_stcore/health", timeout=10)
    assert response.status_code == 200
    assert response.text == "ok"
    assert httpx.head(f"{app_url}/health", timeout=10).status_code == 200
