"""The Lona client over real HTTP against the fake gateway: auth, registration, pages, uploads, backtests, errors."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import date

import pandas as pd
import pytest
from pydantic import SecretStr

from services.core.errors import BadInput
from services.core.http_retry import RetryPolicy
from services.market_data import ohlcv
from services.strategies.lona.client import LonaClient, unique_strategy_name
from services.strategies.lona.errors import (
    BacktestFailed,
    BacktestTimedOut,
    LonaAuthError,
    LonaError,
    LonaNotConfigured,
    LonaNotFound,
    LonaUnavailable,
)
from tests.fakes.lona_gateway import AGENT_ID, API, SECRET, TOKEN, FakeLonaGateway

FAST = RetryPolicy(attempts=2, base_delay_s=0.0)
CODE = "import backtrader as bt\n\n\nclass Cross(bt.Strategy):\n    pass\n"


def make_client(url: str, token: str | None = TOKEN, secret: str | None = None, **options) -> LonaClient:
    options.setdefault("sleep", lambda _s: None)
    return LonaClient(url, AGENT_ID, SecretStr(token) if token else None,
                      registration_secret=SecretStr(secret) if secret else None, retry=FAST, **options)


@pytest.fixture
def lona_gateway():
    with FakeLonaGateway() as fake:
        yield fake


@pytest.fixture
def client(lona_gateway):
    with make_client(lona_gateway.url) as lona:
        yield lona


def candles(rows: int = 6) -> pd.DataFrame:
    ts = 1_704_067_200_000 + 3_600_000 * pd.RangeIndex(rows).to_numpy()
    close = 100.0 + pd.RangeIndex(rows).to_numpy()
    return pd.DataFrame({"timestamp": ts, "open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": 10.0})


def started_backtest(lona_gateway: FakeLonaGateway, client: LonaClient, outcome: str = "COMPLETED") -> str:
    lona_gateway.outcome = outcome
    strategy_id = client.upload_strategy("Cross", CODE)
    symbol = client.upload_symbol("BTCUSDT_1h_20240101_20240101", ohlcv.to_lona_upload_csv(candles()),
                                  {"frequency": "1h"})
    return client.run_backtest(strategy_id, [symbol.id], date(2024, 1, 1), date(2024, 2, 1))


# --- auth and registration -------------------------------------------------------------------------------
def test_every_authenticated_call_sends_the_api_key_and_user_id(lona_gateway, client):
    report_id = started_backtest(lona_gateway, client)
    client.wait_for_report(report_id, interval_s=0.001)
    client.full_report(report_id)
    strategy = client.list_strategies().items[0]
    client.get_strategy(strategy.id)
    client.get_strategy_code(strategy.id)
    client.create_strategy("buy the dip when RSI is below 30")
    symbol = client.list_symbols().items[0]
    client.list_symbols(is_global=True)
    client.delete_symbol(symbol.id)
    assert len(lona_gateway.requests) >= 14
    for request in lona_gateway.requests:
        assert request.headers["x-api-key"] == TOKEN, request.path
        assert request.headers["x-user-id"] == AGENT_ID, request.path
        assert "authorization" not in request.headers


def test_secret_registration_sends_the_secret_header_only_and_keeps_the_token(lona_gateway):
    with make_client(lona_gateway.url, token=None, secret=SECRET, token_ttl_days=7) as lona:
        registration = lona.register()
        (call,) = lona_gateway.calls("POST", f"{API}/agents/register")
        assert call.headers["x-agent-registration-secret"] == SECRET
        assert "x-api-key" not in call.headers
        assert call.json() == {"agent_id": AGENT_ID, "agent_name": "Trade Nexus Orchestrator",
                               "source": "trade-nexus", "expires_in_days": 7}
        assert not lona_gateway.calls("POST", f"{API}/agents/request-invite")
        assert lona.token == registration.token
        assert registration.expires_at == "2031-01-31T00:00:00Z"
        assert "strategies" in registration.permissions
        lona.list_strategies()  # the new token works
        assert lona_gateway.calls("GET")[-1].headers["x-api-key"] == registration.token.get_secret_value()


def test_invite_registration_requests_a_code_and_never_sends_the_secret(lona_gateway):
    with make_client(lona_gateway.url, token=None) as lona:
        registration = lona.register()
        invite, register = lona_gateway.calls("POST", f"{API}/agents/")
        assert invite.path.endswith("/request-invite") and register.path.endswith("/register")
        assert register.json()["invite_code"].startswith("INV-")
        assert register.json()["expires_in_days"] == 30
        for call in (invite, register):
            assert "x-agent-registration-secret" not in call.headers
            assert "x-api-key" not in call.headers
        assert lona.token == registration.token


def test_a_given_invite_code_skips_the_request_and_the_secret(lona_gateway):
    lona_gateway.invites.add("INV-given")
    with make_client(lona_gateway.url, token=None, secret=SECRET) as lona:
        lona.register(invite_code="INV-given")
    (call,) = lona_gateway.calls("POST", f"{API}/agents/")
    assert call.json()["invite_code"] == "INV-given"
    assert "x-agent-registration-secret" not in call.headers


def test_a_wrong_registration_secret_is_refused_without_echoing_it(lona_gateway):
    lona = make_client(lona_gateway.url, token=None, secret="not-the-secret")
    with lona, pytest.raises(LonaAuthError) as info:
        lona.register()
    assert info.value.status_code == 403
    assert "not-the-secret" not in str(info.value)


def test_a_call_without_a_token_says_how_to_get_one(lona_gateway):
    with make_client(lona_gateway.url, token=None) as lona, pytest.raises(LonaNotConfigured, match="LONA_AGENT_TOKEN"):
        lona.list_strategies()
    assert not lona_gateway.requests


def test_401_says_the_token_expired_and_how_to_renew_it(lona_gateway):
    with make_client(lona_gateway.url, token="lona-tok-expired-123") as lona, pytest.raises(LonaAuthError) as info:
        lona.list_strategies()
    message = str(info.value)
    assert info.value.status_code == 401 and info.value.exit_code == 2
    assert "Lona API error 401: Invalid or expired API key" in message
    assert "expired" in message and "nexus lona register" in message and "LONA_AGENT_TOKEN" in message
    assert "lona-tok-expired-123" not in message


# --- strategies ------------------------------------------------------------------------------------------
def test_create_strategy_returns_the_generated_code(lona_gateway, client):
    made = client.create_strategy("  buy   when the 20-day SMA crosses above the 50-day SMA ", name="SMA cross",
                                  model="grok-4")
    (call,) = lona_gateway.calls("POST", f"{API}/agent/strategy/create")
    assert call.json() == {"description": "buy when the 20-day SMA crosses above the 50-day SMA",
                           "name": "SMA cross", "provider": "xai", "model": "grok-4"}
    assert made.strategy_id in lona_gateway.strategies and made.name == "SMA cross"
    assert "bt.Strategy" in made.code and made.explanation


def test_create_strategy_retries_once_under_a_unique_name_when_the_name_exists(lona_gateway, client):
    client.create_strategy("buy when the 20-day SMA crosses above", name="SMA cross")
    made = client.create_strategy("buy when the 20-day SMA crosses above", name="SMA cross")
    first, retry = lona_gateway.calls("POST", f"{API}/agent/strategy/create")[1:]
    assert first.json()["name"] == "SMA cross"
    assert re.fullmatch(r"SMA cross-\d{10}", retry.json()["name"])
    assert made.name == retry.json()["name"]


def test_create_strategy_retries_only_once(lona_gateway, client):
    lona_gateway.fail("POST", f"{API}/agent/strategy/create", 400, "Strategy: resource already exists", times=5)
    with pytest.raises(LonaError, match="resource already exists") as info:
        client.create_strategy("a description long enough")
    assert info.value.status_code == 400
    assert len(lona_gateway.calls("POST", f"{API}/agent/strategy/create")) == 2


def test_create_strategy_does_not_retry_other_conflicts(lona_gateway, client):
    lona_gateway.fail("POST", f"{API}/agent/strategy/create", 409, "quota of strategies reached")
    with pytest.raises(LonaError, match="409: quota of strategies reached"):
        client.create_strategy("a description long enough")
    assert len(lona_gateway.calls("POST", f"{API}/agent/strategy/create")) == 1


def test_unique_name_uses_the_first_six_words_cut_to_64():
    name = unique_strategy_name("Buy  the\n dip when RSI is below thirty and sell above seventy")
    assert re.fullmatch(r"Buy the dip when RSI is-\d{10}", name)
    assert len(unique_strategy_name("x", "y" * 100)) == 64 + 11


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.create_strategy("too short"), "at least 10 characters"),
        (lambda c: c.create_strategy("a description long enough", provider="acme"), "provider 'acme'"),
        (lambda c: c.upload_strategy("broken", "def x(:\n"), "broken line 1"),
        (lambda c: c.upload_strategy("empty", "  \n"), "empty is empty"),
        (lambda c: c.run_backtest("s", [], date(2024, 1, 1), date(2024, 2, 1)), "at least one symbol"),
        (lambda c: c.run_backtest("s", ["x"], date(2024, 2, 1), date(2024, 1, 1)), "must be before"),
        (lambda c: c.run_backtest("s", ["x"], date(2024, 1, 1), date(2024, 2, 1), initial_cash=0), "cash"),
        (lambda c: c.run_backtest("s", ["x"], date(2024, 1, 1), date(2024, 2, 1), commission=1.5), "commission"),
    ],
)
def test_bad_input_is_refused_before_any_request(lona_gateway, client, call, message):
    with pytest.raises(BadInput, match=message):
        call(client)
    assert not lona_gateway.requests


def test_upload_list_get_and_code_of_strategies(lona_gateway, client):
    strategy_id = client.upload_strategy("Cross", CODE, description="a cross")
    assert lona_gateway.calls("POST", f"{API}/strategies")[0].json() == {
        "name": "Cross", "code": CODE, "version": "1.0.0", "language": "python", "description": "a cross"}
    listed = client.list_strategies()
    assert [s.id for s in listed.items] == [strategy_id] and listed.items[0].code is None
    fetched = client.get_strategy(strategy_id)
    assert fetched.code == CODE and fetched.description == "a cross" and fetched.language == "python"
    assert client.get_strategy_code(strategy_id) == CODE


def test_strategy_pages_follow_skip_and_limit(lona_gateway, client):
    for n in range(120):
        lona_gateway._new_strategy(f"s{n:03d}", CODE, "")
    first = client.list_strategies()
    assert (len(first.items), first.has_next, first.total) == (50, True, 120)
    last = client.list_strategies(skip=100, limit=50)
    assert [s.name for s in last.items][:2] == ["s100", "s101"] and len(last.items) == 20 and not last.has_next
    assert lona_gateway.calls("GET", f"{API}/strategies")[-1].query == {"skip": "100", "limit": "50"}


# --- symbols ---------------------------------------------------------------------------------------------
def test_find_symbol_walks_pages_of_50(lona_gateway, client):
    for n in range(120):
        lona_gateway.symbols[f"id-{n}"] = lona_gateway._symbol_object(f"id-{n}", f"SYM{n}_1h", False, "1h")
    assert client.find_symbol("SYM110_1h").id == "id-110"
    assert [r.query["skip"] for r in lona_gateway.calls("GET", f"{API}/symbols")] == ["0", "50", "100"]
    assert {r.query["limit"] for r in lona_gateway.calls("GET", f"{API}/symbols")} == {"50"}
    assert client.find_symbol("NOPE") is None
    assert len(lona_gateway.calls("GET", f"{API}/symbols")) == 6


def test_find_global_symbol_asks_for_global_symbols(lona_gateway, client):
    assert client.find_symbol("EURUSD", is_global=True).is_global
    assert lona_gateway.calls("GET", f"{API}/symbols")[-1].query["is_global"] == "true"
    assert client.find_symbol("EURUSD") is None


def test_upload_symbol_is_multipart_with_a_json_metadata_string_and_lona_timestamps(lona_gateway, client):
    csv = ohlcv.to_lona_upload_csv(candles(3))
    metadata = {"data_type": "ohlcv", "exchange": "BINANCE", "frequency": "1h", "timezone": "UTC"}
    symbol = client.upload_symbol("BTCUSDT_1h_20240101_20240101", csv, metadata)
    (upload,) = lona_gateway.uploads
    assert (upload.filename, upload.content_type) == ("data.csv", "text/csv")
    assert upload.metadata == {**metadata, "name": "BTCUSDT_1h_20240101_20240101"}
    assert [r["timestamp"] for r in upload.rows] == ["2024-01-01 00:00:00", "2024-01-01 01:00:00",
                                                     "2024-01-01 02:00:00"]
    (post,) = lona_gateway.calls("POST", f"{API}/symbols")
    assert post.headers["content-type"].startswith("multipart/form-data")
    assert lona_gateway.requests[-1].method == "GET" and lona_gateway.requests[-1].path == f"{API}/symbols/{symbol.id}"
    assert (symbol.name, symbol.frequencies, symbol.start_timestamp) == (upload.name, ["1h"], "2024-01-01 00:00:00")


def test_an_upload_the_gateway_refuses_says_why(lona_gateway, client):
    with pytest.raises(LonaError, match="400: row 1: timestamp must be YYYY-MM-DD HH:MM:SS") as info:
        client.upload_symbol("X", ohlcv.to_csv_bytes(candles(2)), {"frequency": "1h"})
    assert info.value.exit_code == 2


def test_delete_symbol_accepts_an_empty_answer(lona_gateway, client):
    symbol = client.upload_symbol("X_1h", ohlcv.to_lona_upload_csv(candles(2)), {"frequency": "1h"})
    client.delete_symbol(symbol.id)
    assert symbol.id not in lona_gateway.symbols
    with pytest.raises(LonaNotFound) as info:
        client.get_symbol(symbol.id)
    assert info.value.status_code == 404
    assert "Lona data and symbol ids belong to the Lona user" in str(info.value)  # the ownership hint


# --- backtests -------------------------------------------------------------------------------------------
def test_backtest_runs_pending_executing_completed(lona_gateway, client):
    report_id = started_backtest(lona_gateway, client)
    (run,) = lona_gateway.calls("POST", f"{API}/runner/run")
    assert run.json()["simulation_parameters"] == {
        "initial_cash": 100000.0, "commission_schema": {"commission": 0.001, "leverage": 1.0}, "buy_on_close": True}
    assert (run.json()["start_date"], run.json()["end_date"]) == ("2024-01-01", "2024-02-01")
    assert "parameters" not in run.json()
    seen = []
    report = client.wait_for_report(report_id, interval_s=0.001, on_status=seen.append)
    assert [s.status for s in seen] == ["PENDING", "EXECUTING", "COMPLETED"]
    assert [s.progress for s in seen] == [None, 0.5, 1.0]
    assert report.status == "COMPLETED" and report.total_stats["sharpe_ratio"] == 1.41
    full = client.full_report(report_id)
    assert len(full["backtest_timeline"]) == 5 and len(full["trades"]) == 3


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("TIMEOUT_ERROR", "Runner timed out after 600 seconds"),
        ("DATA_ERROR", "Lona data and symbol ids belong to the Lona user"),
        ("CODE_ERROR", "stderr: Traceback (most recent call last)"),
        ("EXECUTION_ERROR", "Broker rejected order | order value 250000.00 exceeds available cash"),
    ],
)
def test_a_failed_backtest_is_classified(lona_gateway, client, category, expected):
    report_id = started_backtest(lona_gateway, client, outcome=category)
    seen = []
    with pytest.raises(BacktestFailed) as info:
        client.wait_for_report(report_id, interval_s=0.001, on_status=seen.append)
    failure = info.value
    assert seen[-1].status == "FAILED"
    assert failure.category == category and failure.report_id == report_id
    assert str(failure).startswith(f"Backtest report {report_id} failed [{category}]: ")
    assert expected in str(failure)
    assert failure.exit_code == 1


def test_a_code_error_carries_the_stderr_snippet(lona_gateway, client):
    report_id = started_backtest(lona_gateway, client, outcome="CODE_ERROR")
    with pytest.raises(BacktestFailed) as info:
        client.wait_for_report(report_id, interval_s=0.001)
    assert info.value.stderr.endswith("NameError: name 'sma' is not defined")
    assert "\nstderr: Traceback (most recent call last)" in str(info.value)


def test_a_failed_backtest_is_still_classified_when_the_full_report_fails(lona_gateway, client):
    report_id = started_backtest(lona_gateway, client, outcome="TIMEOUT_ERROR")
    lona_gateway.fail("GET", f"{API}/reports/{report_id}/full", 404, "gone")
    with pytest.raises(BacktestFailed) as info:
        client.wait_for_report(report_id, interval_s=0.001)
    assert info.value.category == "TIMEOUT_ERROR" and not info.value.stderr


def test_polling_times_out(lona_gateway, client):
    report_id = started_backtest(lona_gateway, client, outcome="HANG")
    with make_client(lona_gateway.url, sleep=time.sleep) as lona, pytest.raises(BacktestTimedOut) as info:
        lona.wait_for_report(report_id, interval_s=0.01, timeout_s=0.05)
    assert str(info.value).startswith(f"Timed out waiting for report {report_id} after 0.05s (last status ")
    assert 2 <= len(lona_gateway.calls("GET", f"{API}/reports/{report_id}/status")) <= 7


def test_a_backtest_on_an_unknown_symbol_gets_the_ownership_hint(lona_gateway, client):
    strategy_id = client.upload_strategy("Cross", CODE)
    with pytest.raises(LonaNotFound) as info:
        client.run_backtest(strategy_id, ["sym-from-elsewhere"], date(2024, 1, 1), date(2024, 2, 1))
    assert "404: Symbol sym-from-elsewhere not found" in str(info.value)
    assert "nexus lona publish" in info.value.hint


# --- failures of the lona_gateway -----------------------------------------------------------------------------
def test_404_names_what_was_missing(client):
    with pytest.raises(LonaNotFound, match="Lona API error 404: Strategy nope not found") as info:
        client.get_strategy("nope")
    assert info.value.exit_code == 2 and not info.value.hint


def test_409_is_a_clear_conflict(lona_gateway, client):
    client.upload_strategy("Cross", CODE)
    with pytest.raises(LonaError, match="409: Strategy 'Cross': resource already exists") as info:
        client.upload_strategy("Cross", CODE)
    assert info.value.status_code == 409


def test_500_is_retried_then_reported_with_the_gateway_message(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 500, "database unavailable", times=2)
    with pytest.raises(LonaUnavailable) as info:
        client.list_strategies()
    assert "Lona API error 500: database unavailable" in str(info.value)
    assert "after 2 attempts" in str(info.value)
    assert info.value.status_code == 500 and info.value.exit_code == 1
    assert len(lona_gateway.calls("GET", f"{API}/strategies")) == 2


def test_a_read_recovers_after_one_500(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 503, "restarting")
    assert client.list_strategies().items == []


def test_a_create_is_never_sent_twice(lona_gateway, client):
    lona_gateway.fail("POST", f"{API}/strategies", 500, "lost")
    with pytest.raises(LonaUnavailable, match="500: lost"):
        client.upload_strategy("Cross", CODE)
    assert len(lona_gateway.calls("POST", f"{API}/strategies")) == 1


def test_a_body_that_is_not_json_is_a_clear_error(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 200, body="<html><body>Welcome to nginx</body></html>",
                 content_type="text/html")
    with pytest.raises(LonaUnavailable) as info:
        client.list_strategies()
    assert "not JSON" in str(info.value) and "Welcome to nginx" in str(info.value)
    assert "LONA_GATEWAY_URL" in str(info.value)


def test_an_error_that_is_not_json_keeps_its_text(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 502, body="Bad Gateway from proxy", content_type="text/plain",
                      times=2)
    with pytest.raises(LonaUnavailable, match="502: Bad Gateway from proxy"):
        client.list_strategies()


def test_fastapi_detail_is_read_when_there_is_no_error_envelope(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 422, body={"detail": [{"loc": ["query", "limit"], "msg": "too big"}]})
    with pytest.raises(LonaError, match=r"422: .*too big"):
        client.list_strategies()


def test_a_bare_body_without_the_envelope_is_accepted(lona_gateway, client):
    lona_gateway.fail("GET", f"{API}/strategies", 200, body={"items": [{"id": "a", "name": "A"}], "has_next": False})
    assert client.list_strategies().items[0].name == "A"


def test_an_unreachable_gateway_is_a_clear_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with make_client(f"http://127.0.0.1:{port}") as lona, pytest.raises(LonaUnavailable) as info:
        lona.list_strategies()
    assert "could not connect" in str(info.value) and "LONA_GATEWAY_URL" in str(info.value)
    assert info.value.status_code is None


def test_a_slow_gateway_times_out(lona_gateway):
    lona_gateway.fail("GET", f"{API}/strategies", 200, body={"data": []}, delay_s=1.0, times=2)
    with make_client(lona_gateway.url, timeout_s=0.1) as lona, pytest.raises(LonaUnavailable, match="timed out"):
        lona.list_strategies()


def test_secrets_never_appear_in_errors(lona_gateway):
    echo = f"key {TOKEN} with secret {SECRET} refused"
    with make_client(lona_gateway.url, secret=SECRET) as lona:
        for status in (400, 401, 404, 409, 500):
            lona_gateway.fail("GET", f"{API}/strategies", status, echo, times=2)
            with pytest.raises(LonaError) as info:
                lona.list_strategies()
            text = f"{info.value} {info.value.detail} {info.value!r}"
            assert TOKEN not in text and SECRET not in text and "***" in text
        lona_gateway.fail("GET", f"{API}/strategies", 200, body=f"<p>{TOKEN}</p>", content_type="text/html")
        with pytest.raises(LonaError) as info:
            lona.list_strategies()
        assert TOKEN not in str(info.value)
    assert TOKEN not in repr(make_client(lona_gateway.url).token)


def test_metadata_is_sent_as_json_text(lona_gateway, client):
    client.upload_symbol("X_1h", ohlcv.to_lona_upload_csv(candles(2)), {"description": "ünïcode"})
    (post,) = lona_gateway.calls("POST", f"{API}/symbols")
    assert b'name="metadata"' in post.body
    assert json.loads(json.dumps(lona_gateway.uploads[0].metadata))["description"] == "ünïcode"


def test_ids_are_sent_as_one_path_segment(lona_gateway, client):
    with pytest.raises(LonaNotFound):
        client.get_strategy("../symbols")
    assert lona_gateway.requests[-1].path == f"{API}/strategies/..%2Fsymbols"
    with pytest.raises(BadInput, match="a report id is needed"):
        client.report(" ")
