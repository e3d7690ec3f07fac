"""Multi-process helpers: start replicas (``tests.scale.replica``) on 127.0.0.1 together, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """The throwaway PostgreSQL database's URL."""
    return postgres_url


@pytest.fixture
def shared(postgres_url, azurite_connection_string, tmp_path) -> dict[str, str]:
    """What every replica of a deployment shares: PostgreSQL, Azure Blob (Azurite) and fresh container names;
    each replica still gets a NEXUS_HOME of its own (``replica_env``)."""
    tag = uuid.uuid4().hex[:8]
    return {"DATABASE_URL": postgres_url, "AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string,
            "OHLCV_CONTAINER": f"ohlcv-{tag}", "EXPORTS_CONTAINER": f"exports-{tag}",
            "MODELS_CONTAINER": f"models-{tag}", "APP_ENV": "test"}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway Redis server on 127.0.0.1 (the shared job queue of production)."""
    from tests.support.redis import redis_server

    with redis_server() as url:  # no redis-server: the error says how to install it
        yield url


@pytest.fixture
def start_worker(tmp_path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen]]:
    """Start worker replicas (``tests.scale.replica worker``), each logging to ``worker-<pid>.log`` in the test's
    folder (a file, not a pipe nobody reads); any still running at the end are killed."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str]) -> subprocess.Popen:
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115 (kept open while it runs)
        process = subprocess.Popen([sys.executable, "-m", "tests.scale.replica", "worker"], cwd=ROOT,
                                   env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()  # the child has its own copy
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


