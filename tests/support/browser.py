"""Headless Debian Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator:
    """A fresh page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@contextlib.contextmanager
def chromium_pages(count: int, width: int = 1440, height: int = 900) -> Iterator[list]:
    """``count`` pages in separate browser contexts of one headless Chromium (separate sessions, like two
    operators on two machines)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            contexts = [browser.new_context(viewport={"width": width, "height": height}) for _ in range(count)]
            yield [context.new_page() for context in contexts]
        finally:
            browser.close()
