"""The knowledge endpoints in process: upstream's search contract, patterns, regimes, the scope and bad input."""

from __future__ import annotations

import json

import pytest

from models.embedding import EmbeddingUnavailable
from services.knowledge import harvest
from tests.support.api import ADMIN, DAILY_REF, MINUTE_REF, problem

SEARCH = "/api/v2/knowledge/search"


@pytest.fixture
def knower(api_runtime) -> str:
    """The secret of a token with knowledge:read only, on a knowledge base with two patterns and the regimes of
    the minute and daily datasets."""
    kb = api_runtime.knowledge
    kb.add_pattern(ADMIN, "Breakout above the 20-day high", "breakout", "Buy when the close breaks above the "
                   "highest high of the last 20 days", assets=["BTCUSDT"], timeframes=["1d"],
                   suitable_regimes=["bull", "high_vol"], confidence=0.7)
    kb.add_pattern(ADMIN, "Mean reversion after a gap", "mean_reversion", "Fade an opening gap in a quiet market",
                   assets=["TEST"], confidence=0.4)
    harvest.refresh(kb, api_runtime.engine, api_runtime.datasets, [MINUTE_REF, DAILY_REF])
    return api_runtime.tokens.issue(ADMIN, "agent@platform.io", scopes=["knowledge:read"])[1]


def test_the_openapi_spec_lists_the_knowledge_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/v2/knowledge/search", "/v2/knowledge/patterns", "/v2/knowledge/regimes/{asset}"} <= set(paths)


def test_search_answers_upstreams_items_best_first(client, knower):
    answer = client.post(SEARCH, json={"query": "price breaking out above its recent highs"}, token=knower)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items and all(set(item) == {"kind", "id", "title", "summary", "score", "evidence"} for item in items)
    assert items[0]["kind"] == "pattern" and items[0]["title"].startswith("Breakout above the 20-day high")
    assert items[0]["evidence"]["confidence"] == 0.7
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True) and len(items) <= 10  # default limit


def test_search_filters_by_kind_assets_and_limit(client, knower):
    regimes = client.post(SEARCH, json={"query": "volatility", "kinds": ["regime"], "limit": 100}, token=knower)
    assert regimes.status_code == 200 and {i["kind"] for i in regimes.json()["items"]} == {"regime"}
    only_test = client.post(SEARCH, json={"query": "a trading pattern", "kinds": ["pattern"], "assets": ["test"]},
                            token=knower).json()["items"]
    assert [i["title"] for i in only_test] == ["Mean reversion after a gap (mean reversion)"]
    one = client.post(SEARCH, json={"query": "volatility", "limit": 1}, token=knower).json()["items"]
    assert len(one) == 1


def test_patterns_newest_first(client, knower):
    answer = client.get("/api/v2/knowledge/patterns", token=knower)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [p["name"] for p in items] == ["Mean reversion after a gap", "Breakout above the 20-day high"]
    assert items[1]["pattern_type"] == "breakout" and items[1]["assets"] == ["BTCUSDT"]
    assert items[1]["suitable_regimes"] == ["bull", "high_vol"] and items[1]["confidence_score"] == 0.7


def test_regimes_of_an_asset(client, api_runtime, knower):
    answer = client.get("/api/v2/knowledge/regimes/btcusdt", token=knower)
    assert answer.status_code == 200
    body = answer.json()
    stored = api_runtime.knowledge.regimes(asset="BTCUSDT")
    assert body["asset"] == "BTCUSDT" and len(body["items"]) == len(stored) > 0
    assert {r["dataset_ref"] for r in body["items"]} == {str(MINUTE_REF)}
    assert all(r["regime"].endswith("_vol") and r["start_at"] <= r["end_at"] for r in body["items"])
    unknown = client.get("/api/v2/knowledge/regimes/NOPE", token=knower)
    assert unknown.status_code == 200 and unknown.json() == {"asset": "NOPE", "items": []}


@pytest.mark.parametrize(("method", "url"), [("POST", SEARCH), ("GET", "/api/v2/knowledge/patterns"),
                                             ("GET", "/api/v2/knowledge/regimes/BTCUSDT")])
def test_the_endpoints_need_a_token_with_knowledge_read(client, tokens, method, url):
    body = {"json": {"query": "breakout"}} if method == "POST" else {}
    anonymous = client.request(method, url, **body)
    assert anonymous.status_code == 401 and problem(anonymous)["code"] == "unauthorized"
    assert "knowledge:read" in anonymous.json()["message"]
    for name in ("reader", "proposer", "none"):  # data:read, orders:propose, no scope at all
        refused = client.request(method, url, token=tokens[name], **body)
        assert refused.status_code == 403 and "knowledge:read" in problem(refused)["message"]


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"query": "x", "limit": 0}, 422, "limit"),
    ({"query": "x", "limit": 101}, 422, "limit"),
    ({"query": "x", "limit": "ten"}, 422, "limit"),
    ({"query": "x", "limit": 2.5}, 422, "limit"),
    ({"query": "x", "limit": float("nan")}, 422, "limit"),
    ({"query": "x", "kinds": ["rumour"]}, 422, "kinds"),
    ({"query": "x", "assets": ["not a symbol!"]}, 422, "assets"),
    ({"query": "x", "assets": "BTCUSDT"}, 422, "assets"),
    ({"query": ""}, 422, "query"),
    ({"query": "x" * 2001}, 422, "query"),
    ({"limit": 5}, 422, "query"),
    ({"query": "   "}, 400, "query"),
])
def test_bad_search_input_gets_a_4xx_in_the_error_shape(client, knower, body, status, words):
    sent = json.dumps(body)  # NaN too, as a lax client writes it
    answer = client.post(SEARCH, content=sent, headers={"Content-Type": "application/json"}, token=knower)
    assert answer.status_code == status and words in problem(answer)["message"]


def test_a_bad_asset_in_the_path_is_refused(client, knower):
    answer = client.get("/api/v2/knowledge/regimes/BTC%20USDT", token=knower)
    assert answer.status_code == 422 and "asset" in problem(answer)["message"]


def test_an_unusable_embedding_model_is_a_503_that_says_to_retry(client, api_runtime, knower, monkeypatch):
    def broken(_texts):
        raise EmbeddingUnavailable("the packaged model is missing")

    monkeypatch.setattr(api_runtime.knowledge, "embed", broken)
    answer = client.post(SEARCH, json={"query": "breakout"}, token=knower)
    assert answer.status_code == 503 and problem(answer)["code"] == "unavailable"
    assert "retry" in answer.json()["message"] and "embed" in answer.json()["message"]

