"""Manual orders in a real browser, by two signed-in operators (issue 16 §1).

Ann (trader and approver) enters a ticket on Orders & Portfolio; her own Approvals card has Approve disabled with
the four-eyes reason; Bob (approver), signed in in another browser session, approves it, the worker sends it to the
paper venue and both see it filled; Ann closes part of the position. A resting limit order Ann enters (a double
click: one order) and Bob approves is cancelled by Bob, with a reason, from the order detail. Bad numbers in the
ticket are refused on screen and file nothing. Sign-in goes through a fake OIDC provider speaking the real protocol
(``tests/fakes/oidc.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from services.core.config import load_settings
from services.runtime import Runtime
from tests.fakes.oidc import FakeOIDC
from tests.support.azurite import free_port
from tests.support.browser import chromium_pages
from tests.support.console import running_console

pytestmark = pytest.mark.e2e
ANN, BOB = "ann@desk.example", "bob@desk.example"
WAIT = 60_000


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[tuple[str, FakeOIDC, Runtime]]:
    """A served console with sign-in through the fake provider: Ann trades and approves, Bob approves."""
    home = tmp_path_factory.mktemp("manual-home")
    port = free_port()
    with FakeOIDC() as oidc, running_console(
            home, port=port, APP_ENV="production", ROLE_TRADERS=ANN, ROLE_APPROVERS=f"{ANN},{BOB}",
            **oidc.settings(f"http://127.0.0.1:{port}/oauth2callback")) as url:
        runtime = Runtime(load_settings(nexus_home=home))
        yield url, oidc, runtime
        runtime.engine.dispose()


@pytest.fixture(scope="module")
def operators(console) -> Iterator[tuple[Page, Page]]:
    """Ann's and Bob's browser sessions, signed in once for the module."""
    url, oidc, _runtime = console
    with chromium_pages(2) as (a, b):
        sign_in(a, url, oidc, ANN)
        sign_in(b, url, oidc, BOB)
        yield a, b


def sign_in(page: Page, url: str, oidc: FakeOIDC, email: str) -> None:
    """Sign ``page``'s browser session in as ``email``."""
    page.goto(oidc.login_as_url(email))
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=WAIT)
    expect(page.get_by_text(f"Signed in as {email}", exact=False)).to_be_visible(timeout=WAIT)


def enter_ticket(page: Page, url: str, amount: str, limit: str = "", double_click: bool = False) -> None:
    """Fill the New order ticket for a buy of ``amount`` IBM (a limit order when ``limit`` is given) and enter it."""
    page.goto(f"{url}/orders")
    page.get_by_role("tab", name="New order").click(timeout=WAIT)
    ticket = visible_tab(page)
    ticket.get_by_label("Symbol", exact=True).click()
    page.get_by_role("option", name="IBM", exact=True).click()
    if limit:
        ticket.get_by_text("limit", exact=True).click()
        ticket.get_by_label("Limit price (limit orders)").fill(limit)
    ticket.get_by_label("Quantity or notional").fill(amount)
    ticket.get_by_label("Reason (the approver reads it)").fill("e2e: by hand")
    enter = ticket.get_by_role("button", name="Enter order")
    if double_click:
        enter.dblclick()
    else:
        enter.click()


def visible_tab(page: Page) -> Locator:
    """The tab panel on screen (the others are drawn too, hidden)."""
    return page.locator("[role=tabpanel]:visible")


def entered(page: Page) -> str:
    """The id of the order the ticket just filed, from its outcome on screen."""
    text = page.get_by_text(re.compile(r"^Order \S+ entered: ")).inner_text(timeout=WAIT)
    return text.split()[1]


