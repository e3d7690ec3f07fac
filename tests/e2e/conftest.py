"""The app started as a user starts it (`nexus serve`: worker + Streamlit) on a free port, for end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console import running_console


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> Iterator[str]:
    """Base URL of a running console on embedded defaults, with the sample data seeded."""
    with running_console(tmp_path_factory.mktemp("console-home")) as url:
        yield url
