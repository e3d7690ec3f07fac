"""``nexus lona`` commands through Typer's runner against the fake gateway: output, exit codes, no secrets."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.lona import app
from tests.fakes.lona_gateway import API, SECRET, TOKEN
from tests.support.strategies import CODE, JAN_1, REF, candles

runner = CliRunner()


@pytest.fixture
def with_data(lona_runtime):
    lona_runtime.datasets.write(REF, candles(JAN_1, 48))


def nexus_lona(*args: str):
    return runner.invoke(app, list(args))


def test_unconfigured_commands_say_what_to_set_and_exit_2(runtime):
    for args in (["strategies", "list"], ["publish", "binance/BTCUSDT/1h"], ["report", "rep-1"]):
        result = nexus_lona(*args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: Lona is not configured: set LONA_AGENT_TOKEN")
        assert result.stderr.count("\n") == 1


def test_register_saves_the_token_without_printing_it(make_runtime, lona_gateway):
    runtime = make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_registration_secret=SECRET)
    result = nexus_lona("register")
    assert result.exit_code == 0, result.output
    assert str(runtime.settings.lona_credentials_path) in result.stdout and "LONA_AGENT_TOKEN" in result.stdout
    new_tokens = lona_gateway.tokens - {TOKEN}
    assert new_tokens and not any(token in result.output for token in new_tokens)
    assert SECRET not in result.output


def test_strategies_create_list_upload_show(lona_runtime, lona_gateway, tmp_path):
    created = nexus_lona("strategies", "create", "--description", "buy when RSI(14) drops below 30",
                         "--name", "RSI dip", "--model", "grok-4")
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("Created strategy strat-") and "class Generated(bt.Strategy)" in created.stdout
    file = tmp_path / "cross.py"
    file.write_text(CODE)
    uploaded = nexus_lona("strategies", "upload", str(file), "--description", "SMA cross")
    assert uploaded.exit_code == 0 and "as strategy strat-" in uploaded.stdout
    strategy_id = uploaded.stdout.split()[-1]
    assert lona_gateway.strategies[strategy_id]["name"] == "cross"
    listed = nexus_lona("strategies", "list", "--limit", "1")
    assert listed.exit_code == 0 and "1 shown (from 1) of 2; next page: --skip 1" in listed.stdout
    shown = nexus_lona("strategies", "show", strategy_id)
    assert shown.exit_code == 0 and "description: SMA cross" in shown.stdout and CODE in shown.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["strategies", "create", "--description", "too short"], "at least 10 characters"),
        (["strategies", "create", "--description", "long enough text", "--provider", "acme"], "provider 'acme'"),
        (["strategies", "upload", "/nonexistent/strategy.py"], "cannot read /nonexistent/strategy.py"),
        (["strategies", "show", "strat-missing"], "404: Strategy strat-missing not found"),
        (["publish", "binance/BTCUSDT"], "must look like exchange/SYMBOL/interval"),
        (["publish", "binance/BTCUSDT/1h", "--start", "2024-13-01"], "--start '2024-13-01' is not a day"),
        (["backtest", "s", "-s", "global-AAPL", "--start", "2024-01-01", "--end", "2024-02-01", "--commission", "2"],
         "commission 2.0 must be a fraction"),
        (["report", "rep-unknown"], "404: Report rep-unknown not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(lona_runtime, args, message):
    result = nexus_lona(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert TOKEN not in result.output


def test_a_syntax_error_in_an_uploaded_file_is_refused(lona_runtime, lona_gateway, tmp_path):
    file = tmp_path / "broken.py"
    file.write_text("class X(:\n")
    result = nexus_lona("strategies", "upload", str(file))
    assert result.exit_code == 2 and "broken line 1" in result.stderr
    assert not lona_gateway.calls("POST", f"{API}/strategies")


def test_publish_uploads_once(with_data, lona_gateway):
    first = nexus_lona("publish", "binance/BTCUSDT/1h", "--start", "2024-01-02", "--end", "2024-01-02")
    again = nexus_lona("publish", "binance/BTCUSDT/1h", "--start", "2024-01-02", "--end", "2024-01-02")
    assert first.exit_code == again.exit_code == 0
    assert first.stdout.startswith("Uploaded binance/BTCUSDT/1h (24 candles) as symbol sym-")
    assert "(BTCUSDT_1h_20240102_20240102)" in first.stdout
    assert again.stdout.startswith("Already on Lona: binance/BTCUSDT/1h") and len(lona_gateway.uploads) == 1


def test_symbols_lists_ours_or_lonas(lona_runtime, lona_gateway):
    result = nexus_lona("symbols", "--global", "--limit", "2")
    assert result.exit_code == 0 and "global-AAPL  AAPL  1d" in result.stdout and "of 5" in result.stdout


def test_backtest_wait_prints_the_report(with_data, lona_gateway):
    strategy_id = next(iter(lona_gateway.strategies), None) or lona_gateway._new_strategy("Cross", CODE, "")["id"]
    result = nexus_lona("backtest", strategy_id, "--symbols", "binance/BTCUSDT/1h,global-AAPL",
                        "--start", "2024-01-01", "--end", "2024-01-02", "--cash", "50000", "--wait")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Backtest rep-" in out and ", global-AAPL (job " in out
    assert "COMPLETED (strategy" in out and "total return  15.23 %" in out and "win rate      62.00 %" in out
    assert "trades        3" in out and "units: read total_return, max_drawdown, win_rate as fractions" in out
    assert "equity: 5 points 2024-01-01 → 2024-01-05, last 57,500.00" in out and "trade history: 3 rows" in out


def test_backtest_without_wait_says_how_to_follow_and_report_reads_it(lona_runtime, lona_gateway):
    strategy_id = lona_gateway._new_strategy("Cross", CODE, "")["id"]
    started = nexus_lona("backtest", strategy_id, "-s", "global-AAPL", "--start", "2024-01-01", "--end", "2024-01-09")
    assert started.exit_code == 0 and "Follow it with: nexus lona report rep-" in started.stdout
    report_id = started.stdout.split()[-1]
    shown = nexus_lona("report", report_id)
    assert shown.exit_code == 0 and f"Report {report_id}: COMPLETED" in shown.stdout


def test_a_failed_backtest_exits_1_with_category_and_stderr(lona_runtime, lona_gateway):
    lona_gateway.outcome = "CODE_ERROR"
    strategy_id = lona_gateway._new_strategy("Cross", CODE, "")["id"]
    result = nexus_lona("backtest", strategy_id, "-s", "global-AAPL", "--start", "2024-01-01", "--end", "2024-01-09",
                        "--wait")
    assert result.exit_code == 1
    assert "FAILED (strategy" in result.stdout and "[CODE_ERROR]" in result.stdout
    assert "stderr: Traceback" in result.stdout and "NameError: name 'sma' is not defined" in result.stdout


def test_a_gateway_that_answers_garbage_exits_1(lona_runtime, lona_gateway):
    lona_gateway.fail("GET", f"{API}/strategies", 200, body="<html>maintenance</html>", content_type="text/html")
    result = nexus_lona("strategies", "list")
    assert result.exit_code == 1 and "not JSON" in result.stderr and "maintenance" in result.stderr


def test_backtest_wait_with_no_worker_runs_the_job_here_like_graph_run_wait(lona_runtime, lona_gateway):
    lona_runtime.queue.immediate = False  # jobs are only queued: no worker takes them
    strategy_id = lona_gateway._new_strategy("Cross", CODE, "")["id"]
    result = nexus_lona("backtest", strategy_id, "-s", "global-AAPL", "--start", "2024-01-01", "--end", "2024-01-09",
                        "--wait")
    assert result.exit_code == 0, result.output
    assert "COMPLETED (strategy" in result.stdout
    assert lona_runtime.jobs.list(kind="lona_backtest")[0].status == "succeeded"
