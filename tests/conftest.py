"""Shared fixtures: an isolated runtime (temp NEXUS_HOME, jobs run inline), Azurite, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

os.environ.setdefault("LANGSMITH_TRACING", "false")
os.environ.setdefault("APP_ENV", "test")

from services.core.config import load_settings
from services.runtime import Runtime, set_runtime

POSTGRES_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def make_runtime(tmp_path, monkeypatch):
    """Build a Runtime on a fresh NEXUS_HOME (plus any setting overrides) and install it process-wide.

    Jobs submitted through it run inline (Huey immediate mode), so tests see their end state at once.
    """
    for name in list(os.environ):  # never let a developer's real configuration leak into a test
        if name.startswith(("AZURE_", "LONA_", "ALPACA_", "BINANCE_", "CCXT_", "INGEST_", "XAI_", "LIVE_ENGINE",
                            "LANGSMITH_API", "DATABASE_URL")):
            monkeypatch.delenv(name, raising=False)

    def build(**overrides) -> Runtime:
        overrides.setdefault("nexus_home", tmp_path / "home")
        runtime = Runtime(load_settings(**overrides))
        set_runtime(runtime)
        import streamlit as st

        st.cache_resource.clear()  # pages keep services in st.cache_resource; rebuild them on this runtime
        st.cache_data.clear()
        runtime.queue.immediate = True
        return runtime

    yield build
    set_runtime(None)


@pytest.fixture
def runtime(make_runtime) -> Runtime:
    """A Runtime on embedded defaults (local blob folder, SQLite) in a temp folder."""
    return make_runtime()


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """One Azurite for the whole session (in memory); its connection string."""
    from tests.support.azurite import azurite

    with azurite() as connection_string:
        yield connection_string


@contextmanager
def _throwaway_postgres() -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"nexus_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # the suite must say why, not skip silently
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable: {error}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    with _throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """One throwaway PostgreSQL database for a whole test module (its tests clear their own rows)."""
    with _throwaway_postgres() as url:
        yield url


@pytest.fixture
def lona_gateway():
    """A fake Lona Gateway on loopback (tests/fakes/lona_gateway.py), fresh for each test."""
    from tests.fakes.lona_gateway import FakeLonaGateway

    with FakeLonaGateway() as fake:
        yield fake


@pytest.fixture
def lona_runtime(make_runtime, lona_gateway) -> Runtime:
    """A Runtime whose Lona settings point at ``lona_gateway`` with its token, polling every millisecond."""
    from tests.fakes.lona_gateway import TOKEN

    return make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_token=TOKEN, lona_poll_interval_seconds=0.001,
                        lona_poll_timeout_seconds=5)
