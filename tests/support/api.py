"""API test builders: a minute and a daily dataset, an admin, and an in-process client."""

from __future__ import annotations

import anyio
import httpx
import numpy as np
import pandas as pd

from services.core.auth import local_operator
from services.market_data.datasets import DatasetRef
from services.runtime import Runtime
from tests.fakes.candles import synthetic

MINUTE_REF = DatasetRef.of("binance", "BTCUSDT", "1m")
DAILY_REF = DatasetRef.of("sample", "TEST", "1d")
START_MS = 1_704_067_200_000  # 2024-01-01
ADMIN = local_operator("admin@bank.com")


def write_minutes(runtime: Runtime, days: int = 3, ref: DatasetRef = MINUTE_REF) -> pd.DataFrame:
    """``days`` days of synthetic one-minute candles into ``ref``."""
    ts = START_MS + 60_000 * np.arange(days * 1440, dtype="int64")
    frame = pd.DataFrame({"timestamp": ts, **{k: v for k, v in synthetic(ts).items() if k != "trades"}})
    runtime.datasets.write(ref, frame, replace_overlap=True)
    return frame


def write_daily(runtime: Runtime, close: float = 100.0, n: int = 30) -> None:
    """A daily dataset of TEST at a flat ``close`` (the price the risk gate uses)."""
    closes = np.full(n, close)
    frame = pd.DataFrame({"timestamp": START_MS + 86_400_000 * np.arange(n, dtype="int64"), "open": closes,
                          "high": closes * 1.01, "low": closes * 0.99, "close": closes, "volume": np.ones(n)})
    runtime.datasets.write(DAILY_REF, frame, replace_overlap=True)


class Client:
    """A synchronous face on httpx's ASGI transport (the app in process, no socket)."""

    def __init__(self, app, token: str | None = None):
        self.app, self.token = app, token

    def request(self, method: str, url: str, token: str | None = None, **kwargs) -> httpx.Response:
        """One request; ``token`` (or the client's) as the bearer."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if (token or self.token) and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token or self.token}"

        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://console") as client:
                return await client.request(method, url, headers=headers, **kwargs)

        return anyio.run(go)

    def get(self, url: str, **kwargs) -> httpx.Response:
        """GET."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        """POST."""
        return self.request("POST", url, **kwargs)


def problem(response) -> dict:
    """The body of an error answer, checked to be the one error shape: exactly code and message."""
    body = response.json()
    assert set(body) == {"code", "message"} and body["message"]
    return body
