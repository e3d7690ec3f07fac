"""The app started as a user starts it (`nexus serve`: worker + Streamlit) on a free port, for browser tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.azurite import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """Base URL of a running console on embedded defaults, with the sample data seeded."""
    home = tmp_path_factory.mktemp("console-home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "LONA_", "ALPACA_", "XAI_", "LIVE_ENGINE", "LANGSMITH_API", "DATABASE_URL"))}
    env.update(NEXUS_HOME=str(home), LANGSMITH_TRACING="false", APP_ENV="local")
    port = free_port()
    log = open(home / "serve.log", "wb")  # noqa: SIM115  (kept open for the server's lifetime)
    process = subprocess.Popen([sys.executable, "-m", "services.cli", "serve", "--port", str(port),
                                "--address", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the console exited at start:\n{(home / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"the console did not answer within 90 s:\n{(home / 'serve.log').read_text()}")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