def test_a_ticket_needs_a_second_person_and_fills(console, operators, tmp_path):
    url, _oidc, runtime = console
    a, b = operators
    for bad, said in (("three", "the quantity must be a number (got 'three')"),
                      ("NaN", "the quantity must be a finite number (got 'NaN')")):
        enter_ticket(a, url, bad)
        expect(a.get_by_text(said, exact=False)).to_be_visible(timeout=WAIT)
    assert runtime.orders.list() == []

    enter_ticket(a, url, "3")
    order_id = entered(a)
    a.goto(f"{url}/approvals?order={order_id}")
    expect(a.get_by_role("heading", name="BUY 3 IBM")).to_be_visible(timeout=WAIT)
    expect(a.get_by_role("button", name="Approve", exact=True)).to_be_disabled()
    expect(a.get_by_text(f"Approve is off: {ANN} entered this order: four eyes", exact=False)).to_be_visible()
    a.screenshot(path=str(tmp_path / "a-own-card.png"), full_page=True)

    b.goto(f"{url}/approvals?order={order_id}")
    expect(b.get_by_role("heading", name="BUY 3 IBM")).to_be_visible(timeout=WAIT)
    b.get_by_role("button", name="Approve", exact=True).click()
    expect(b.get_by_text("Approved, sending to paper: BUY 3 IBM", exact=False)).to_be_visible(timeout=WAIT)
    wait_for_status(runtime, order_id, "filled")
    since = b.get_by_text(re.compile(r"^Since then: now filled 3 of 3 at [0-9.]+ "))
    expect(since).to_be_visible(timeout=WAIT)
    assert len(since.inner_text().split(" at ")[1].split()[0]) <= 12, since.inner_text()  # no float noise
    for page in (a, b):
        page.goto(f"{url}/orders?order={order_id}")
        expect(page.get_by_text("BUY 3 IBM: filled", exact=False)).to_be_visible(timeout=WAIT)
        page.get_by_role("tab", name="Portfolio").click()
        expect(visible_tab(page).get_by_label("Close position")).to_have_value("IBM")
    b.screenshot(path=str(tmp_path / "b-portfolio.png"), full_page=True)
    close = visible_tab(a)
    close.get_by_label("Quantity (empty: all)").fill("1")
    close.get_by_role("button", name="Close position").click()
    expect(a.get_by_text(re.compile(r"^Order \S+ entered: SELL 1 IBM market"))).to_be_visible(timeout=WAIT)
    order = runtime.orders.get(order_id)
    assert (order.entered_by, order.approved_by) == (ANN, [BOB])


def test_a_resting_limit_order_is_cancelled_with_a_reason(console, operators, tmp_path):
    url, _oidc, runtime = console
    far_below = f"{runtime.prices.quote('IBM') / 2:.2f}"
    a, b = operators
    before = len(runtime.orders.list())
    enter_ticket(a, url, "2", limit=far_below, double_click=True)
    order_id = entered(a)
    a.wait_for_timeout(1500)  # a second order would be filed by now
    assert len(runtime.orders.list()) == before + 1  # the double click filed one order
    b.goto(f"{url}/approvals?order={order_id}")
    b.get_by_role("button", name="Approve", exact=True).click(timeout=WAIT)
    wait_for_status(runtime, order_id, "submitted")

    b.goto(f"{url}/orders?order={order_id}")
    reason = b.get_by_label("Why cancel (required)")
    reason.fill("the desk changed its mind")
    reason.press("Enter")
    b.get_by_role("button", name="Cancel order").click()
    expect(b.get_by_text(f"Order {order_id} cancelled", exact=False)).to_be_visible(timeout=WAIT)
    expect(b.get_by_text("BUY 2 IBM: cancelled", exact=False)).to_be_visible()  # the detail drawn after it
    expect(b.get_by_role("combobox", name="Order detail")).to_have_value(re.compile("· cancelled ·"))
    b.screenshot(path=str(tmp_path / "b-cancelled.png"), full_page=True)
    order = runtime.orders.get(order_id)
    assert order.status == "cancelled"
    (cancel,) = [e for e in runtime.orders.audit(subject=order_id) if e.action == "cancel"]
    assert cancel.actor == BOB and "the desk changed its mind" in str(cancel)


def wait_for_status(runtime: Runtime, order_id: str, status: str, timeout_s: float = 60) -> None:
    """Wait until the worker has moved the order to ``status``."""
    deadline = time.monotonic() + timeout_s
    while runtime.orders.get(order_id).status != status:
        assert time.monotonic() < deadline, runtime.orders.get(order_id)
        time.sleep(0.3)
