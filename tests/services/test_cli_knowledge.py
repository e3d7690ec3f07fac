"""``nexus knowledge``: add a pattern, search, refresh; bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app


@pytest.fixture
def nexus(runtime):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_add_then_search_a_pattern(nexus):
    added = nexus("knowledge", "add", "--name", "Opening range breakout", "--type", "breakout", "--description",
                  "Buy when price leaves the first 30 minutes' range on high volume", "--asset", "AAPL",
                  "--timeframe", "5m", "--regime", "high_vol", "--confidence", "0.7")
    assert added.exit_code == 0, added.output
    found = nexus("knowledge", "search", "range breakout at the open", "--asset", "aapl", "--kind", "pattern",
                  "--json")
    assert found.exit_code == 0, found.output
    [item] = [json.loads(line) for line in found.output.splitlines()]
    assert item["title"] == "Opening range breakout (breakout)" and item["evidence"]["confidence"] == 0.7
    assert nexus("knowledge", "search", "breakout", "--kind", "lesson").output == ""


@pytest.mark.parametrize("args, message", [
    (("search", "x", "--limit", "0"), "limit must be a whole number from 1 to 100"),
    (("search", "x", "--kind", "rumour"), "kind 'rumour'"),
    (("add", "--name", "n", "--type", "astrology", "--description", "d"), "pattern type 'astrology'"),
])
def test_bad_input_exits_2_with_one_line(nexus, args, message):
    done = nexus("knowledge", *args)
    assert done.exit_code == 2
    [line] = done.output.strip().splitlines()
    assert message in line


def test_refresh_reports_each_source(nexus):
    done = nexus("knowledge", "refresh")
    assert done.exit_code == 0, done.output
    assert [line.split()[0] for line in done.output.splitlines()] == ["backtests", "orders", "anomalies", "events",
                                                                       "regimes", "correlations"]
