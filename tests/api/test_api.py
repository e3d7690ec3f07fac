"""The HTTP API in process (httpx's ASGI transport): auth, errors, data endpoints, proposals, idempotency."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import orjson
import pyarrow as pa
import pytest

from api.app import standalone
from api.data import json_records
from services.core.auth import local_operator
from tests.support.api import ADMIN, DAILY_REF, MINUTE_REF, START_MS, Client, problem

RANGE = {"dataset": str(MINUTE_REF), "start": "2024-01-01", "end": "2024-01-02"}


# --- item 1: the app, docs, errors, auth, rate limit -------------------------------------------------------------
def test_openapi_31_and_offline_docs(client):
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/v1/datasets", "/v1/candles", "/v1/exports", "/v1/proposals", "/v1/orders/{order_id}"} <= set(
        spec["paths"])
    docs = client.get("/api/docs").text
    assert "cdn" not in docs.lower() and "/api/static-offline-docs/swagger-ui-bundle.js" in docs
    assert client.get("/api/static-offline-docs/swagger-ui-bundle.js").status_code == 200


def test_no_anonymous_access_except_health(client):
    assert client.get("/health").status_code == 200
    for method, url in (("GET", "/api/v1/datasets"), ("GET", "/api/v1/candles?dataset=a/B/1d"),
                        ("POST", "/api/v1/proposals"), ("GET", "/api/v1/orders/x"), ("POST", "/api/v1/exports")):
        response = client.request(method, url)
        assert response.status_code == 401 and problem(response)["code"] == "unauthorized"
        assert "Bearer" in response.json()["message"]


def test_unknown_revoked_and_scope_less_tokens(client, api_runtime, tokens):
    assert problem(client.get("/api/v1/datasets", token="tnx_nope_secret"))["code"] == "unauthorized"
    refused = client.get("/api/v1/datasets", token=tokens["proposer"])
    assert refused.status_code == 403 and "data:read" in problem(refused)["message"]
    assert client.get("/api/v1/datasets", token=tokens["none"]).status_code == 403
    reader = api_runtime.tokens.authenticate(tokens["reader"])
    assert client.get("/api/v1/datasets", token=tokens["reader"]).status_code == 200
    api_runtime.tokens.revoke(ADMIN, reader.id, "laptop lost")
    revoked = client.get("/api/v1/datasets", token=tokens["reader"])
    assert revoked.status_code == 401 and "revoked" in problem(revoked)["message"]
    assert tokens["reader"] not in revoked.text


def test_rate_limit_per_token_with_retry_after(api_runtime, tokens):
    limited = Client(standalone(rate_limit_per_minute=3))
    answers = [limited.get("/api/v1/datasets", token=tokens["reader"]) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1 and problem(answers[-1])["code"] == "rate_limited"
    other = api_runtime.tokens.issue(ADMIN, "other@bank.com", scopes=["data:read"])[1]
    assert limited.get("/api/v1/datasets", token=other).status_code == 200  # the limit is per token


def test_unknown_path_and_bad_types_get_the_error_shape(client, tokens):
    assert problem(client.get("/api/v1/nothing", token=tokens["reader"]))["code"] == "not_found"
    bad = client.get("/api/v1/candles", params={**RANGE, "format": "xml"}, token=tokens["reader"])
    assert bad.status_code == 422 and "format" in problem(bad)["message"]


# --- item 2: data ----------------------------------------------------------------------------------------------
def test_catalog_and_dataset_detail(client, tokens):
    catalog = client.get("/api/v1/datasets", token=tokens["reader"]).json()
    minute = next(d for d in catalog if d["dataset"] == str(MINUTE_REF))
    assert minute["rows"] == 3 * 1440 and minute["first_ts"] == START_MS and minute["version"]
    detail = client.get("/api/v1/datasets/binance/BTCUSDT/1m", token=tokens["reader"]).json()
    assert detail["version"] == minute["version"] and detail["partitions"] == ["2024-01"]
    assert detail["quality"]["missing"] == 0 and detail["quality"]["completeness"] == 1.0
    assert client.get("/api/v1/datasets/binance/NOPE/1m", token=tokens["reader"]).status_code == 404
    assert problem(client.get("/api/v1/datasets/binance/BTCUSDT/7m", token=tokens["reader"]))["code"] == "bad_request"


def _cli_show(runtime, *args: str) -> str:
    env = {"NEXUS_HOME": str(runtime.settings.nexus_home), "APP_ENV": "test", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "cli.main", "data", "show", *args], env=env, check=True,
                          capture_output=True, text=True).stdout


def test_candles_equal_nexus_data_show_in_every_format(client, api_runtime, tokens):
    cli_args = [str(MINUTE_REF), "--start", "2024-01-01", "--end", "2024-01-02"]
    csv = client.get("/api/v1/candles", params={**RANGE, "format": "csv"}, token=tokens["reader"])
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text == _cli_show(api_runtime, *cli_args, "--format", "csv")
    answer = client.get("/api/v1/candles", params=RANGE, token=tokens["reader"])
    assert answer.json() == json.loads(_cli_show(api_runtime, *cli_args, "--format", "json"))
    assert len(answer.json()["data"]) == 2 * 1440 and answer.json()["data"][0]["timestamp"] == START_MS
    arrow = client.get("/api/v1/candles", params={**RANGE, "format": "arrow"}, token=tokens["reader"])
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.column_names == ["timestamp", "open", "high", "low", "close", "volume"]
    assert table.column("close").to_pylist() == [row["close"] for row in answer.json()["data"]]


@pytest.mark.parametrize("rows", [0, 1, 7, 5000])
def test_json_records_are_byte_for_byte_what_orjson_writes_per_candle(rows):
    rng = np.random.default_rng(rows)
    columns = {"timestamp": START_MS + 60_000 * np.arange(rows, dtype="int64"),
               **{c: rng.lognormal(3, 4, rows) * rng.choice([-1, 1], rows) for c in ("open", "high", "low", "close")},
               "volume": rng.integers(0, 10, rows).astype("float64")}
    specials = [np.nan, np.inf, -np.inf, 0.0, -0.0, 100.0, 1e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    columns["close"][:len(specials)] = specials[:rows]
    per_candle = [dict(zip(columns, values, strict=True)) for values in zip(*(c.tolist() for c in columns.values()),
                                                                                  strict=True)]
    assert json_records(columns) == orjson.dumps(per_candle)[1:-1]


def test_candles_stream_in_pieces(client, api_runtime, tokens, monkeypatch):
    from api import data

    monkeypatch.setattr(data, "CHUNK_ROWS", 1000)
    whole = client.get("/api/v1/candles", params={"dataset": str(MINUTE_REF)}, token=tokens["reader"]).json()
    assert [r["timestamp"] for r in whole["data"]] == [START_MS + 60_000 * i for i in range(3 * 1440)]
    arrow = client.get("/api/v1/candles", params={"dataset": str(MINUTE_REF), "format": "arrow"},
                       token=tokens["reader"])
    assert pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all().num_rows == 3 * 1440
    csv = client.get("/api/v1/candles", params={"dataset": str(MINUTE_REF), "format": "csv"}, token=tokens["reader"])
    assert csv.text.count("timestamp") == 1 and len(csv.text.splitlines()) == 3 * 1440 + 1


def test_json_from_the_versions_kept_records_is_byte_for_byte_the_encoded_answer(client, api_runtime, tokens,
                                                                                  monkeypatch):
    from services.market_data import datasets

    monkeypatch.setattr(datasets, "RECORDS_CHUNK", 1000)  # the kept records are encoded in several chunks
    from tests.support.api import write_minutes

    write_minutes(api_runtime, days=33)  # two partitions: a whole read keeps the version whole
    day = 86_400_000
    ranges = [{}, {"start": str(START_MS + 31 * day - 60_000), "end": str(START_MS + 31 * day + 59_999)},
              {"start": "2024-01-05", "end": "2024-01-05"}, {"start": str(START_MS + 7 * day + 1),
                                                             "end": str(START_MS + 7 * day + 59_999)},
              {"start": "2025-01-01"}]

    def answers() -> list:
        return [client.get("/api/v1/candles", params={"dataset": str(MINUTE_REF), **bounds}, token=tokens["reader"])
                for bounds in ranges]

    api_runtime.datasets.read(MINUTE_REF)
    encoded = answers()  # encoded per request; the version's records are encoded meanwhile
    api_runtime.datasets.flush()
    kept = answers()
    assert all("content-length" in answer.headers for answer in kept)
    assert [a.content for a in kept] == [a.content for a in encoded]
    assert [len(a.json()["data"]) for a in kept] == [33 * 1440, 2, 1440, 0, 0]
    orjson.loads(kept[0].content)  # strict JSON
    write_minutes(api_runtime, days=34)  # a new version: its own records, never the old ones
    assert len(client.get("/api/v1/candles", params={"dataset": str(MINUTE_REF)},
                          token=tokens["reader"]).json()["data"]) == 34 * 1440


def test_server_side_resampling(client, api_runtime, tokens):
    hours = client.get("/api/v1/candles", params={**RANGE, "interval": "1h"}, token=tokens["reader"]).json()
    assert hours["interval"] == "1h" and len(hours["data"]) == 48
    frame = api_runtime.datasets.read(MINUTE_REF, START_MS, START_MS + 3_600_000 - 1)
    first = hours["data"][0]
    assert first["open"] == frame["open"].iloc[0] and first["close"] == frame["close"].iloc[-1]
    assert first["high"] == frame["high"].max() and first["volume"] == pytest.approx(frame["volume"].sum())
    finer = client.get("/api/v1/candles", params={"dataset": str(DAILY_REF), "interval": "1h"},
                       token=tokens["reader"])
    assert finer.status_code == 400 and "finer" in problem(finer)["message"]


def test_etag_of_the_dataset_version_and_304(client, api_runtime, tokens):
    first = client.get("/api/v1/candles", params=RANGE, token=tokens["reader"])
    etag = first.headers["ETag"]
    again = client.get("/api/v1/candles", params=RANGE, token=tokens["reader"], headers={
        "If-None-Match": etag, "Authorization": f"Bearer {tokens['reader']}"})
    assert again.status_code == 304 and not again.content
    other_format = client.get("/api/v1/candles", params={**RANGE, "format": "csv"}, token=tokens["reader"])
    assert other_format.headers["ETag"] != etag
    from tests.support.api import write_minutes

    write_minutes(api_runtime, days=4)  # a new version of the dataset
    changed = client.get("/api/v1/candles", params=RANGE, headers={
        "If-None-Match": etag, "Authorization": f"Bearer {tokens['reader']}"})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize(("params", "words"), [
    ({"dataset": "BTCUSDT"}, "exchange/SYMBOL/interval"),
    ({"dataset": "binance/btc-usdt/1m"}, "symbol"),
    ({"dataset": "binance/BTCUSDT/2m"}, "interval"),
    ({**RANGE, "start": "2024-01-03", "end": "2024-01-01"}, "start is after end"),
    ({**RANGE, "start": "yesterday"}, "start"),
    ({**RANGE, "end": "99999999999999999"}, "end"),
    ({**RANGE, "start": "-5"}, "start"),
])
def test_malformed_candle_requests_get_400(client, tokens, params, words):
    response = client.get("/api/v1/candles", params=params, token=tokens["reader"])
    assert response.status_code == 400 and words in problem(response)["message"]


def test_unknown_dataset_is_404(client, tokens):
    response = client.get("/api/v1/candles", params={"dataset": "binance/NOPE/1m"}, token=tokens["reader"])
    assert response.status_code == 404 and "nexus data list" in problem(response)["message"]


def test_huge_range(client, api_runtime, tokens, monkeypatch):
    wide = {"dataset": str(MINUTE_REF), "start": "1970-01-01", "end": "9999-12-30"}
    assert len(client.get("/api/v1/candles", params=wide, token=tokens["reader"]).json()["data"]) == 3 * 1440
    monkeypatch.setattr(api_runtime.settings, "api_max_candles", 1000)
    refused = client.get("/api/v1/candles", params=wide, token=tokens["reader"])
    assert refused.status_code == 400 and problem(refused)["code"] == "range_too_large"


def test_export_as_the_page_does(client, api_runtime, tokens):
    made = client.post("/api/v1/exports", json={"dataset": str(DAILY_REF), "format": "json", "name": "t1"},
                       token=tokens["reader"])
    assert made.status_code == 201 and made.json()["blob_name"] == "t1.json" and made.json()["rows"] == 30
    data, _etag = api_runtime.store.get(api_runtime.settings.exports_container, "t1.json")
    assert json.loads(data)["symbol"] == "TEST" and set(json.loads(data)["data"][0]) == {
        "timestamp", "open", "high", "low", "close", "volume"}
    no_trader = api_runtime.tokens.issue(ADMIN, "ro@bank.com", scopes=["data:read"])[1]
    refused = client.post("/api/v1/exports", json={"dataset": str(DAILY_REF)}, token=no_trader)
    assert refused.status_code == 403 and "trader" in problem(refused)["message"]
    bad_name = client.post("/api/v1/exports", json={"dataset": str(DAILY_REF), "name": "../x"},
                           token=tokens["reader"])
    assert bad_name.status_code == 400


# --- item 3: proposals ------------------------------------------------------------------------------------------
BATCH = {"source": "agent-platform", "rationale": "momentum on TEST",
         "orders": [{"symbol": "TEST", "side": "buy", "quantity": 5, "rationale": "breakout"}]}


def test_a_proposal_lands_in_the_inbox_marked_with_its_source_and_is_audited(client, api_runtime, tokens):
    answer = client.post("/api/v1/proposals", json=BATCH, token=tokens["proposer"])
    assert answer.status_code == 201, answer.text
    order = answer.json()["orders"][0]
    assert order["status"] == "pending_approval" and order["source"] == "agent-platform"
    assert order["reference_price"] == 100.0 and order["checks"] and order["checks_pass"] is True
    stored = api_runtime.orders.get(order["id"])
    assert stored.source == "agent-platform" and "breakout" in stored.context["rationale"]
    assert stored.id in {o.id for o in api_runtime.orders.list(status="pending_approval")}
    actions = {(e.actor, e.action) for e in api_runtime.orders.audit()}
    assert ("agent@platform.io", "proposed") in actions and ("agent@platform.io", "api_proposal") in actions
    followed = client.get(f"/api/v1/orders/{order['id']}", token=tokens["proposer"])
    assert followed.json()["status"] == "pending_approval"
    assert client.get(f"/api/v1/orders/{order['id']}", token=tokens["other_proposer"]).status_code == 404
    assert not api_runtime.venue.account().positions  # nothing sent without a human decision


def test_the_same_risk_gate_refuses_what_breaks_a_limit(client, api_runtime, tokens):
    big = {**BATCH, "orders": [{"symbol": "TEST", "side": "buy", "quantity": 1e6}]}
    order = client.post("/api/v1/proposals", json=big, token=tokens["proposer"]).json()["orders"][0]
    assert order["checks_pass"] is False
    assert "max order notional" in [c["name"] for c in order["checks"] if not c["passed"]]
    stored = api_runtime.orders.get(order["id"])
    with pytest.raises(Exception, match="check"):
        api_runtime.orders.approve(stored.id, local_operator("alice"))


def test_idempotency_key_same_body_same_answer_other_body_409(client, api_runtime, tokens):
    headers = {"Idempotency-Key": "batch-42", "Authorization": f"Bearer {tokens['proposer']}"}
    first = client.post("/api/v1/proposals", json=BATCH, headers=headers)
    again = client.post("/api/v1/proposals", json=BATCH, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api_runtime.orders.list()) == 1
    other = client.post("/api/v1/proposals", json={**BATCH, "rationale": "changed"}, headers=headers)
    assert other.status_code == 409 and "another request body" in problem(other)["message"]
    # the key belongs to its owner: another proposer may use the same string
    theirs = client.post("/api/v1/proposals", json=BATCH, headers={
        "Idempotency-Key": "batch-42", "Authorization": f"Bearer {tokens['other_proposer']}"})
    assert theirs.status_code == 201 and len(api_runtime.orders.list()) == 2


def test_a_failed_request_releases_its_key(client, api_runtime, tokens):
    headers = {"Idempotency-Key": "k-1", "Authorization": f"Bearer {tokens['proposer']}"}
    unknown = {**BATCH, "orders": [{"symbol": "NOPE", "side": "buy", "quantity": 1}]}
    refused = client.post("/api/v1/proposals", json=unknown, headers=headers)
    assert refused.status_code == 400 and "no stored price for NOPE" in problem(refused)["message"]
    assert client.post("/api/v1/proposals", json=BATCH, headers=headers).status_code == 201


@pytest.mark.parametrize("change", [
    {"source": "Agent Platform!"}, {"rationale": ""}, {"orders": []},
    {"orders": [{"symbol": "TEST", "side": "hold", "quantity": 1}]},
    {"orders": [{"symbol": "TEST", "side": "buy", "quantity": -1}]},
    {"orders": [{"symbol": "TEST", "side": "buy", "quantity": "ten"}]},
    {"orders": [{"symbol": "TEST", "side": "buy", "quantity": 1, "order_type": "limit"}]},
    {"orders": [{"symbol": "TEST", "side": "buy", "quantity": 1, "proposal_id": "a"},
                {"symbol": "TEST", "side": "sell", "quantity": 1, "proposal_id": "a"}]},
])
def test_bad_proposals_are_refused_and_nothing_is_written(client, api_runtime, tokens, change):
    response = client.post("/api/v1/proposals", json={**BATCH, **change}, token=tokens["proposer"])
    assert response.status_code in (400, 422) and problem(response)
    assert api_runtime.orders.list() == []


def test_nan_and_infinity_are_refused(client, api_runtime, tokens):
    for value in ("NaN", "Infinity"):
        body = json.dumps(BATCH).replace('"quantity": 5', f'"quantity": {value}')
        response = client.post("/api/v1/proposals", content=body, token=tokens["proposer"],
                               headers={"Content-Type": "application/json",
                                        "Authorization": f"Bearer {tokens['proposer']}"})
        assert response.status_code == 422 and problem(response)
    assert api_runtime.orders.list() == []


def test_proposing_needs_the_scope(client, tokens):
    refused = client.post("/api/v1/proposals", json=BATCH, token=tokens["reader"])
    assert refused.status_code == 403 and "orders:propose" in problem(refused)["message"]


def test_two_identical_requests_at_once_do_the_work_once(api_runtime):
    import threading

    from services.core.errors import Conflict
    from services.core.idempotency import IdempotencyStore

    store, started, release, calls = IdempotencyStore(api_runtime.engine), threading.Event(), threading.Event(), []

    def slow() -> dict:
        calls.append(1)
        started.set()
        release.wait(10)
        return {"run_id": "r1"}

    first = threading.Thread(target=lambda: store.run("proposals:a", "k", "d1", slow))
    first.start()
    started.wait(10)
    with pytest.raises(Conflict, match="still being processed"):
        store.run("proposals:a", "k", "d1", slow)
    release.set()
    first.join()
    assert store.run("proposals:a", "k", "d1", slow) == ({"run_id": "r1"}, True) and len(calls) == 1
    with pytest.raises(Exception, match="visible ASCII"):
        store.run("proposals:a", "bad key\n", "d1", slow)


def test_the_rate_limit_comes_from_the_settings_by_default(make_runtime, tokens):
    runtime = make_runtime(api_rate_limit_per_minute=1)
    secret = runtime.tokens.issue(ADMIN, "slow@bank.com", scopes=["data:read"])[1]
    client = Client(standalone())
    assert [client.get("/api/v1/datasets", token=secret).status_code for _ in range(2)] == [200, 429]


def test_nexus_api_serves_the_same_app_alone(api_runtime, tokens):
    import time

    import httpx

    from tests.support.azurite import free_port

    port = free_port()
    env = {"NEXUS_HOME": str(api_runtime.settings.nexus_home), "APP_ENV": "test", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([sys.executable, "-m", "cli.main", "api", "--port", str(port), "--address",
                               "127.0.0.1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(240):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.25)
        catalog = httpx.get(f"http://127.0.0.1:{port}/api/v1/datasets", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['reader']}"})
        assert catalog.status_code == 200 and str(MINUTE_REF) in {d["dataset"] for d in catalog.json()}
        assert httpx.get(f"http://127.0.0.1:{port}/api/openapi.json", timeout=10).json()["openapi"].startswith("3.1")
    finally:
        server.terminate()
        server.wait(timeout=15)
