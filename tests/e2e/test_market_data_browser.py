"""Headless Chromium opens the Market Data page of the running console and sees the chart drawn."""

from __future__ import annotations

import pytest

from tests.support.browser import chromium_page

pytestmark = pytest.mark.e2e


def test_market_data_chart_is_drawn(app_url, tmp_path):
    with chromium_page() as page:
        page.goto(f"{app_url}/market-data?dataset=sample/GOOG/1d")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        assert page.locator("text=sample/GOOG/1d · shown at 1d").count() >= 1
        page.get_by_text("2,148 candles at 1d").wait_for(timeout=10_000)
        page.screenshot(path=str(tmp_path / "market-data.png"))
