"""AppTest of the Strategies page against the fake Lona Gateway (jobs inline), and without configuration."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from services.core.auth import Actor, local_operator
from services.market_data.datasets import DatasetRef
from services.strategies import backtests as strategies
from services.strategies.lona.credentials import connect
from tests.fakes.lona_gateway import API
from tests.support.strategies import CODE, JAN_1, candles

REF = "binance/BTCUSDT/1h"

ANA = local_operator("ana")


@pytest.fixture
def with_data(lona_runtime):
    lona_runtime.datasets.write(DatasetRef.parse(REF), candles(JAN_1, 48))
    return lona_runtime


def opened(page_app, tab: str, **params: str) -> AppTest:
    at = page_app("strategies")
    at.query_params.update(tab=tab, **params)
    at.run()
    assert not at.exception, at.exception
    return at


def start(runtime, lona_gateway, outcome: str = "COMPLETED") -> str:
    lona_gateway.outcome = outcome
    strategy_id = strategies.upload_strategy(runtime, f"Cross {outcome}", CODE, actor=ANA)
    return strategies.start_backtest(runtime, strategy_id, [REF], date(2024, 1, 1), date(2024, 1, 2),
                                     actor=ANA).report_id


def test_without_a_token_the_page_says_what_to_set_and_shows_nothing_else(runtime, page_app):
    at = page_app("strategies")
    at.run()
    assert not at.exception
    assert "set LONA_AGENT_TOKEN" in at.warning[0].value and "nexus lona register" in at.warning[0].value
    assert not at.tabs and not at.dataframe and not at.button and not at.selectbox


def test_strategies_are_listed_by_page_and_one_opens_with_its_code(lona_runtime, page_app):
    with connect(lona_runtime.settings) as client:
        ids = [client.upload_strategy(f"Cross {n:02d}", CODE, f"cross number {n}") for n in range(23)]
    at = opened(page_app, "Strategies")
    assert at.dataframe[0].value["name"].tolist() == [f"Cross {n:02d}" for n in range(20)]
    at.get("pagination")[0].set_value(2).run()
    assert at.dataframe[0].value["id"].tolist() == ids[20:]
    at.selectbox(key="open_strategy").select(ids[21]).run()
    assert not at.exception
    assert at.code[0].value == CODE.strip() and at.code[0].language == "python"
    assert "cross number 21" in [t.value for t in at.text]


def test_a_strategy_created_from_a_description_shows_its_code_and_is_listed(lona_runtime, lona_gateway, page_app):
    at = opened(page_app, "Strategies")
    assert "Lona holds no strategy" in at.info[0].value
    at.text_area(key="create_description").input("Buy when RSI drops under 30, sell above 70")
    at.selectbox(key="create_provider").select("anthropic")
    at.text_input(key="create_model").input("claude-sonnet")
    at.button(key="do_create").click().run()
    assert not at.exception
    request = lona_gateway.calls("POST", f"{API}/agent/strategy/create")[0].json()
    assert (request["provider"], request["model"]) == ("anthropic", "claude-sonnet")
    assert "Created strategy strat-" in at.success[0].value
    assert "class Generated(bt.Strategy)" in at.code[0].value
    assert "Buys when buy when rsi drops under 30, sell above 70" in [t.value for t in at.text]
    assert at.dataframe[0].value["name"].tolist() == ["Buy when RSI drops"]
    assert strategies.strategy_history(lona_runtime)[0].provider == "anthropic"


def test_pasted_code_and_a_file_are_uploaded(lona_runtime, lona_gateway, page_app):
    at = opened(page_app, "Strategies")
    at.text_area(key="upload_code").input(CODE)
    at.button(key="do_upload").click().run()
    assert "give the pasted strategy a name" in at.error[0].value
    at.text_area(key="upload_code").input(CODE)
    at.text_input(key="upload_name").input("Pasted")
    at.button(key="do_upload").click().run()
    assert "Uploaded Pasted as strategy strat-" in at.success[0].value
    at.file_uploader(key="upload_file").upload("sma_cross.py", CODE.encode(), "text/x-python")
    at.button(key="do_upload").click().run()
    assert "Uploaded sma_cross as strategy strat-" in at.success[0].value
    assert sorted(s["name"] for s in lona_gateway.strategies.values()) == ["Pasted", "sma_cross"]


def test_a_dataset_is_published_once_and_then_reused(with_data, lona_gateway, page_app):
    at = opened(page_app, "Publish data")
    assert at.selectbox(key="publish_dataset").value == REF
    at.date_input(key=f"publish_days_{REF}").set_value((date(2024, 1, 1), date(2024, 1, 1))).run()
    at.button(key="do_publish").click().run()
    assert "Uploaded 24 candles of binance/BTCUSDT/1h as symbol sym-" in at.success[0].value
    at.button(key="do_publish").click().run()
    assert at.success[0].value.startswith("Already on Lona, reused (nothing uploaded): 24 candles")
    assert len(lona_gateway.uploads) == 1
    published = at.dataframe[0].value
    assert published["symbol"].tolist() == ["BTCUSDT_1h_20240101_20240101"]
    assert published["dataset version"].tolist() == [strategies.published_symbols(with_data)[0].dataset_version]


def test_a_backtest_started_here_completes_and_its_report_shows_metrics_and_curves(with_data, page_app):
    strategy_id = strategies.upload_strategy(with_data, "Cross", CODE, actor=ANA)
    at = opened(page_app, "Backtest")
    at.selectbox(key="backtest_strategy").select(strategy_id)
    at.multiselect(key="backtest_symbols").select(REF).run()
    assert at.date_input(key=f"backtest_days_{REF}").value == (date(2024, 1, 1), date(2024, 1, 2))
    at.number_input(key="backtest_cash").set_value(50_000.0)
    at.button(key="do_backtest").click().run()
    assert not at.exception
    report_id = strategies.backtest_history(with_data)[0].report_id
    published = strategies.published_symbols(with_data)[0].symbol_id
    assert f"Started backtest {report_id} on {published}" in at.success[0].value
    assert at.progress[0].value == 100 and f"{report_id} · completed" in at.progress[0].proto.text
    at.button(key=f"open_{report_id}").click().run()
    assert not at.exception
    assert at.selectbox(key="report").value == report_id and at.query_params["report"] == report_id
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Total return": "15.23 %", "Max drawdown": "8.32 %", "Win rate": "62.00 %",
                       "Sharpe ratio": "1.41", "Trades": "3"}
    assert any(c.value.startswith("Units: read total_return, max_drawdown, win_rate as fractions") for c in at.caption)
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe[0].value["dataset"].tolist() == [REF]
    assert at.dataframe[-1].value["pnl"].tolist() == [4000.0, -6000.0, 17000.0]


def test_a_failed_backtest_shows_its_category_message_and_stderr(with_data, lona_gateway, page_app):
    report_id = start(with_data, lona_gateway, "CODE_ERROR")
    at = opened(page_app, "Report", report=report_id)
    assert at.selectbox(key="report").value == report_id
    assert at.error[0].value == "The backtest failed: CODE_ERROR"
    assert any(t.value.startswith(f"Backtest report {report_id} failed [CODE_ERROR]") for t in at.text)
    assert at.code[0].value.endswith("NameError: name 'sma' is not defined")
    assert not at.get("plotly_chart")


def test_history_lists_strategies_and_backtests_with_their_status(with_data, lona_gateway, page_app):
    done, failed = start(with_data, lona_gateway), start(with_data, lona_gateway, "DATA_ERROR")
    at = opened(page_app, "History")
    backtests, submitted = (d.value for d in at.dataframe)
    assert backtests[["report id", "status"]].values.tolist() == [[failed, "FAILED"], [done, "COMPLETED"]]
    assert backtests["failure"].iloc[0] == "DATA_ERROR" and backtests["progress"].tolist() == [1.0, 1.0]
    assert submitted["origin"].tolist() == ["uploaded", "uploaded"]


def test_a_viewer_sees_everything_but_may_not_submit(with_data, page_app, monkeypatch):
    def viewer() -> Actor:
        return Actor("vic", frozenset({"viewer"}))

    for module in ("components.context", "components.strategy_forms", "pages.strategies"):
        monkeypatch.setattr(f"{module}.current_actor", viewer)
    for tab, buttons in (("Strategies", ("do_create", "do_upload")), ("Publish data", ("do_publish",)),
                         ("Backtest", ("do_backtest",))):
        at = opened(page_app, tab)
        assert all(at.button(key=key).disabled for key in buttons)


def test_a_backtest_nothing_follows_any_more_can_be_followed_again(make_runtime, lona_gateway, page_app):
    from tests.fakes.lona_gateway import TOKEN

    runtime = make_runtime(lona_gateway_url=lona_gateway.url, lona_agent_token=TOKEN,
                           lona_poll_interval_seconds=0.001, lona_poll_timeout_seconds=0.02)
    lona_gateway.outcome = "HANG"
    strategy_id = strategies.upload_strategy(runtime, "Cross", CODE, actor=ANA)
    report_id = strategies.start_backtest(runtime, strategy_id, ["global-SPY"], date(2024, 1, 1), date(2024, 2, 1),
                                          actor=ANA).report_id
    at = opened(page_app, "Backtest")
    assert " · no longer followed: Timed out waiting for report" in at.progress[0].proto.text
    lona_gateway.reports[report_id]["outcome"] = "COMPLETED"
    at.button(key=f"follow_{report_id}").click().run()
    assert not at.exception
    assert strategies.get_backtest(runtime, report_id).status == "COMPLETED"
    at.run()
    assert at.progress[0].proto.text == f"{report_id} · completed"


def test_no_free_text_strategy_no_select_all_and_many_symbols_need_a_confirmation(with_data, page_app):
    for symbol in ("ETHUSDT", "SOLUSDT", "XRPUSDT"):
        with_data.datasets.write(DatasetRef.parse(f"binance/{symbol}/1h"), candles(JAN_1, 48))
    strategy_id = strategies.upload_strategy(with_data, "Cross", CODE, actor=ANA)
    at = opened(page_app, "Backtest")
    assert not at.selectbox(key="backtest_strategy").proto.accept_new_options
    assert at.multiselect(key="backtest_symbols").proto.select_all == 0
    at.selectbox(key="backtest_strategy").select(strategy_id)
    many = [REF, "binance/ETHUSDT/1h", "binance/SOLUSDT/1h", "binance/XRPUSDT/1h"]
    for symbol in many:
        at.multiselect(key="backtest_symbols").select(symbol)
    at.run()
    assert at.button(key="do_backtest").disabled
    assert any("first uploads 4 dataset(s) to Lona" in w.value and "binance/XRPUSDT/1h" in w.value for w in at.warning)
    at.checkbox(key="backtest_confirm").check().run()
    assert not at.button(key="do_backtest").disabled
