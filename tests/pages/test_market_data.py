"""AppTest of the Market Data page: catalog, chart, quality, a bad and a good upload, export."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from services.market_data.datasets import DatasetRef
from services.market_data.seed import seed
from tests.support.market import hourly_csv


@pytest.fixture
def seeded(runtime):
    seed(runtime.datasets)
    return runtime


def test_catalog_lists_the_seeded_datasets_and_the_chart_renders(seeded, page_app):
    at = page_app("market_data")
    at.query_params["dataset"] = "sample/AAPL/1d"
    at.run()
    assert not at.exception
    catalog = at.dataframe[0].value
    assert {"sample/AAPL/1d", "sample/EURUSD/1h", "sample-close/XOM/1d"} <= set(catalog["dataset"])
    assert at.selectbox(key="dataset_choice").value == "sample/AAPL/1d"
    assert len(at.get("plotly_chart")) == 1
    assert any("3,270 candles at 1d" in c.value for c in at.caption)


def test_filter_and_coarser_interval(seeded, page_app):
    at = page_app("market_data")
    at.run()
    at.text_input(key="catalog_filter").input("eurusd").run()
    assert list(at.dataframe[0].value["dataset"]) == ["sample/EURUSD/1h"]
    at.selectbox(key="interval_sample/EURUSD/1h").select("1d").run()
    assert not at.exception
    assert any("at 1d" in c.value for c in at.caption)


def test_bad_upload_shows_the_rule_and_row(seeded, page_app):
    at = page_app("market_data")
    at.session_state["market_tab"] = "Import"
    at.run()
    bad = hourly_csv(10).replace(b",13.0,14.0,12.0,13.0,", b",13.0,11.0,12.0,13.0,", 1)
    at.file_uploader(key="upload_file").upload("bad.csv", bad, "text/csv")
    at.text_input(key="up_symbol").input("TEST")
    at.selectbox(key="up_interval").select("1h")
    at.run()
    assert not at.exception
    assert any("row 4: high < low" in e.value for e in at.error), [e.value for e in at.error]
    assert not [b for b in at.button if b.key == "do_import"]


def test_good_upload_imports_and_png_is_refused(seeded, page_app):
    at = page_app("market_data")
    at.session_state["market_tab"] = "Import"
    at.run()
    at.file_uploader(key="upload_file").upload("good.csv", hourly_csv(24), "text/csv")
    at.text_input(key="up_symbol").input("TEST")
    at.selectbox(key="up_interval").select("1h")
    at.run()
    at.button(key="do_import").click().run()
    assert any("upload/TEST/1h: 24 candles added" in s.value for s in at.success)
    assert seeded.datasets.manifest(DatasetRef.parse("upload/TEST/1h")).rows == 24
    at.file_uploader(key="upload_file").clear().upload("chart.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "text/csv")
    at.run()
    assert any("PNG image" in e.value for e in at.error)


def test_export_offers_a_download(seeded, page_app):
    at = page_app("market_data")
    at.query_params["dataset"] = "sample/GOOG/1d"
    at.session_state["market_tab"] = "Export"
    at.run()
    at.button(key="do_export").click().run()
    assert any("written to exports/GOOG_1d_" in s.value for s in at.success)


def test_only_the_open_tab_runs_so_the_chart_never_waits_for_a_source(seeded, page_app):
    at = page_app("market_data")
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    assert not [w for w in at.selectbox if w.key == "ingest_source"] and not at.file_uploader
    at.session_state["market_tab"] = "Ingest"
    at.run()
    assert at.selectbox(key="ingest_source") and not at.get("plotly_chart")


def test_main_app_boots(seeded):
    at = AppTest.from_file("../../app/main.py", default_timeout=30)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Overview"
