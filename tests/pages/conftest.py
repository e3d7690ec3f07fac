"""Page tests: AppTest drives a page script in this process, on the test runtime."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest


@pytest.fixture
def page_app():
    """``page_app("market_data")`` → an AppTest running that page's ``render()``."""

    def build(module: str, timeout: float = 30) -> AppTest:
        script = f"import streamlit as st\nfrom pages import {module}\n{module}.render()\n"
        return AppTest.from_string(script, default_timeout=timeout)

    return build
