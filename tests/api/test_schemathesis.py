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
from tests.support.api import ADMIN, write_daily, write_minutes

schema = schemathesis.openapi.from_asgi("/api/openapi.json", standalone(rate_limit_per_minute=0))
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection)


@pytest.fixture
def bearer(runtime) -> dict[str, str]:
    """A token with every scope (and the trader role, for exports) on a runtime with data."""
    write_minutes(runtime, days=1)
    write_daily(runtime)
    secret = runtime.tokens.issue(ADMIN, "fuzz@bank.com", scopes=["data:read", "orders:propose"],
                                  roles=["trader"])[1]
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_contract(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
