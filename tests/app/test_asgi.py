"""GET /health and the security headers, served by the same Starlette pieces that app/main.py hands to st.App."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app.asgi import MIDDLEWARE, ROUTES, SECURITY_HEADERS
from services.core.errors import ConfigError


def page(_request) -> PlainTextResponse:
    return PlainTextResponse("page")


def framed_page(_request) -> PlainTextResponse:
    return PlainTextResponse("page", headers={"X-Frame-Options": "SAMEORIGIN"})


@pytest.fixture
def client() -> TestClient:
    """The console's extra routes and middleware around two stand-ins for Streamlit's own routes."""
    routes = [*ROUTES, Route("/page", page), Route("/component/chart/index.html", page), Route("/framed", framed_page)]
    return TestClient(Starlette(routes=routes, middleware=MIDDLEWARE))


def test_health_is_200_with_every_check_while_the_stores_answer(runtime, client):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("ok", "degraded") and body["required"] == ["blob", "database"]
    assert {c["name"]: c["ok"] for c in body["checks"]}["blob"] is True
    assert response.headers["cache-control"] == "no-store"
    assert client.head("/health").status_code == 200


def test_health_is_503_when_the_blob_store_is_unusable(make_runtime, tmp_path, client):
    home = tmp_path / "home"
    home.mkdir()
    (home / "blob").write_text("a file where the blob folder should be")  # not writable, even for root
    make_runtime(nexus_home=home)

    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    blob = next(c for c in body["checks"] if c["name"] == "blob")
    assert body["status"] == "down" and blob["ok"] is False and blob["state"] == "down"
    assert "is not writable" in blob["detail"]
    assert next(c for c in body["checks"] if c["name"] == "database")["ok"] is True


def test_in_production_the_public_route_tells_states_without_details(make_runtime, client):
    make_runtime(app_env="production")
    checks = client.get("/health").json()["checks"]
    assert all("detail" not in check and check["state"] for check in checks)


def test_health_is_503_when_the_settings_do_not_validate(client, monkeypatch):
    def invalid():
        raise ConfigError("Invalid configuration: EXECUTION_VENUE=live-engine needs LIVE_ENGINE_URL")

    monkeypatch.setattr("api.health.get_runtime", invalid)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "down",
                               "error": "Invalid configuration: EXECUTION_VENUE=live-engine needs LIVE_ENGINE_URL"}


def test_every_response_carries_the_security_headers(runtime, client):
    for path in ("/health", "/page"):
        headers = client.get(path).headers
        for name, value in SECURITY_HEADERS.items():
            assert headers[name] == value, (path, name)


def test_framing_is_same_origin_only_for_components_and_a_route_own_header_wins(client):
    assert client.get("/component/chart/index.html").headers["x-frame-options"] == "SAMEORIGIN"
    framed = client.get("/framed").headers
    assert framed.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_a_cold_start_says_starting_while_the_first_migrations_run_then_serves(make_runtime, client, monkeypatch):
    import threading

    import services.runtime

    release = threading.Event()
    migrate = services.runtime.ensure_schema

    def slow_migrations(engine):
        release.wait(30)
        migrate(engine)

    monkeypatch.setattr(services.runtime, "ensure_schema", slow_migrations)
    make_runtime()
    response = client.get("/health")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json() == {"status": "starting", "service": "trade-nexus-console",
                               "detail": "migrating the records database; not an outage"}
    release.set()
    for _ in range(100):
        response = client.get("/health")
        if response.status_code == 200:
            break
        threading.Event().wait(0.1)
    assert response.status_code == 200 and response.json()["status"] in ("ok", "degraded")


def test_the_server_start_freezes_what_it_loaded_so_full_collections_skip_it(monkeypatch):
    import gc

    from app import asgi

    monkeypatch.setattr(asgi.WARMUP, "begin", lambda _runtime: None)
    monkeypatch.setattr(asgi, "get_runtime", lambda: None)
    gc.unfreeze()
    try:
        asgi.warm_up()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
