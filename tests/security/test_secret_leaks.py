"""With every secret set to a dummy value, a full tour of the console leaks none of them anywhere we can look:
rendered pages, CLI output, logs, the records database (audit log included) and the files under NEXUS_HOME."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import MetaData, select
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from cli.main import app as nexus
from services.core.auth import local_operator
from services.market_data.seed import seed
from services.ops.health import health_report
from tests.fakes.lona_gateway import TOKEN, FakeLonaGateway
from tests.support.orders import proposal, write_prices

DUMMIES = {
    "xai_api_key": "xai-dummy-SECRET-0001", "langsmith_api_key": "lsv2-dummy-SECRET-0002",
    "alpaca_api_key": "alpaca-dummy-SECRET-0003", "alpaca_api_secret": "alpaca-dummy-SECRET-0004",
    "live_engine_service_api_key": "le-dummy-SECRET-0005", "supabase_key": "supabase-dummy-SECRET-0006",
    "auth_cookie_secret": "cookie-dummy-SECRET-0007", "auth_client_secret": "oidc-dummy-SECRET-0008",
    "lona_agent_registration_secret": "lona-reg-dummy-SECRET-0009",
}
PAGES = ("overview", "market_data", "news", "agent_runs", "approvals", "orders", "strategies", "settings")
#: the two files whose job is to hold a secret (the Lona token file, Streamlit's [auth] file) are not leaks
SECRET_STORES = {"lona-credentials.json", "streamlit-secrets.toml"}


def _texts(at: AppTest) -> list[str]:
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code", "error", "warning", "info",
                 "success", "exception", "json"):
        texts += [str(getattr(element, "value", "")) for element in getattr(at, kind)]
    texts += [frame.value.to_csv() for frame in at.dataframe]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    for kind in ("text_input", "text_area", "selectbox", "multiselect", "number_input"):
        texts += [str(w.value) for w in getattr(at, kind)]
    return texts


@pytest.fixture
def toured(make_runtime, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    with FakeLonaGateway() as lona:
        runtime = make_runtime(lona_gateway_url=lona.url, lona_agent_token=TOKEN, lona_poll_interval_seconds=0.001,
                               **DUMMIES)
        seed(runtime.datasets)
        write_prices(runtime)
        orders = runtime.orders.propose("leak-run", [proposal("a"), proposal("b")])
        runtime.orders.approve(orders[0].id, local_operator())
        runtime.orders.submit(orders[0].id)
        runtime.orders.reject(orders[1].id, local_operator(), "not today")
        health_report(runtime, max_age_s=0)
        seen = []
        for page in PAGES:
            at = AppTest.from_string(f"from pages import {page}\n{page}.render()\n", default_timeout=60)
            at.run()
            seen += _texts(at)
        runner = CliRunner()
        for args in (["data", "list"], ["orders", "list"], ["news", "list"], ["lona", "strategies", "list"],
                     ["data", "show", "x/Y/7m"]):
            seen.append(runner.invoke(nexus, args).output)
        lona.tokens = {"rotated-elsewhere"}  # the gateway now refuses our token: the error must not repeat it
        seen.append(runner.invoke(nexus, ["lona", "strategies", "list"]).output)
        yield runtime, seen, caplog, capsys


def test_no_secret_leaks_anywhere(toured):
    runtime, seen, caplog, capsys = toured
    secrets = [*DUMMIES.values(), TOKEN]
    captured = capsys.readouterr()
    places = {"pages and CLI": "\n".join(seen), "logs": caplog.text, "stdout": captured.out, "stderr": captured.err}
    tables = MetaData()
    tables.reflect(runtime.engine)
    with runtime.engine.connect() as connection:
        places["records database"] = "\n".join(
            str(row) for table in tables.sorted_tables for row in connection.execute(select(table)))
    for path in runtime.settings.nexus_home.rglob("*"):
        if path.is_file() and path.name not in SECRET_STORES and path.stat().st_size < 20_000_000:
            places[f"file {path.name}"] = path.read_bytes().decode("latin-1")
    assert "audit_log" in {t.name for t in tables.sorted_tables}
    leaks = {(place, secret) for place, text in places.items() for secret in secrets if secret in text}
    assert leaks == set()
    assert any("rejected" in text or "401" in text or "token" in text.lower() for text in seen[-1:])
