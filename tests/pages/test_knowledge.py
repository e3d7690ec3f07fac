"""AppTest of the Knowledge page: empty state, search with filters, lessons with links, patterns and roles,
regimes on the Market Data chart."""

from __future__ import annotations

import pytest

from services.core.auth import Actor, local_operator
from services.knowledge import harvest
from services.market_data.datasets import DatasetRef
from tests.support.knowledge import backtest_row, calm_then_wild
from tests.support.universe import write


@pytest.fixture
def filled(runtime):
    backtest_row(runtime, "r1", "COMPLETED", {"total_return_pct": 8.0, "sharpe_ratio": 1.1})
    runtime.knowledge.add_pattern(local_operator(), "Gap fade", "mean_reversion", "opening gaps close",
                                  assets=["AAPL"])
    ref = write(runtime, "VOL", calm_then_wild())
    harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [DatasetRef.parse(ref)])
    return runtime


def test_an_empty_knowledge_base_says_where_items_come_from(runtime, page_app):
    at = page_app("knowledge")
    at.run()
    assert not at.exception
    assert any("finished backtests, decided orders" in i.value for i in at.info)
    assert [m.value for m in at.metric] == ["0"] * 5


def test_search_with_filters_and_links_to_the_source(filled, page_app):
    at = page_app("knowledge")
    at.run()
    at.text_input(key="kb_query").input("profitable strategy backtest")
    at.multiselect(key="kb_kinds").select("lesson")
    next(b for b in at.button if b.label == "Search").click()
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["lesson"]
    assert table["source"].iloc[0] == "/strategies?report=r1"
    lessons = at.dataframe[1].value
    assert lessons["source"].iloc[0] == "/strategies?report=r1"


def test_a_viewer_cannot_add_a_pattern(filled, page_app, monkeypatch):
    def viewer() -> Actor:
        return Actor("vic", frozenset({"viewer"}))

    for module in ("components.context", "pages.knowledge"):
        monkeypatch.setattr(f"{module}.current_actor", viewer)
    at = page_app("knowledge")
    at.run()
    add = next(b for b in at.button if b.label == "Add pattern")
    assert add.disabled
    assert next(b for b in at.button if b.key == "kb_refresh").disabled


def test_market_data_chart_shades_the_regimes(filled, page_app):
    at = page_app("market_data")
    at.query_params["dataset"] = "test/VOL/1d"
    at.run()
    assert not at.exception
    figure = at.get("plotly_chart")[0].proto.spec
    assert "rgba(239,83,80,0.16)" in figure and "high vol" in figure
