"""Health checks: configured or not, up or down against fake servers, bounded in time, cached, never leaking secrets."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from pydantic import SecretStr

from services.core.auth import sign_in_config
from services.core.config import Settings
from services.core.redaction import redactor
from services.jobs.queue import record_worker_beat
from services.ops import health
from services.ops.health import (
    CHECK_TIMEOUT_S,
    HealthMonitor,
    Integration,
    Outcome,
    configuration_view,
)
from tests.fakes.alpaca_trading import KEY_ID, SECRET_KEY, FakeAlpacaTrading
from tests.fakes.live_engine import FakeLiveEngine
from tests.fakes.server import FakeServer, Response
from tests.support.azurite import connection_string, free_port

OPTIONAL = ("live-engine", "alpaca", "binance", "lona", "xai", "langsmith", "auth")


@pytest.fixture
def monitor() -> HealthMonitor:
    """A monitor of its own per test: no cache or 'since' shared with other tests."""
    return HealthMonitor()


@pytest.fixture(autouse=True)
def no_sign_in_files(tmp_path, monkeypatch):
    """The developer's own Streamlit secrets never count (tests that need sign-in write their own)."""
    monkeypatch.setattr("services.core.auth.SIGN_IN_FILES", (tmp_path / "no-secrets.toml",))


@pytest.fixture
def fake() -> FakeServer:
    """A plain fake service answering 200 on every path the checks call."""
    with FakeServer() as server:
        for path in ("/", "/api/v1/strategies", "/models", "/sessions", "/api/v3/ping", "/v2/stocks/bars/latest"):
            server.route("GET", path)(lambda request: Response(200, {}))
        yield server


def test_embedded_defaults_are_up_and_nothing_external_is_configured(runtime, monitor):
    report = monitor.report(runtime, max_age_s=0)

    assert report.serving
    assert [c.name for c in report.checks if c.required] == ["blob", "database"]
    assert report.check("blob").ok and "local folder" in report.check("blob").detail
    assert report.check("database").ok and report.check("database").detail.startswith("SQLite ")
    for name in OPTIONAL:
        check = report.check(name)
        assert (check.configured, check.ok, check.state) == (False, None, "not configured"), name
    assert "not checked" in report.check("binance").detail
    assert report.check("auth").detail == "local mode: one operator, no sign-in"


def test_queue_is_up_once_a_worker_reported(runtime, monitor):
    silent = monitor.report(runtime, max_age_s=0).check("queue")
    assert silent.ok is False and "no worker has reported yet" in silent.detail

    record_worker_beat(runtime.queue)
    alive = monitor.report(runtime, max_age_s=0)

    assert alive.check("queue").ok and "a worker reported 0 s ago" in alive.check("queue").detail
    assert alive.status == "ok"


def test_not_configured_checks_send_no_request(runtime, monitor, monkeypatch):
    def no_network(*_args, **_kwargs):
        raise AssertionError("a check that is not configured sent a request")

    monkeypatch.setattr(httpx.Client, "send", no_network)
    report = monitor.report(runtime, max_age_s=0)
    assert all(report.check(name).ok is None for name in OPTIONAL)


def test_live_engine_is_up_on_any_answer_below_500(make_runtime, monitor):
    with FakeLiveEngine() as engine:
        runtime = make_runtime(live_engine_url=engine.url)
        up = monitor.report(runtime, max_age_s=0).check("live-engine")
        engine.fail_next(status=502)
        down = monitor.report(runtime, max_age_s=0).check("live-engine")

    assert up.ok and up.detail == f"{engine.url}: HTTP 401 (credentials refused)"  # a plain GET, as upstream
    assert down.ok is False and down.detail == f"{engine.url}: HTTP 502"
    assert engine.calls("GET", "/")


def test_alpaca_checks_the_keys_on_trading_and_the_data_api(make_runtime, monitor, fake):
    with FakeAlpacaTrading() as trading:
        good = make_runtime(alpaca_api_key=KEY_ID, alpaca_api_secret=SECRET_KEY, alpaca_base_url=trading.url,
                            alpaca_data_url=fake.url)
        up = monitor.report(good, max_age_s=0).check("alpaca")
        wrong = make_runtime(alpaca_api_key=KEY_ID, alpaca_api_secret="not-the-secret", alpaca_base_url=trading.url,
                             alpaca_data_url=fake.url)
        down = monitor.report(wrong, max_age_s=0).check("alpaca")

    assert up.ok and "/v2/account: HTTP 200" in up.detail and "/v2/stocks/bars/latest: HTTP 200" in up.detail
    assert down.ok is False and "/v2/account: HTTP 401 (credentials refused)" in down.detail
    data = fake.calls("GET", "/v2/stocks/bars/latest")[0]
    assert data.headers["apca-api-key-id"] == KEY_ID and data.query == {"symbols": "AAPL", "feed": "iex"}


