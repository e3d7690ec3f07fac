"""The console started as a user starts it (`nexus serve`: worker + Streamlit) on a free port."""

from __future__ import annotations

import contextlib
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
#: a developer's real configuration never leaks into a served console
FOREIGN = ("AZURE_", "LONA_", "ALPACA_", "XAI_", "LIVE_ENGINE", "LANGSMITH_API", "DATABASE_URL")


@contextlib.contextmanager
def running_console(home: Path, start_timeout_s: float = 90, port: int | None = None,
                    **settings: str) -> Iterator[str]:
    """Serve the console on embedded defaults (plus ``settings``, env names) under ``home`` on ``port`` (a free
    one if None) until the block ends; yields its base URL. Ready means Streamlit's own ``/_stcore/health``
    answers; the log is ``home/serve.log``.
    """
    env = console_environment(home, **settings)
    port = port or free_port()
    log_path = home / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port),
                                    "--address", "127.0.0.1"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_ready(process, url, log_path, start_timeout_s)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def console_environment(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a console under ``home``: this one's, minus real integrations, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    # a throwaway console's worker hands a running job (the start-up knowledge refresh, ~20 s) back at once on
    # SIGTERM rather than waiting for it: nothing is kept after the test anyway
    env.update({"NEXUS_HOME": str(home), "LANGSMITH_TRACING": "false", "APP_ENV": "local",
                "WORKER_SHUTDOWN_GRACE_SECONDS": "1", **settings})
    return env


def _wait_until_ready(process: subprocess.Popen, url: str, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the console exited at start:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"the console did not answer within {timeout_s:.0f} s:\n{log_path.read_text()}")
