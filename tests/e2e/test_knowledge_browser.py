"""Headless Chromium searches the knowledge base on the Knowledge page of the running console."""

from __future__ import annotations

import pytest

from tests.support.browser import chromium_page

pytestmark = pytest.mark.e2e


def test_knowledge_search_answers_in_the_browser(app_url, tmp_path):
    with chromium_page() as page:
        page.goto(f"{app_url}/knowledge")
        page.get_by_role("heading", name="Knowledge").wait_for(timeout=60_000)
        page.get_by_placeholder("e.g. momentum losses in a volatile market").fill("a volatile market")
        page.get_by_role("button", name="Search").click()
        # a fresh console has no item yet unless the worker's first refresh already ran: either answer is honest
        answer = page.get_by_text("Nothing matches these filters.").or_(page.locator('[data-testid="stDataFrame"]'))
        answer.first.wait_for(timeout=90_000)
        page.screenshot(path=str(tmp_path / "knowledge.png"))
