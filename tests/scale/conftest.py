"""Multi-process helpers: start replicas (``tests.scale.replica``) on 127.0.0.1 together, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Finished:
    """One replica's exit code and output."""

    code: int
    output: str


def start_together(actions: list[list[str]], env: dict[str, str] | None = None, lead_s: float = 2.5,
                   timeout_s: float = 120) -> list[Finished]:
    """Run each action as its own process, all released at the same instant; wait for every one."""
    go_at = time.time() + lead_s
    base = {**os.environ, "PYTHONPATH": str(ROOT), "NEXUS_GO_AT": f"{go_at:.3f}", **(env or {})}
    procs = [subprocess.Popen([sys.executable, "-m", "tests.scale.replica", *action], cwd=ROOT, env=base,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for action in actions]
    done = []
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        try:
            output, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail(f"a replica did not finish within {timeout_s} s: {output[-2000:]}")
        done.append(Finished(proc.returncode, output))
    return done


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


def replica_env(shared: dict[str, str], home: Path) -> dict[str, str]:
    """The environment of one replica: the shared services plus its own NEXUS_HOME."""
    home.mkdir(parents=True, exist_ok=True)
    return {**shared, "NEXUS_HOME": str(home)}


def flat_candles(interval_ms: int, count: int, price: float, start_ms: int = 1_704_067_200_000) -> pd.DataFrame:
    """``count`` candles at one price (open = high = low = close), so a fill says which dataset priced it."""
    ts = start_ms + interval_ms * np.arange(count, dtype=np.int64)
    column = np.full(count, price)
    return pd.DataFrame({"timestamp": ts, "open": column, "high": column, "low": column, "close": column,
                         "volume": np.ones(count)})


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


def wait_for(probe: Callable[[], object], what: str, timeout_s: float = 90.0) -> object:
    """Poll ``probe`` until it returns something truthy (bounded); fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
