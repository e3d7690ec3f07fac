"""The HTTP API over real HTTP on the running console (``nexus serve``: Streamlit with the API mounted at /api)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pyarrow as pa
import pytest

from services.core.config import load_settings
from services.runtime import Runtime
from tests.support.api import ADMIN, DAILY_REF, write_daily
from tests.support.console import running_console

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[tuple[str, Runtime]]:
    """A console with a TEST daily dataset, and a runtime on its records (to issue tokens and read orders)."""
    home = tmp_path_factory.mktemp("api-console")
    runtime = Runtime(load_settings(nexus_home=home, app_env="local"))
    write_daily(runtime)
    with running_console(home, start_timeout_s=300) as url:
        yield url, runtime


def test_the_mounted_api_serves_docs_data_and_proposals(console):
    url, runtime = console
    spec = httpx.get(f"{url}/api/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")
    docs = httpx.get(f"{url}/api/docs", timeout=10)
    assert docs.status_code == 200 and "/api/static-offline-docs/swagger-ui.css" in docs.text
    anonymous = httpx.get(f"{url}/api/v1/datasets", timeout=10)
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"code", "message"}

    secret = runtime.tokens.issue(ADMIN, "agent@platform.io", scopes=["data:read", "orders:propose"])[1]
    auth = {"Authorization": f"Bearer {secret}"}
    catalog = httpx.get(f"{url}/api/v1/datasets", headers=auth, timeout=30).json()
    assert str(DAILY_REF) in {d["dataset"] for d in catalog}
    arrow = httpx.get(f"{url}/api/v1/candles", params={"dataset": str(DAILY_REF), "format": "arrow"}, headers=auth,
                      timeout=30)
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert arrow.headers["content-encoding"] == "identity"  # not re-compressed by Streamlit's gzip middleware
    assert pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all().num_rows == 30
    cached = httpx.get(f"{url}/api/v1/candles", params={"dataset": str(DAILY_REF), "format": "arrow"},
                       headers={**auth, "If-None-Match": arrow.headers["etag"]}, timeout=30)
    assert cached.status_code == 304

    batch = {"source": "lona-signal", "rationale": "mean reversion",
             "orders": [{"symbol": "TEST", "side": "buy", "quantity": 2}]}
    made = httpx.post(f"{url}/api/v1/proposals", json=batch, headers={**auth, "Idempotency-Key": "e2e-1"}, timeout=30)
    assert made.status_code == 201, made.text
    order_id = made.json()["orders"][0]["id"]
    assert runtime.orders.get(order_id).source == "lona-signal"
    followed = httpx.get(f"{url}/api/v1/orders/{order_id}", headers=auth, timeout=10)
    assert followed.json()["status"] == "pending_approval"
    assert httpx.get(f"{url}/_stcore/health", timeout=10).status_code == 200  # the pages still serve
