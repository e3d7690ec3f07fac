"""Several console and worker processes on 127.0.0.1: start them together, their environment, shared candles."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
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


def wait_for(probe: Callable[[], object], what: str, timeout_s: float = 90.0) -> object:
    """Poll ``probe`` until it returns something truthy (bounded); fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
