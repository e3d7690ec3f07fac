"""A fake Live Engine: the internal order and portfolio routes of UPSTREAM.md §2.2 with §2.6 idempotency."""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from datetime import UTC, datetime

from tests.fakes.server import FakeServer, Request, Response

SERVICE_KEY = "le-service-key-0123456789"
PORTFOLIO = {
    "id": "pf-001",
    "mode": "paper",
    "cash": 15000.0,
    "totalValue": 21000.0,
    "pnlTotal": 1000.0,
    "positions": [
        {"symbol": "BTCUSDT", "quantity": 0.1, "avgPrice": 50000.0, "currentPrice": 60000.0, "unrealizedPnl": 1000.0},
    ],
}


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def _fingerprint(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class FakeLiveEngine(FakeServer):
    """Orders kept by ``idempotencyKey``: the same key and body replay the stored answer (200), the same key
    with another body is a 409 ``IDEMPOTENCY_KEY_CONFLICT``. ``creations`` counts orders really created.

    A new order is ``pending``; a GET that returns it moves it to ``executed`` when ``fill_on_get``.
    ``echo_idempotency_key`` puts the key on the order objects (the client's lookup after a restart needs it).
    """

    def __init__(self, api_key: str = SERVICE_KEY, *, fill_on_get: bool = True, echo_idempotency_key: bool = True):
        super().__init__()
        self.api_key = api_key
        self.fill_on_get = fill_on_get
        self.echo_idempotency_key = echo_idempotency_key
        self.portfolios = [copy.deepcopy(PORTFOLIO)]
        self.orders: dict[str, dict] = {}  # providerOrderId -> order
        self.creations = 0
        self._by_key: dict[str, tuple[str, dict]] = {}  # idempotencyKey -> (fingerprint, stored answer)
        self._state = threading.Lock()
        self.route("POST", "/api/internal/orders")(self._create)
        self.route("GET", "/api/internal/orders")(self._list)
        self.route("GET", "/api/internal/orders/([^/]+)")(self._get)
        self.route("DELETE", "/api/internal/orders/([^/]+)")(self._cancel)
        self.route("GET", "/api/internal/portfolios")(self._portfolios)
        self.route("GET", "/api/internal/portfolios/([^/]+)")(self._portfolio)

    def authorize(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "UNAUTHORIZED", "missing or invalid service key")
        return None

    def _create(self, request: Request) -> Response:
        body = request.json()
        key = body.get("idempotencyKey")
        if not key:
            return _error(400, "VALIDATION_ERROR", "idempotencyKey is required")
        if body.get("type") == "limit" and body.get("price") is None:
            return _error(400, "VALIDATION_ERROR", "a limit order needs a price")
        with self._state:
            if key in self._by_key:
                fingerprint, answer = self._by_key[key]
                if fingerprint != _fingerprint(body):
                    return _error(409, "IDEMPOTENCY_KEY_CONFLICT", f"idempotency key {key} was used with another body")
                return Response(200, copy.deepcopy(answer))
            self.creations += 1
            number = self.creations
            order = {
                "id": f"ord-{number:04d}",
                "providerOrderId": f"le-ord-{number:04d}",
                "symbol": body["symbol"],
                "side": body["side"],
                "type": body["type"],
                "quantity": body["quantity"],
                "price": body.get("price"),
                "status": "pending",
                "deploymentId": body.get("deploymentId"),
                "createdAt": datetime.now(UTC).isoformat(),
            }
            if self.echo_idempotency_key:
                order["idempotencyKey"] = key
            self.orders[order["providerOrderId"]] = order
            answer = {"order": copy.deepcopy(order)}
            self._by_key[key] = (_fingerprint(body), answer)
        return Response(201, answer)

    def held(self, key: str) -> list[dict]:
        """The orders the engine holds under an idempotency key (never more than one), as stored."""
        with self._state:
            if key not in self._by_key:
                return []
            provider_id = self._by_key[key][1]["order"]["providerOrderId"]
            return [copy.deepcopy(self.orders[provider_id])]

    def _seen(self, order: dict) -> dict:
        if self.fill_on_get and order["status"] == "pending":
            order["status"] = "executed"
        return copy.deepcopy(order)

    def _list(self, request: Request) -> Response:
        with self._state:
            items = [self._seen(o) for o in self.orders.values()
                     if request.query.get("status") in (None, o["status"])]
        return Response(200, {"items": items})

    def _get(self, request: Request, provider_id: str) -> Response:
        with self._state:
            order = self.orders.get(provider_id)
            if order is None:
                return _error(404, "ORDER_NOT_FOUND", f"no order {provider_id}")
            return Response(200, {"order": self._seen(order)})

    def _cancel(self, request: Request, provider_id: str) -> Response:
        with self._state:
            order = self.orders.get(provider_id)
            if order is None:
                return _error(404, "ORDER_NOT_FOUND", f"no order {provider_id}")
            if order["status"] == "pending":
                order["status"] = "cancelled"
            return Response(200, {"order": copy.deepcopy(order)})

    def _portfolios(self, request: Request) -> Response:
        return Response(200, {"items": copy.deepcopy(self.portfolios)})

    def _portfolio(self, request: Request, portfolio_id: str) -> Response:
        for portfolio in self.portfolios:
            if portfolio["id"] == portfolio_id:
                return Response(200, {"portfolio": copy.deepcopy(portfolio)})
        return _error(404, "PORTFOLIO_NOT_FOUND", f"no portfolio {portfolio_id}")
