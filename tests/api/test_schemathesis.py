"""Schemathesis against the served OpenAPI spec (in process): no 5xx, every answer matches its documented
schema, status and media type, and bad input gets a 4xx. Few examples per operation, for CI time."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import standalone
from services.core.tokens import SCOPES
from services.knowledge import harvest
from tests.support.api import ADMIN, DAILY_REF, MINUTE_REF, write_daily, write_minutes

schema = schemathesis.openapi.from_asgi("/api/openapi.json", standalone(rate_limit_per_minute=0))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection)


@pytest.fixture
def bearer(runtime) -> dict[str, str]:
    """A token with every scope (and the trader role, for exports) on a runtime with data and knowledge."""
    write_minutes(runtime, days=1)
    write_daily(runtime)
    runtime.knowledge.add_pattern(ADMIN, "Breakout", "breakout", "Buy a break above the 20-day high",
                                  assets=["TEST"])
    harvest.refresh(runtime.knowledge, runtime.engine, runtime.datasets, [MINUTE_REF, DAILY_REF])
    secret = runtime.tokens.issue(ADMIN, "fuzz@bank.com", scopes=list(SCOPES), roles=["trader"])[1]
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_contract(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