@pytest.mark.parametrize("suffix", ["", "/api/v3"])
def test_binance_is_pinged_only_at_a_configured_base(make_runtime, monitor, fake, suffix):
    check = monitor.report(make_runtime(binance_api_url=fake.url + suffix), max_age_s=0).check("binance")
    assert check.ok and check.detail == f"{fake.url}/api/v3/ping: HTTP 200"


@pytest.mark.parametrize(
    ("name", "settings", "path", "header", "value"),
    [
        ("lona", {"lona_agent_token": "lona-token-123"}, "/api/v1/strategies", "x-api-key", "lona-token-123"),
        ("xai", {"xai_api_key": "xai-key-123"}, "/models", "authorization", "Bearer xai-key-123"),
        ("langsmith", {"langsmith_api_key": "ls-key-123"}, "/sessions", "x-api-key", "ls-key-123"),
    ],
)
def test_keyed_services_get_their_credentials_and_refusals_show(make_runtime, monitor, fake, name, settings, path,
                                                                header, value):
    base = {"lona": "lona_gateway_url", "xai": "xai_base_url", "langsmith": "langsmith_endpoint"}[name]
    runtime = make_runtime(**settings, **{base: fake.url})
    up = monitor.report(runtime, max_age_s=0).check(name)
    fake.fail_next(status=401)
    refused = monitor.report(runtime, max_age_s=0).check(name)

    assert up.ok and up.detail == f"{fake.url}{path}: HTTP 200"
    assert refused.ok is False and refused.detail.endswith("HTTP 401 (credentials refused)")
    assert fake.calls("GET", path)[0].headers[header] == value
    if name == "lona":
        assert fake.calls("GET", path)[0].headers["x-user-id"] == "trade-nexus"


def test_a_slow_service_is_down_after_the_timeout(make_runtime, fake):
    fake.slow_next(1, delay_s=3.0)
    runtime = make_runtime(xai_api_key="xai-key-123", xai_base_url=fake.url)
    started = time.monotonic()
    check = HealthMonitor(timeout_s=0.5).report(runtime, max_age_s=0).check("xai")

    assert time.monotonic() - started < 1.5
    assert check.ok is False and check.latency_ms <= 600
    assert "timed out" in check.detail or "no answer within 0.5 s" in check.detail


def test_unreachable_required_stores_are_reported_within_the_bound(make_runtime):
    assert CHECK_TIMEOUT_S <= 2.0
    closed = free_port()
    runtime = make_runtime(azure_storage_connection_string=connection_string(closed),
                           database_url=f"postgresql://nexus:pw-for-test@127.0.0.1:{free_port()}/records")
    started = time.monotonic()
    report = HealthMonitor().report(runtime, max_age_s=0)

    assert time.monotonic() - started < CHECK_TIMEOUT_S + 1.0
    assert not report.serving and report.status == "down"
    assert report.check("blob").ok is False and report.check("database").ok is False
    assert report.check("database").detail.startswith("PostgreSQL 127.0.0.1:")
    assert "pw-for-test" not in json.dumps(report.as_dict())


def test_a_hung_check_is_not_started_again_until_it_returns(runtime):
    release, calls = threading.Event(), []

    def hangs(_runtime, _timeout_s) -> Outcome:
        calls.append(1)
        release.wait(10)
        return Outcome(True, True, "answered at last")

    monitor = HealthMonitor([Integration("slow", "Slow", hangs)], timeout_s=0.2)
    first = monitor.report(runtime, max_age_s=0).check("slow")
    second = monitor.report(runtime, max_age_s=0).check("slow")
    release.set()
    deadline = time.monotonic() + 5
    while monitor.report(runtime, max_age_s=0).check("slow").ok is not True and time.monotonic() < deadline:
        time.sleep(0.05)

    assert first.detail == "no answer within 0.2 s" and first.ok is False
    assert second.detail.startswith("the previous check has had no answer for") and second.latency_ms is None
    assert len(calls) == 2  # the hung probe, then one more only after it returned


