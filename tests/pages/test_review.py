"""The Review page draws the stored decision review, filtered, and never computes it."""

from __future__ import annotations

import json

import pytest

from services.review import store as review_store
from tests.support.review import API_SOURCE, PROPOSER, RUN, reviewed_history


@pytest.fixture
def reviewed(make_runtime):
    return reviewed_history(make_runtime)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_an_empty_review_says_where_it_comes_from(runtime, page_app):
    at = page_app("review")
    at.run()
    assert not at.exception
    assert any("No decided order reviewed yet" in i.value for i in at.info)


def test_the_page_shows_the_aggregates_plots_and_decisions_of_the_constructed_history(reviewed, page_app):
    _runtime, made = reviewed
    at = page_app("review")
    at.run()
    assert not at.exception, at.exception
    assert (_metric(at, "Hit rate"), _metric(at, "Agent alone"), _metric(at, "Agent + operator")) == (
        "75%", "-20.00", "+5.00")
    assert (_metric(at, "Added by edits"), _metric(at, "Added by rejections")) == ("+15.00", "+30.00")
    assert _metric(at, "Interval coverage") == "50%"  # at the forecast horizon, whichever horizon is chosen
    decisions = at.dataframe[1].value
    assert len(decisions) == 4 and set(decisions["decision"]) == {"approved", "edited", "rejected", "expired"}
    assert f"/orders?order={made['C']}" in set(decisions["order"])
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    pnl = next(c for c in charts if "Cumulative P&L" in c["layout"]["title"]["text"])
    assert [t["y"][-1] for t in pnl["data"]] == [-20.0, 5.0]

    at.selectbox(key="review_operator").set_value("bob")
    at.selectbox(key="review_horizon").set_value("forecast")
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(zip(table["scope"], table["key"], strict=True)) == [("overall", ""), ("operator", "bob")]
    assert _metric(at, "Agent + operator") == "+0.00" and len(at.dataframe[1].value) == 1
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any("Interval coverage: 0 of 1" in c["layout"]["title"]["text"] for c in charts)  # bob's rejection

    at.selectbox(key="review_operator").set_value(None)
    at.selectbox(key="review_run").set_value(RUN)
    at.selectbox(key="review_horizon").set_value("20")
    at.run()
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    # the intervals are held against the forecast horizon whichever horizon the P&L is shown at
    assert any("Interval coverage: 2 of 4 (50%; nominal 90%)" in c["layout"]["title"]["text"] for c in charts)
    rates = next(c for c in charts if "per symbol" in c["layout"]["title"]["text"])
    assert [(t["name"], t["x"]) for t in rates["data"]] == [("hit rate", ["DOWN", "UP"]), ("coverage", ["DOWN", "UP"])]

    at.selectbox(key="review_run").set_value(None)
    at.selectbox(key="review_symbol").set_value("UP")
    at.run()
    assert at.subheader[0].value == "Symbol UP at 20 bars"  # the symbol as it is spelled, not "Symbol up"


def test_the_page_only_reads_stored_rows(reviewed, page_app, monkeypatch):
    runtime, _made = reviewed

    def refuse(*_args, **_kwargs):
        raise AssertionError("the Review page must not compute the review or read candles")

    monkeypatch.setattr(review_store, "refresh", refuse)
    monkeypatch.setattr(review_store, "outcome", refuse)
    monkeypatch.setattr(runtime.datasets, "read", refuse)
    monkeypatch.setattr(runtime.jobs, "submit", refuse)
    at = page_app("review")
    at.run()
    assert not at.exception, at.exception
    assert _metric(at, "Agent alone") == "-20.00"


def test_the_source_filter_shows_manual_and_api_orders_and_says_they_have_no_forecast(make_runtime, page_app):
    _runtime, made = reviewed_history(make_runtime, others=True)
    at = page_app("review")
    at.run()
    assert not at.exception, at.exception
    assert any("carry no forecast" in c.value and "not in the hit rate" in c.value for c in at.caption)
    assert (_metric(at, "Agent alone"), _metric(at, "Agent + operator"), _metric(at, "Hit rate")) == (
        "-30.00", "+25.00", "75%")  # 3 of the graph's 4 forecasts; the manual and API orders have none
    decisions = at.dataframe[1].value
    assert dict(zip(decisions["order"], decisions["proposed by"], strict=True))[f"/orders?order={made['P']}"] == (
        PROPOSER)

    at.selectbox(key="review_source").set_value(API_SOURCE)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(zip(table["scope"], table["key"], strict=True)) == [("overall", ""), ("source", API_SOURCE)]
    assert (_metric(at, "Agent alone"), _metric(at, "Added by rejections"), _metric(at, "Hit rate")) == (
        "-30.00", "+30.00", "–")
    (source,) = set(at.dataframe[1].value["source"])
    assert source == API_SOURCE

    at.selectbox(key="review_horizon").set_value("forecast")
    at.run()
    assert not at.exception
    assert any("have no forecast horizon" in i.value for i in at.info)
