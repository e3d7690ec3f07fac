"""Production mode fails closed: no sign-in configured → refuses to start; with OIDC → only the sign-in button."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.browser import chromium_page
from tests.support.console import ROOT, console_environment, running_console

pytestmark = pytest.mark.e2e
OIDC = {"AUTH_REDIRECT_URI": "http://127.0.0.1:8000/oauth2callback", "AUTH_COOKIE_SECRET": "e2e-cookie-secret",
        "AUTH_CLIENT_ID": "console", "AUTH_CLIENT_SECRET": "e2e-client-secret",
        "AUTH_SERVER_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_production_without_sign_in_refuses_to_start(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port", "0"], cwd=ROOT,
                          env=console_environment(tmp_path, APP_ENV="production"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "APP_ENV=production needs sign-in" in done.stderr


def test_production_with_sign_in_shows_only_the_button(tmp_path):
    with running_console(tmp_path, APP_ENV="production", **OIDC) as url, chromium_page() as page:
        page.goto(url)
        page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Market Data" not in body and "Approvals" not in body and "Overview" not in body
        assert "e2e-client-secret" not in page.content()
