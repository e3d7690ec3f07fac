"""Manual orders in a real browser, by two signed-in operators (issue 16 §1).

Ann (trader and approver) enters a ticket on Orders & Portfolio; her own Approvals card has Approve disabled with
the four-eyes reason; Bob (approver), signed in in another browser session, approves it, the worker sends it to the
paper venue and both see it filled. A resting limit order Ann enters and Bob approves is cancelled by Bob, with a
reason, from the order detail. Bad numbers in the ticket are refused on screen and file nothing. Sign-in goes
through a fake OIDC provider speaking the real protocol (``tests/fakes/oidc.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

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


def sign_in(page: Page, url: str, oidc: FakeOIDC, email: str) -> None:
    """Sign ``page``'s browser session in as ``email``."""
    page.goto(oidc.login_as_url(email))
    page.goto(url)
    page.get_by_role("button", name="Sign in").click(timeout=WAIT)
    expect(page.get_by_text(f"Signed in as {email}", exact=False)).to_be_visible(timeout=WAIT)


def test_sign_in(console, tmp_path):
    url, oidc, runtime = console
    with chromium_pages(2) as (a, b):
        sign_in(a, url, oidc, ANN)
        sign_in(b, url, oidc, BOB)
        a.goto(f"{url}/orders")
        a.get_by_role("tab", name="New order").click(timeout=WAIT)
        a.wait_for_timeout(2000)
        a.screenshot(path="/tmp/e2e-ticket.png", full_page=True)
        print(a.inner_text("body"))