def test_a_failing_probe_still_gives_a_line(runtime):
    def breaks(_runtime, _timeout_s) -> Outcome:
        raise RuntimeError("probe bug")

    check = HealthMonitor([Integration("broken", "Broken", breaks)]).report(runtime, max_age_s=0).check("broken")
    assert (check.ok, check.detail) == (False, "RuntimeError: probe bug")


def test_since_is_the_first_time_a_state_was_seen(make_runtime, monitor):
    with FakeLiveEngine() as engine:
        runtime = make_runtime(live_engine_url=engine.url)
        up1 = monitor.report(runtime, max_age_s=0).check("live-engine")
        up2 = monitor.report(runtime, max_age_s=0).check("live-engine")
        engine.fail_next(count=2, status=503)
        down1 = monitor.report(runtime, max_age_s=0).check("live-engine")
        down2 = monitor.report(runtime, max_age_s=0).check("live-engine")

    assert up2.since == up1.since == up1.checked_at < up2.checked_at
    assert down1.since == down2.since == down1.checked_at > up2.checked_at


def test_reports_are_cached_per_runtime(make_runtime, monitor, fake):
    runtime = make_runtime(xai_api_key="xai-key-123", xai_base_url=fake.url)
    first = monitor.report(runtime)
    assert monitor.report(runtime) is first
    assert len(fake.calls("GET", "/models")) == 1
    assert monitor.report(make_runtime(xai_api_key="xai-key-123", xai_base_url=fake.url)) is not first
    assert health.health_report(runtime) is health.health_report(runtime, max_age_s=60)


def _every_secret() -> dict[str, str]:
    return {name: f"dummy-{name.replace('_', '-')}-s3cr3t" for name, field in Settings.model_fields.items()
            if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))}


def test_secrets_never_appear_in_details_or_the_configuration_view(make_runtime, monitor):
    secrets = _every_secret()
    assert {"database_url", "azure_storage_connection_string", "xai_api_key", "alpaca_api_secret"} <= set(secrets)
    port = free_port()
    secrets["database_url"] = f"postgresql://nexus:{secrets['database_url']}@127.0.0.1:{port}/records"
    secrets["azure_storage_connection_string"] = connection_string(port).replace(
        "AccountKey=", f"AccountKey={secrets['azure_storage_connection_string']}")
    secrets["redis_url"] = f"redis://:{secrets['redis_url']}@127.0.0.1:{port}/0"

    class Echo(FakeServer):  # a careless service that echoes the credentials it got in its error body
        def authorize(self, request):
            return Response(401, {"error": f"bad credentials {dict(request.headers)}"})

    with Echo() as echo:
        runtime = make_runtime(**secrets, live_engine_url=echo.url, alpaca_base_url=echo.url,
                               alpaca_data_url=echo.url, lona_gateway_url=echo.url, xai_base_url=echo.url,
                               langsmith_endpoint=echo.url, binance_api_url=echo.url)
        report = monitor.report(runtime, max_age_s=0)
    shown = json.dumps(report.as_dict()) + json.dumps([row.as_dict() for row in configuration_view(runtime.settings)])

    for name in ("xai", "lona", "langsmith", "alpaca"):
        assert report.check(name).ok is False
        assert report.check(name).detail.startswith(f"{echo.url}/"), report.check(name).detail
    for value in _every_secret().values():
        assert value not in shown
    assert "Eby8vdM02xNOcqFl" not in shown  # not even the public emulator key inside the connection string


def test_redactor_blanks_secret_values_and_url_credentials():
    settings = Settings(xai_api_key="xai-key-abcdef", database_url="postgresql://u:db-pass-123@h/d",
                        azure_storage_connection_string=connection_string(10000))
    redact = redactor(settings)
    assert redact("refused xai-key-abcdef for https://bob:hunter22@example.org/x") == (
        "refused *** for https://***@example.org/x")
    assert redact("auth failed for password db-pass-123") == "auth failed for password ***"
    # only the key of a connection string is secret: its protocol, account name and endpoint stay readable
    assert redact("http://127.0.0.1:10000/devstoreaccount1 refused key Eby8vdM02xNOcqFl") == (
        "http://127.0.0.1:10000/devstoreaccount1 refused key Eby8vdM02xNOcqFl")
    assert "Eby8vdM02xNOcqFl" not in redact(connection_string(10000))


