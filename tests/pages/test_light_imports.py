"""Opening a page does not load the heavy libraries only an agent run needs (torch, LangGraph)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", ["overview", "market_data", "approvals", "orders", "strategies", "agent_runs"])
def test_importing_a_page_loads_neither_torch_nor_langgraph(page):
    probe = (f"import sys; import pages.{page}; "
             "print(sorted(m for m in ('torch', 'langgraph') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_opening_market_data_does_not_load_ccxt_until_a_ccxt_source_is_used():
    probe = ("import sys; import pages.market_data; before = 'ccxt' in sys.modules; "
             "from services.market_data.connectors import ccxt_exchange_ids; ids = ccxt_exchange_ids(); "
             "print(before, 'binance' in ids and 'ccxt' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().splitlines()[-1] == "False True"
