"""Lona signals in the agent graph, against the fake Lona Gateway with its report shapes: the last position of the
latest completed backtest (long/flat/short) and since when, its quality, the bounded tilt, the order card's text,
and every way a signal is missing (Lona down or slow, no completed backtest, a report without the figures)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.graph import app
from components.views.inbox import signal_lines
from components.views.runs import signals_frame
from services.agents.context import as_of
from services.agents.runs import get_run, start_run
from services.agents.signals import Unreadable, last_position, lona_signals, quality_problems, signal_tilts
from services.agents.state import RunParams
from services.core.auth import local_operator
from services.core.errors import BadInput
from services.market_data.datasets import DatasetRef
from services.trading.risk import GateLimits, parse_gate
from tests.fakes.lona_gateway import API, TOKEN
from tests.support.strategies import GOOD, backtested
from tests.support.universe import FAST, params, universe

ANA = local_operator("ana")
GATE = GateLimits()
DAY_MS = 86_400_000


def lona_settings(lona_gateway, **overrides) -> dict:
    return {**FAST, "lona_gateway_url": lona_gateway.url, "lona_agent_token": TOKEN,
            "lona_poll_interval_seconds": 0.001, "lona_poll_timeout_seconds": 5, **overrides}


@pytest.fixture
def signal_runtime(make_runtime, lona_gateway):
    return make_runtime(**lona_settings(lona_gateway))


def run_as_of(runtime, refs) -> datetime:
    """The as-of time of a run on ``refs``: the close of the last daily bar."""
    last = max(runtime.datasets.manifest(DatasetRef.parse(r)).last_ts for r in refs)
    return as_of(last, DAY_MS, datetime.now(UTC))


def day(when: datetime, days_before: int) -> str:
    return f"{when - timedelta(days=days_before):%Y-%m-%d}"


def closed(entry: str, exit_: str, side: str = "long") -> dict:
    return {"entry_date": entry, "exit_date": exit_, "side": side, "size": 10.0, "pnl": 120.0}


def test_a_signal_is_the_last_position_since_when_with_the_backtests_quality(signal_runtime, lona_gateway):
    refs = universe(signal_runtime)
    when = run_as_of(signal_runtime, refs)
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0],
                     [closed(day(when, 40), day(when, 30)),
                      {"entry_date": day(when, 3), "exit_date": None, "side": "long", "size": 10.0, "pnl": None}])
    short = backtested(signal_runtime, lona_gateway, "Breakout", refs[0],
                       [closed(day(when, 50), day(when, 45)), {"entry_date": day(when, 10), "size": -5.0}])
    flat = backtested(signal_runtime, lona_gateway, "Mean reversion", refs[0],
                      [closed(day(when, 20), day(when, 8), side="short")])
    found = lona_signals(signal_runtime, [sma, short, flat], ["AAA", "BBB"], when, GATE)

    signals = {s["strategy"]: s for s in found["symbols"]["AAA"]}
    long_ = signals["SMA cross 20/50"]
    assert (long_["position"], long_["since"], long_["age_days"]) == (
        "long", (when - timedelta(days=3)).isoformat(), pytest.approx(3.0))
    assert (long_["sharpe"], long_["max_drawdown_pct"], long_["trades"], long_["counted"]) == (
        1.12, pytest.approx(8.32), 24, True)
    assert long_["text"] == "SMA cross 20/50 on Lona: long since 3 days, Sharpe 1.12, max drawdown 8.3 %, 24 trades"
    assert long_["dataset_ref"] == refs[0]
    assert (signals["Breakout"]["position"], signals["Breakout"]["age_days"]) == ("short", pytest.approx(10.0))
    assert (signals["Mean reversion"]["position"], signals["Mean reversion"]["since"]) == (
        "flat", (when - timedelta(days=8)).isoformat())
    assert found["tilts"] == {"AAA": pytest.approx(0.0)}  # long + short + flat: no net direction
    # BBB was never backtested: each strategy says so, nothing is invented
    assert [s["reason"] for s in found["skipped"]] == [
        f"no backtest of {n} on BBB was started from this console" for n in ("SMA cross 20/50", "Breakout",
                                                                              "Mean reversion")]
    assert found["symbols"]["BBB"] == []


def test_the_latest_completed_backtest_counts_and_one_without_figures_is_refused(signal_runtime, lona_gateway):
    refs = universe(signal_runtime)
    when = run_as_of(signal_runtime, refs)
    older = [{"entry_date": day(when, 5), "side": "buy", "size": 1.0}]
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0], older)
    backtested(signal_runtime, lona_gateway, "", refs[0], [], outcome="CODE_ERROR", strategy_id=sma)
    (signal,) = lona_signals(signal_runtime, [sma], ["AAA"], when, GATE)["symbols"]["AAA"]
    assert signal["position"] == "long"  # the newer backtest failed: the latest completed one speaks

    failed = backtested(signal_runtime, lona_gateway, "Broken", refs[1], [], outcome="CODE_ERROR")
    nan = backtested(signal_runtime, lona_gateway, "No Sharpe", refs[1], older,
                     stats={**GOOD, "sharpe_ratio": float("nan")})
    missing = backtested(signal_runtime, lona_gateway, "No drawdown", refs[1], older,
                         stats={k: v for k, v in GOOD.items() if k != "max_drawdown"})
    sideless = backtested(signal_runtime, lona_gateway, "No side", refs[1], [{"entry_date": day(when, 5)}])
    found = lona_signals(signal_runtime, [failed, nan, missing, sideless, "strat-gone"], ["BBB"], when, GATE)
    assert found["symbols"]["BBB"] == []
    reasons = {s["strategy"] or s["strategy_id"]: s["reason"] for s in found["skipped"]}
    assert reasons["Broken"] == "no completed backtest of Broken on BBB (latest FAILED)"
    assert "has no usable Sharpe ratio (missing or not a number)" in reasons["No Sharpe"]
    assert "has no usable max drawdown (missing or not a number)" in reasons["No drawdown"]
    assert "its open trade says neither its side nor a signed size" in reasons["No side"]
    assert reasons["strat-gone"] == "strategy strat-gone was not found on Lona"


@pytest.mark.parametrize("fault", [{"status": 503, "message": "upstream restarting"},
                                   {"status": 200, "delay_s": 1.5, "body": {"data": {}}}], ids=["down", "timeout"])
def test_lona_down_or_slow_leaves_the_signals_out_and_asks_once(signal_runtime, make_runtime, lona_gateway, fault):
    refs = universe(signal_runtime)
    when = run_as_of(signal_runtime, refs)
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0],
                     [{"entry_date": day(when, 3), "side": "long"}])
    asked = len(lona_gateway.calls("GET", f"{API}/strategies/{sma}"))
    lona_gateway.fail("GET", f"{API}/strategies/.+", times=5, **fault)
    impatient = make_runtime(**lona_settings(lona_gateway, lona_timeout_seconds=0.3))  # the same records
    found = lona_signals(impatient, [sma, "strat-other"], ["AAA", "BBB"], when, GATE)
    assert found["symbols"] == {"AAA": [], "BBB": []} and found["tilts"] == {}
    assert len(found["skipped"]) == 4 and all(s["reason"].startswith("Lona did not answer") for s in found["skipped"])
    assert len(lona_gateway.calls("GET", f"{API}/strategies/{sma}")) == asked + 1  # no retry, no second strategy
    assert TOKEN not in str(found)


def test_without_a_lona_token_the_step_says_what_to_set(make_runtime):
    runtime = make_runtime(**FAST)
    found = lona_signals(runtime, ["strat-1"], ["AAA"], datetime(2024, 3, 1, tzinfo=UTC), GATE)
    assert found["symbols"] == {"AAA": []} and found["tilts"] == {}
    assert found["strategies"][0]["note"].startswith("Lona is not configured: set LONA_AGENT_TOKEN")
    assert found["skipped"][0]["reason"] == found["strategies"][0]["note"]


def test_the_tilt_and_the_quality_bar_come_from_the_policy():
    def signal(position: str, counted: bool = True) -> dict:
        return {"position": position, "counted": counted}

    signals = {"symbols": {"AAA": [signal("long"), signal("long")], "BBB": [signal("short"), signal("flat")],
                           "CCC": [signal("long", counted=False)], "DDD": []}}
    gate = GateLimits(lonaTiltMax=0.2)
    assert signal_tilts(signals, gate) == {"AAA": pytest.approx(0.2), "BBB": pytest.approx(-0.1)}
    assert signal_tilts(signals, GateLimits(lonaTiltMax=0.0)) == {"AAA": 0.0, "BBB": 0.0}
    assert signal_tilts(None, gate) == {}
    assert quality_problems(1.12, 8.3, 24, GATE) == []
    assert quality_problems(0.3, 45.0, 4, GATE) == ["Sharpe 0.30 below 0.5", "max drawdown 45.0 % above 30 %",
                                                    "4 trades, fewer than 10"]


def test_a_run_naming_strategies_tilts_within_the_bound_and_the_approver_sees_the_signal(signal_runtime,
                                                                                         lona_gateway):
    refs = universe(signal_runtime)
    plain = start_run(signal_runtime, params(refs), local_operator("tester"))
    when = run_as_of(signal_runtime, refs)
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0],
                     [{"entry_date": day(when, 3), "exit_date": None, "side": "long", "size": 10.0}])
    backtested(signal_runtime, lona_gateway, "", refs[1], [{"entry_date": day(when, 6), "side": "short"}],
               strategy_id=sma)
    weak = backtested(signal_runtime, lona_gateway, "Weak", refs[2], [{"entry_date": day(when, 2), "side": "long"}],
                      stats={**GOOD, "sharpe_ratio": 0.2})

    run = start_run(signal_runtime, params(refs, strategies=(sma, weak)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    assert run.params.strategies == (sma, weak)
    signals = run.results.context.signals
    assert signals.tilts == {"AAA": pytest.approx(GATE.lonaTiltMax), "BBB": pytest.approx(-GATE.lonaTiltMax)}
    assert [s.counted for s in signals.symbols["CCC"]] == [False]  # Sharpe 0.2 is below the policy's bar
    before = plain.results.optimizer.allocation.weights
    after = run.results.optimizer.allocation.weights
    assert after["AAA"].before_tilt == pytest.approx(before["AAA"].target)
    assert after["AAA"].signal_tilt == pytest.approx(GATE.lonaTiltMax)
    assert before["AAA"].target <= after["AAA"].target <= before["AAA"].target * (1 + GATE.lonaTiltMax) + 1e-12
    assert after["BBB"].target == pytest.approx(before["BBB"].target * (1 - GATE.lonaTiltMax))  # cut in full
    assert after["CCC"].signal_tilt is None and after["CCC"].target == pytest.approx(before["CCC"].target)
    assert "Signal tilt: AAA +10.0%, BBB -10.0%" in run.rationale["context"].summary
    assert "Lona signal tilt: AAA +10.0%, BBB -10.0%" in run.rationale["optimizer"].summary

    orders = {o.symbol: o for o in signal_runtime.orders.list(run_id=run.id)}
    text = "SMA cross 20/50 on Lona: long since 3 days, Sharpe 1.12, max drawdown 8.3 %, 24 trades"
    assert orders["AAA"].context["signals"][0]["text"] == text
    lines = signal_lines(orders["AAA"].about)
    assert lines[0] == text and lines[-1].startswith("Lona signal tilt +10.0%")
    assert "(not counted: Sharpe 0.20 below 0.5)" in signal_lines(orders["CCC"].about)[0]
    assert "No Lona signal from Weak: no backtest of Weak on AAA" in signal_lines(orders["AAA"].about)[1]
    # the step inspector's table: one row per signal and per strategy that gave none
    frame = signals_frame(get_run(signal_runtime, run.id).results.context.signals)
    assert len(frame) == 6 and set(frame["position"]) == {"long", "short", "no signal"}


def test_a_run_goes_on_without_the_signals_when_lona_is_down(signal_runtime, lona_gateway):
    refs = universe(signal_runtime)
    when = run_as_of(signal_runtime, refs)
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0],
                     [{"entry_date": day(when, 3), "side": "long"}])
    lona_gateway.fail("GET", f"{API}/strategies/.+", 503, "upstream restarting", times=5)
    run = start_run(signal_runtime, params(refs, strategies=(sma,)), local_operator("tester"))
    assert run.status == "awaiting_approval", run.error
    signals = run.results.context.signals
    assert signals.tilts == {} and all(not found for found in signals.symbols.values())
    assert "Lona did not answer" in signals.strategies[0].note
    assert "no signal from" in run.rationale["context"].summary and "Lona did not answer" in (
        run.rationale["context"].summary)
    weights = run.results.optimizer.allocation.weights.values()
    assert all(w.signal_tilt is None and w.before_tilt is None for w in weights)
    order = signal_runtime.orders.list(run_id=run.id)[0]
    assert order.about.signals == () and "Lona did not answer" in order.about.signals_skipped[0].reason


def test_a_run_without_strategies_stores_its_params_and_orders_as_before(signal_runtime):
    refs = universe(signal_runtime)
    plain = params(refs)
    assert "strategies" not in plain.as_dict()
    assert RunParams.from_dict(plain.as_dict()) == plain
    named = params(refs, strategies=(" strat-1 ", "strat-2", ""))
    assert named.strategies == ("strat-1", "strat-2") and named.as_dict()["strategies"] == ["strat-1", "strat-2"]
    assert RunParams.from_dict(named.as_dict()) == named


@pytest.mark.parametrize(("strategies", "message"), [
    (("s1", "s1"), "named more than once"), (tuple(f"s{i}" for i in range(6)), "at most 5 per run"),
    (("a/b",), "is not a Lona strategy id"), (("x" * 101,), "is not a Lona strategy id"),
])
def test_bad_strategy_lists_are_refused(signal_runtime, strategies, message):
    refs = universe(signal_runtime)
    with pytest.raises(BadInput, match=message):
        params(refs, strategies=strategies)


@pytest.mark.parametrize("change", [{"lonaTiltMax": 0.9}, {"lonaTiltMax": -0.1}, {"lonaTiltMax": float("nan")},
                                    {"lonaTiltMax": float("inf")}, {"lonaTiltMax": "0.1"},
                                    {"lonaMinSharpe": float("nan")}, {"lonaMinSharpe": "high"},
                                    {"lonaMaxDrawdownPct": 0}, {"lonaMaxDrawdownPct": 150},
                                    {"lonaMaxDrawdownPct": float("-inf")}, {"lonaMinTrades": 2.5},
                                    {"lonaMinTrades": "10"}, {"lonaMinTrades": -1}])
def test_signal_limits_are_validated_like_the_others(change):
    with pytest.raises(BadInput, match="invalid gate limits"):
        parse_gate({**GATE.model_dump(), **change})


def test_the_cli_names_strategies_and_shows_the_signals(signal_runtime, lona_gateway):
    refs = universe(signal_runtime)
    when = run_as_of(signal_runtime, refs)
    sma = backtested(signal_runtime, lona_gateway, "SMA cross 20/50", refs[0],
                     [{"entry_date": day(when, 3), "side": "long"}])
    runner = CliRunner()
    done = runner.invoke(app, ["run", "--universe", ",".join(refs), "--horizon", "3", "--lookback", "300",
                               "--window", "20", "--no-llm", "--strategy", sma, "--strategy", sma])
    assert done.exit_code == 2 and "named more than once" in done.output
    done = runner.invoke(app, ["run", "--universe", ",".join(refs), "--horizon", "3", "--lookback", "300",
                               "--window", "20", "--no-llm", "--strategy", sma])
    assert done.exit_code == 0, done.output
    run_id = done.output.strip().splitlines()[-1].split()[1]
    shown = runner.invoke(app, ["show", run_id]).output
    assert "signal AAA      SMA cross 20/50 on Lona: long since 3 days, Sharpe 1.12" in shown
    assert "signal BBB      No Lona signal from SMA cross 20/50: no backtest" in shown


def test_a_tradeless_backtest_is_flat_since_its_start_and_unreadable_dates_are_refused():
    start = date(2021, 1, 4)
    assert last_position(pd.DataFrame(), 0, start, "r") == ("flat", datetime(2021, 1, 4, tzinfo=UTC))
    with pytest.raises(Unreadable, match="counts 3 trades but sends no trade history"):
        last_position(pd.DataFrame(), 3, start, "r")
    with pytest.raises(Unreadable, match="exit date 'soon' is not a date"):
        last_position(pd.DataFrame([{"entry_date": "2021-01-05", "exit_date": "soon"}]), 1, start, "r")