def test_configuration_view_lists_every_setting_secrets_only_as_set(make_runtime):
    settings = make_runtime(xai_api_key="xai-key-abcdef", live_engine_url="https://svc:pw@live.example/api?token=t",
                            ohlcv_container="candles").settings
    rows = {row.name: row for row in configuration_view(settings)}

    assert set(rows) == {name.upper() for name in Settings.model_fields}
    assert (rows["XAI_API_KEY"].value, rows["XAI_API_KEY"].secret) == ("set", True)
    assert (rows["LANGSMITH_API_KEY"].value, rows["DATABASE_URL"].value) == ("not set", "not set")
    assert rows["LIVE_ENGINE_URL"].value == "https://live.example/api"
    assert (rows["OHLCV_CONTAINER"].value, rows["OHLCV_CONTAINER"].from_environment) == ("candles", True)
    assert (rows["EXPORTS_CONTAINER"].value, rows["EXPORTS_CONTAINER"].from_environment) == ("exports", False)
    assert rows["LONA_GATEWAY_URL"].value == "https://gateway.lona.agency"
    groups = {row.name: row.integration for row in rows.values()}
    assert groups["AZURE_STORAGE_ACCOUNT_URL"] == groups["OHLCV_CONTAINER"] == "blob"
    assert (groups["DATABASE_URL"], groups["REDIS_URL"], groups["APP_ENV"]) == ("database", "queue", "auth")


SIGN_IN = """
[auth]
redirect_uri = "https://console.example/oauth2callback"
cookie_secret = "cookie-s3cret-value"
[auth.microsoft]
client_id = "client-id-value"
client_secret = "client-s3cret-value"
server_metadata_url = "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration"
"""


def test_sign_in_is_read_by_key_names_only(runtime, monitor, tmp_path, monkeypatch):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(SIGN_IN)
    monkeypatch.setattr("services.core.auth.SIGN_IN_FILES", (tmp_path / "absent.toml", secrets))

    check = monitor.report(runtime, max_age_s=0).check("auth")
    assert (check.configured, check.ok, check.detail) == (True, True, "OIDC sign-in via microsoft")

    secrets.write_text(SIGN_IN.replace('cookie_secret = "cookie-s3cret-value"\n', "").replace(
        'client_secret = "client-s3cret-value"\n', ""))
    incomplete = monitor.report(runtime, max_age_s=0).check("auth")
    assert incomplete.ok is False
    assert incomplete.detail == "sign-in [auth] lacks cookie_secret, microsoft.client_secret"
    assert "s3cret" not in json.dumps(incomplete.as_dict())


def test_sign_in_config_shapes(tmp_path):
    single = tmp_path / "single.toml"
    single.write_text('[auth]\nredirect_uri = "r"\ncookie_secret = "c"\nclient_id = "i"\nclient_secret = "s"\n'
                      'server_metadata_url = "m"\n')
    bare = tmp_path / "bare.toml"
    bare.write_text('[auth]\nredirect_uri = "r"\n')

    assert sign_in_config([single]).providers == ("default",) and not sign_in_config([single]).missing
    assert sign_in_config([bare]).missing == (
        "cookie_secret", "a provider (client_id, client_secret, server_metadata_url)")
    assert sign_in_config([tmp_path / "absent.toml"]) is None


def test_production_without_sign_in_says_it_refuses(make_runtime, monitor):
    check = monitor.report(make_runtime(app_env="production"), max_age_s=0).check("auth")
    assert check.ok is None and "APP_ENV=production refuses to start" in check.detail


def test_production_without_a_shared_queue_is_reported_loudly(make_runtime, monitor):
    runtime = make_runtime(app_env="production")
    record_worker_beat(runtime.queue)  # even with a live worker of its own

    queue = monitor.report(runtime, max_age_s=0).check("queue")

    assert queue.ok is False and queue.detail.startswith("PRODUCTION WITHOUT A SHARED QUEUE")
    assert "REDIS_URL" in queue.detail
    assert not make_runtime(app_env="production", redis_url="redis://127.0.0.1:1/0").settings.queue_is_per_replica
