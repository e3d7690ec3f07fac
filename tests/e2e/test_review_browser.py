"""The Review page in a real browser (issue 16 §3), on the constructed history of ``tests/support/review.py``
(decided and reviewed through the services before the console starts): the aggregates worked out by hand are on
screen, every plot tab draws, a filter narrows the headline, and the browser logs no error. The same console serves
the Agent Runs form's Lona strategies picker (issue 16 §2), which takes a strategy id typed in."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from services.core.config import load_settings
from services.runtime import Runtime
from tests.support.browser import chromium_page
from tests.support.console import running_console
from tests.support.review import reviewed_history

pytestmark = pytest.mark.e2e
WAIT = 60_000
PROBE = re.compile(r"/[a-z-]+/_stcore/(host-config|health)$")


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[str]:
    """A served console whose records hold the reviewed constructed history."""
    home = tmp_path_factory.mktemp("review-home")
    runtime, _made = reviewed_history(lambda **settings: Runtime(load_settings(nexus_home=home, **settings)))
    runtime.engine.dispose()
    with running_console(home) as url:
        yield url


def metric(page: Page, label: str) -> str:
    """The value of the metric labelled ``label``."""
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(
        label, exact=True))
    return card.get_by_test_id("stMetricValue").inner_text(timeout=WAIT)


def watch_errors(page: Page, errors: list[str]) -> None:
    """Collect the page's script errors, console errors and failed requests into ``errors``; Streamlit's probe of
    ``/<page>/_stcore/…`` on a deep link (it answers 404, then Streamlit asks the root) is not one."""
    def failed(response) -> None:
        if response.status >= 400 and not (PROBE.search(response.url)):
            errors.append(f"{response.status} {response.url}")

    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", failed)


def test_the_review_page_shows_the_aggregates_worked_out_by_hand(console, tmp_path):
    errors: list[str] = []
    with chromium_page() as page:
        watch_errors(page, errors)
        page.goto(f"{console}/review")
        expect(page.get_by_role("heading", name="Overall at 5 bars")).to_be_visible(timeout=WAIT)
        assert [metric(page, m) for m in ("Hit rate", "Agent alone", "Agent + operator", "Added by edits",
                                          "Added by rejections", "Interval coverage")] == [
            "75%", "-20.00", "+5.00", "+15.00", "+30.00", "50%"]
        for tab in ("Cumulative P&L", "Calibration", "Hit rate and coverage"):
            page.get_by_role("tab", name=tab).click()
            expect(page.locator("[role=tabpanel]:visible .js-plotly-plot")).to_be_visible(timeout=WAIT)
        page.get_by_role("combobox", name="Symbol").click()
        page.get_by_role("option", name="UP", exact=True).click()
        expect(page.get_by_role("heading", name="Symbol UP at 5 bars", exact=True)).to_be_visible(timeout=WAIT)
        page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
        assert not page.get_by_test_id("stException").count()
    assert not errors, errors


def test_agent_runs_offers_a_lona_strategies_picker(console):
    with chromium_page() as page:
        page.goto(f"{console}/agent-runs")
        picker = page.get_by_role("combobox", name="Lona strategies (signals)")
        picker.fill("strat-e2e-1", timeout=WAIT)
        picker.press("Enter")
        expect(page.get_by_test_id("stMultiSelect").filter(has=picker)).to_contain_text("strat-e2e-1")
