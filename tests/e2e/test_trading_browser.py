"""The trading flow in a real browser: start a graph run, approve one order and reject one in the inbox,
see the fill on the Orders page. The worker of `nexus serve` runs the graph and sends the order."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.browser import chromium_page

pytestmark = pytest.mark.e2e
SLOW = 150_000  # ms: a cold run trains the predictor on this 2-core machine


def test_run_approve_reject_and_see_the_fill(app_url, tmp_path):
    with chromium_page(1400, 1600) as page:
        page.goto(f"{app_url}/agent-runs")
        page.get_by_role("button", name="Start run").click()
        page.get_by_text("The proposed orders wait in the Approvals inbox.").wait_for(timeout=SLOW)

        page.goto(f"{app_url}/approvals")
        lines = page.get_by_role("button", name=re.compile(r"^(BUY|SELL) .* · checks "))  # one per order
        lines.first.wait_for(timeout=60_000)
        proposals = lines.count()
        assert proposals >= 2, page.inner_text("body")[:2000]
        page.get_by_role("button", name="Approve", exact=True).click()  # the open order's
        expect(lines).to_have_count(proposals - 1, timeout=60_000)
        reason = page.get_by_label("Reason to reject")
        reason.fill("spread too wide for this size")
        reason.press("Enter")
        page.get_by_role("button", name="Reject", exact=True).click()
        expect(lines).to_have_count(proposals - 2, timeout=60_000)

        page.goto(f"{app_url}/orders")
        detail = page.get_by_label("Order detail")
        detail.wait_for(timeout=60_000)
        detail.click()  # the order picker lists every order with its status
        options = page.get_by_role("option")
        options.first.wait_for(timeout=10_000)
        statuses = " | ".join(options.all_inner_texts())
        page.screenshot(path=str(tmp_path / "orders.png"), full_page=True)
        assert "· filled ·" in statuses and "· rejected ·" in statuses, statuses
