"""Multi-process helpers: start replicas (``tests.scale.replica``) on 127.0.0.1 together, bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Finished:
    """One replica's exit code and output."""

    code: int
    output: str


def start_together(actions: list[list[str]], env: dict[str, str] | None = None, lead_s: float = 2.5,
                   timeout_s: float = 40) -> list[Finished]:
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
