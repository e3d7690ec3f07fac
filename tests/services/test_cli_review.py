"""`nexus review` prints the stored aggregates of the decision review, as text or JSON, filtered."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.support.review import API_SOURCE, RUN, reviewed_history


def nexus(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def reviewed(make_runtime):
    return reviewed_history(make_runtime)[0]


def test_review_prints_the_overall_aggregate_worked_out_by_hand(reviewed):
    done = nexus("review")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (
        "overall at 5 bars: 4 decisions (4 resolved, 0 pending); hit rate 75% (3/4); agent alone -20.00, "
        "agent + operator +5.00, value added +25.00 (edits +15.00, rejections +30.00, expiries -20.00, "
        "unfilled +0.00); 90% interval coverage – (0/0)")


def test_filters_by_and_json_print_the_same_numbers(reviewed):
    done = nexus("review", "--run", RUN, "--operator", "bob", "--horizon", "forecast", "--json")
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in done.output.splitlines()]
    assert [(r["scope"], r["key"]) for r in rows] == [("overall", ""), ("run", RUN), ("operator", "bob")]
    assert (rows[0]["covered"], rows[0]["intervals"], rows[0]["coverage"]) == (2, 4, 0.5)
    assert (rows[2]["decisions"], rows[2]["value_rejections"], rows[2]["actual_pnl"]) == (1, 30.0, 0.0)
    by_symbol = nexus("review", "--by", "symbol", "--horizon", "20")
    assert by_symbol.exit_code == 0, by_symbol.output
    lines = by_symbol.output.splitlines()
    assert lines[1].startswith("symbol DOWN at 20 bars: 2 decisions") and "agent alone -100.00" in lines[1]
    assert lines[2].startswith("symbol UP at 20 bars: 2 decisions") and "agent + operator +40.00" in lines[2]


@pytest.mark.parametrize(("args", "message"), [(["--horizon", "7"], "not one of 1, 5, 20, forecast"),
                                               (["--by", "desk"], "--by 'desk' is not one of"),
                                               (["--symbol", " "], "symbol filter must be a non-empty name")])
def test_bad_options_exit_2_with_one_line(reviewed, args, message):
    done = nexus("review", *args)
    assert done.exit_code == 2 and message in done.output


def test_nothing_reviewed_yet_says_so(runtime):
    done = nexus("review")
    assert done.exit_code == 0 and "no decided order reviewed yet" in done.output


def test_source_filters_and_lists_manual_and_api_orders_beside_the_graph(make_runtime):
    reviewed_history(make_runtime, others=True)
    done = nexus("review", "--source", "manual")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[1] == (
        "source manual at 5 bars: 1 decisions (1 resolved, 0 pending); hit rate – (0/0); agent alone +20.00, "
        "agent + operator +20.00, value added +0.00 (edits +0.00, rejections +0.00, expiries +0.00, "
        "unfilled +0.00); 90% interval coverage – (0/0)")
    by_source = nexus("review", "--by", "source", "--json")
    assert by_source.exit_code == 0, by_source.output
    rows = {r["key"]: r for r in map(json.loads, by_source.output.splitlines())}
    assert set(rows) == {"", "agent-graph", "manual", API_SOURCE}
    assert (rows["agent-graph"]["agent_pnl"], rows["agent-graph"]["actual_pnl"], rows["agent-graph"]["hits"]) == (
        -20.0, 5.0, 3)
    assert (rows[API_SOURCE]["value_rejections"], rows[API_SOURCE]["forecasts"]) == (30.0, 0)


def test_a_blank_source_is_refused(reviewed):
    done = nexus("review", "--source", " ")
    assert done.exit_code == 2 and "source filter must be a non-empty name" in done.output
