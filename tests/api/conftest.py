"""Fixtures of the API tests: a runtime with a minute and a daily dataset, tokens, and an in-process client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import standalone
from services.runtime import Runtime
from tests.support.api import ADMIN, Client, write_daily, write_minutes


@pytest.fixture
def api_runtime(runtime) -> Runtime:
    """A runtime with a minute dataset (3 days) and a daily TEST dataset."""
    write_minutes(runtime)
    write_daily(runtime)
    return runtime


@pytest.fixture
def tokens(api_runtime) -> dict[str, str]:
    """Secrets of tokens: reader (data:read, trader), proposer (orders:propose), both, none (no scope)."""
    issue = api_runtime.tokens.issue
    return {
        "reader": issue(ADMIN, "reader@bank.com", scopes=["data:read"], roles=["trader"])[1],
        "proposer": issue(ADMIN, "agent@platform.io", scopes=["orders:propose"])[1],
        "other_proposer": issue(ADMIN, "lona@signal.io", scopes=["orders:propose"])[1],
        "none": issue(ADMIN, "viewer@bank.com", roles=["viewer"])[1],
    }


@pytest.fixture
def client(api_runtime) -> Iterator[Client]:
    """The API in process, as ``nexus api`` serves it (no rate limit unless a test builds its own)."""
    yield Client(standalone(rate_limit_per_minute=0))
