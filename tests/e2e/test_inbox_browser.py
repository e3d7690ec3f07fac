"""Two operators in two browser sessions: a decision binds to the terms on the operator's screen.

Operator A edits IBM from 33.1315 to 10 shares; operator B, whose inbox still shows 33.1315, clicks Approve:
B sees "changed by someone else since you looked; nothing was done" with the new terms, nothing is sent.
The proposal is recorded straight into the served console's records (as the graph's approval node does).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from services.core.auth import local_operator
from services.core.config import load_settings
from services.runtime import Runtime
from services.trading.orders import Proposal
from services.trading.risk import Check
from tests.support.browser import chromium_pages
from tests.support.console import running_console

pytestmark = pytest.mark.e2e
STALE = "changed by someone else since you looked; nothing was done"


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[tuple[str, Runtime]]:
    """A served console whose inbox never refreshes by itself during a test (B keeps what it drew)."""
    home = tmp_path_factory.mktemp("inbox-home")
    with running_console(home, INBOX_REFRESH_SECONDS="3600") as url:
        runtime = Runtime(load_settings(nexus_home=home))
        yield url, runtime
        runtime.engine.dispose()


def propose_ibm(runtime: Runtime, quantity: float, run_id: str = "run-e2e") -> str:
    price = runtime.prices.quote("IBM")
    assert price, "the sample IBM dataset is seeded at start"
    (order,) = runtime.orders.propose(run_id, [Proposal(
        "ibm", "IBM", "buy", quantity, price, dataset_ref="sample/IBM/1d",
        checks=[Check("max order notional", True, round(quantity * price, 2), 1e6)],
        context={"rationale": "IBM: the optimizer raises the weight.", "weights": {"current": 0.0, "target": 0.05}})])
    return order.id


def test_approve_after_someone_else_edited_is_refused_with_the_new_terms(console, tmp_path):
    url, runtime = console
    order_id = propose_ibm(runtime, 33.1315)
    with chromium_pages(2) as (a, b):
        for page in (a, b):
            page.goto(f"{url}/approvals")
            page.get_by_role("button", name="BUY 33.1315 IBM", exact=False).wait_for(timeout=60_000)
        approve_b = b.get_by_role("button", name="Approve", exact=True)
        box = approve_b.bounding_box()
        assert box and box["y"] + box["height"] <= 900, box  # reachable without scrolling at 1440×900

        a.get_by_role("button", name="Edit", exact=True).click()
        quantity = a.get_by_label("Quantity (down only)")
        quantity.fill("10")
        quantity.press("Enter")
        a.get_by_role("button", name="Save edit").click()
        expect(a.get_by_text("Edited: now BUY 10 IBM")).to_be_visible(timeout=30_000)

        expect(b.get_by_role("button", name="BUY 33.1315 IBM", exact=False)).to_be_visible()  # B's screen
        approve_b.click()
        warning = b.get_by_text(STALE, exact=False)
        expect(warning).to_be_visible(timeout=30_000)
        expect(warning).to_contain_text("now BUY 10 IBM market on paper")
        expect(b.get_by_role("heading", name="BUY 10 IBM")).to_be_visible()
        b.screenshot(path=str(tmp_path / "b-stale.png"), full_page=True)

    order = runtime.orders.get(order_id)
    assert (order.status, order.quantity, order.approved_by) == ("pending_approval", 10, [])
    assert not [a for a in runtime.orders.audit(subject=order_id) if a.action in ("approve", "submit")]


def test_a_notification_link_opens_its_order(console):
    url, runtime = console
    linked = propose_ibm(runtime, 3, "run-link-a")
    propose_ibm(runtime, 4, "run-link-b")  # newer: the inbox would open it by default
    decided = propose_ibm(runtime, 5, "run-link-c")
    runtime.orders.reject(decided, local_operator("e2e-approver"), "not today")
    with chromium_pages(1) as (page,):
        page.goto(f"{url}/approvals?order={linked}")
        expect(page.get_by_role("heading", name="BUY 3 IBM")).to_be_visible(timeout=60_000)
        page.goto(f"{url}/approvals?order={decided}")
        expect(page.get_by_text("no longer pending: it is rejected", exact=False)).to_be_visible(timeout=60_000)
