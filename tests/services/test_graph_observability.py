"""The agent graph's LLM rationale (fake xAI), LangSmith traces (fake LangSmith) and PostgreSQL checkpoints."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import create_engine, select, text
from streamlit.testing.v1 import AppTest

from services.agents.runs import get_run, start_run
from services.core.auth import local_operator
from services.core.records import graph_runs, orders
from tests.fakes.langsmith import API_KEY as LANGSMITH_KEY
from tests.fakes.langsmith import TENANT_ID, FakeLangSmith
from tests.fakes.xai import API_KEY as XAI_KEY
from tests.fakes.xai import FakeXAI
from tests.support.orders import decide
from tests.support.universe import FAST, params, universe

STEPS = ("predictor", "anomaly", "context", "optimizer", "risk_gate")


@pytest.fixture
def xai():
    with FakeXAI() as fake:
        yield fake


def llm_runtime(make_runtime, xai: FakeXAI, **overrides):
    return make_runtime(**FAST, xai_api_key=XAI_KEY, xai_base_url=xai.base_url, **overrides)


@pytest.fixture
def page_texts():
    """Every text the Agent Runs page shows for a run (all tabs render in AppTest)."""

    def texts(run_id: str) -> list[str]:
        at = AppTest.from_string("from pages import agent_runs\nagent_runs.render()\n", default_timeout=120)
        at.query_params["run"] = run_id
        at.run()
        assert not at.exception, at.exception
        found = [str(e.value) for kind in ("markdown", "caption", "text", "error", "info", "success")
                 for e in getattr(at, kind)]
        return found + [frame.value.to_csv() for frame in at.dataframe]

    return texts


def orders_of(runtime, run_id: str) -> list[tuple]:
    return sorted((o.symbol, o.side, o.quantity, o.reference_price) for o in runtime.orders.list(run_id=run_id))


def test_the_llm_writes_a_rationale_per_step_and_never_changes_an_order(make_runtime, xai):
    runtime = llm_runtime(make_runtime, xai)
    refs = universe(runtime)
    plain = start_run(runtime, params(refs), local_operator("tester"))
    with_llm = start_run(runtime, params(refs, llm=True), local_operator("tester"))
    assert with_llm.status == "awaiting_approval", with_llm.error
    assert len(xai.calls) == len(STEPS)
    assert xai.calls[0]["model"] == "grok-4-1-fast-non-reasoning"
    assert "AAA" in xai.calls[0]["messages"][1]["content"]  # written from the numbers
    for step in STEPS:
        assert with_llm.rationale[step].llm == xai.reply
        same = plain.rationale[step].summary.splitlines()[step == "predictor":]  # the model line says "reused"
        assert with_llm.rationale[step].summary.splitlines()[step == "predictor":] == same
    usage = with_llm.llm_usage
    assert usage["llm_calls"] == 5 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert plain.llm_usage == {}
    assert orders_of(runtime, with_llm.id) == orders_of(runtime, plain.id)
    assert xai.reply in runtime.orders.list(run_id=with_llm.id)[0].context["rationale"]


def test_an_llm_error_costs_the_text_not_the_run(make_runtime, xai):
    runtime = llm_runtime(make_runtime, xai)
    xai.fail_next(10, status=500, body={"error": {"message": "overloaded"}})
    run = start_run(runtime, params(universe(runtime), llm=True), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert "LLM rationale failed (the LLM API answered HTTP 500)" in run.rationale["predictor"].note
    assert all("failed earlier" in run.rationale[s].note for s in STEPS[1:])  # not asked again
    assert all(run.rationale[s].llm is None for s in STEPS)
    assert run.llm_usage == {"llm_failures": 1}
    assert len(xai.requests) == 2  # one retry, then the run went on


def test_a_slow_llm_times_out_and_the_run_goes_on(make_runtime, xai):
    runtime = llm_runtime(make_runtime, xai, xai_timeout_seconds=0.3)
    xai.slow_next(10, delay_s=2.0)
    started = time.monotonic()
    run = start_run(runtime, params(universe(runtime), llm=True), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert "timed out after 0.3 s" in run.rationale["predictor"].note
    assert time.monotonic() - started < 30


def test_runs_are_traced_to_langsmith_under_the_run_id_the_console_links_to(make_runtime, xai):
    with FakeLangSmith() as langsmith:
        runtime = llm_runtime(make_runtime, xai, langsmith_tracing=True, langsmith_api_key=LANGSMITH_KEY,
                              langsmith_endpoint=langsmith.url, langsmith_project="nexus-test")
        run = start_run(runtime, params(universe(runtime), llm=True), local_operator("tester"))
        assert run.status == "awaiting_approval", run.error
        (project,) = langsmith.projects.values()
        assert project["name"] == "nexus-test"
        assert run.trace_url == f"http://localhost/o/{TENANT_ID}/projects/p/{project['id']}/r/{run.id}?poll=true"
        assert run.trace_url in runtime.orders.list(run_id=run.id)[0].context["trace_url"]
        root = langsmith.runs[run.id]  # the root run carries the id the link points at
        assert root["trace_id"] == run.id and root.get("session_name") == "nexus-test"
        traced = {r["name"] for r in langsmith.runs.values() if r.get("trace_id") == run.id}
        assert {"load_data", "predictor", "approval"} <= traced and "ChatXAI" in traced
        decide(runtime, run.id)
        run = get_run(runtime, run.id)
        assert run.status == "completed", run.error
        resumed = run.traces[-1]
        assert resumed.segment == "resume" and resumed.run_id in langsmith.runs
        assert resumed.url.endswith(f"/r/{resumed.run_id}?poll=true")
        sessions = [r for r in langsmith.requests if r.method == "GET" and r.path == "/sessions"]
        assert len(sessions) <= 2  # the project (and the tenant with it) is looked up once per process


def test_an_unreachable_langsmith_leaves_the_run_untraced(make_runtime):
    runtime = make_runtime(**FAST, langsmith_tracing=True, langsmith_api_key=LANGSMITH_KEY,
                           langsmith_endpoint="http://127.0.0.1:9", langsmith_project="unreachable",
                           langsmith_timeout_seconds=1)
    run = start_run(runtime, params(universe(runtime)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert run.trace_url is None
    assert "LangSmith unavailable" in run.traces[0].note


@pytest.mark.postgres
def test_postgres_checkpoints_carry_a_run_across_processes(make_runtime, postgres_url):
    runtime = make_runtime(**FAST, database_url=postgres_url)
    run = start_run(runtime, params(universe(runtime)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        saved = connection.execute(text("SELECT count(*) FROM checkpoints WHERE thread_id = :id"), {"id": run.id})
        assert saved.scalar() > 0
    engine.dispose()
    restarted = make_runtime(**FAST, database_url=postgres_url)
    decide(restarted, run.id)
    run = get_run(restarted, run.id)
    assert run.status == "completed", run.error
    assert {o.status for o in restarted.orders.list(run_id=run.id)} == {"filled"}
    assert not runtime.settings.checkpoints_path.exists()


def test_no_key_reaches_the_records_the_checkpoints_the_trace_or_the_page(make_runtime, xai, caplog, page_texts):
    caplog.set_level(logging.DEBUG)
    with FakeLangSmith() as langsmith:
        runtime = llm_runtime(make_runtime, xai, langsmith_tracing=True, langsmith_api_key=LANGSMITH_KEY,
                              langsmith_endpoint=langsmith.url)
        xai.fail_next(1, status=401, body={"error": {"message": f"Incorrect API key provided: {XAI_KEY}"}})
        run = start_run(runtime, params(universe(runtime), llm=True), local_operator("tester"))
        assert run.status == "awaiting_approval", run.error
        assert run.rationale["predictor"].note.startswith("LLM rationale failed (the LLM API answered HTTP 401)")
        seen = [b.body.decode(errors="ignore") for b in langsmith.requests if b.path.startswith("/runs")]
    with runtime.engine.connect() as connection:
        seen += [str(row) for table in (graph_runs, orders) for row in connection.execute(select(table))]
    seen.append(runtime.settings.checkpoints_path.read_bytes().decode(errors="ignore"))
    seen += [caplog.text, *page_texts(run.id)]
    for key in (XAI_KEY, LANGSMITH_KEY):
        assert not [text for text in seen if key in text]
