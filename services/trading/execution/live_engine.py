"""The Live Engine venue: httpx client to the engine's internal order and portfolio routes (UPSTREAM.md §2).

Every call carries ``Authorization: Bearer <LIVE_ENGINE_SERVICE_API_KEY>``, ``X-Tenant-Id``, ``X-User-Id``
and a fresh ``X-Request-Id``. An order is created with ``idempotencyKey`` = our client order id, so the
engine itself replays a repeated create (same key, same body) and refuses a reuse with another body (409).

Looking an order up by our id: the engine's ``GET /api/internal/orders/{providerOrderId}`` needs the
engine's id, which this client remembers for every order it created or found. For an id it has not seen
(after a restart) it lists ``GET /api/internal/orders`` and matches ``idempotencyKey`` (or
``clientOrderId``). Assumption: the engine echoes one of those on its orders; if it echoes neither, such a
lookup answers None and a resubmit relies on the engine's idempotency replay, which still never places a
second order while the engine remembers the key.

Reads go through the one retry policy (``services.core.http_retry``). A create is sent once per attempt and
never retried blindly: after a failure whose outcome is unknown, the order is looked up first
(``submit_exactly_once``). The optional ``filledQuantity`` field of an order is read when the engine sends
it; otherwise a filled order counts its whole quantity at its ``price``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx

from services.core.config import Settings
from services.core.errors import ConfigError, ServiceUnavailable
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy, send_with_retry
from services.core.redaction import redact
from services.trading.execution.base import (
    FRACTIONAL_LOT,
    Account,
    ExecutionVenue,
    Position,
    VenueConflict,
    VenueOrder,
    VenueOrderRequest,
    VenueRejected,
    VenueUnavailable,
    reported_time,
    submit_exactly_once,
)
from services.trading.execution.statuses import order_status

ORDERS = "/api/internal/orders"
PORTFOLIOS = "/api/internal/portfolios"
_ONCE = RetryPolicy(attempts=1)
_MESSAGE_LIMIT = 300


class LiveEngineVenue(ExecutionVenue):
    """Orders and portfolios at the Live Engine (``LIVE_ENGINE_URL``)."""

    name = "live-engine"
    mode = "LIVE"

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """A client for the engine in ``settings``; tests pass a ``transport``, a fast ``policy`` and ``sleep``."""
        if not (settings.live_engine_url and settings.live_engine_service_api_key):
            raise ConfigError("the Live Engine venue needs LIVE_ENGINE_URL and LIVE_ENGINE_SERVICE_API_KEY")
        self._api_key = settings.live_engine_service_api_key
        self._identity = {"X-Tenant-Id": settings.live_engine_tenant_id, "X-User-Id": settings.live_engine_user_id}
        self._portfolio_id = settings.live_engine_portfolio_id
        self._policy = policy
        self._sleep = sleep
        self._http = httpx.Client(base_url=settings.live_engine_url, timeout=settings.live_engine_timeout_seconds,
                                  transport=transport)
        self._provider_ids: dict[str, str] = {}  # our client order id -> the engine's providerOrderId

    # --- ExecutionVenue --------------------------------------------------------------------------------
    def submit(self, request: VenueOrderRequest) -> VenueOrder:
        """Create the order (``POST /api/internal/orders``), exactly once."""
        body = {
            "symbol": request.symbol,
            "side": request.side,
            "type": request.type,
            "quantity": request.quantity,
            "price": request.limit_price,
            "deploymentId": None,  # console orders belong to no engine deployment
            "idempotencyKey": request.client_order_id,
        }

        def create() -> VenueOrder:
            answer = self._call("POST", ORDERS, body=body, policy=_ONCE)
            return self._remember(request.client_order_id, _resource(answer, "order"))

        return submit_exactly_once(create, lambda: self._find(request.client_order_id, _ONCE),
                                   policy=self._policy, sleep=self._sleep)

    def lookup(self, client_order_id: str, venue_order_id: str | None = None) -> VenueOrder | None:
        """The engine's view of the order, or None when it has no order under this id (read by its
        ``providerOrderId`` when this client or the console knows it)."""
        if venue_order_id:
            self._provider_ids.setdefault(client_order_id, venue_order_id)
        return self._find(client_order_id, self._policy)

    def recover(self, request: VenueOrderRequest) -> VenueOrder:
        """Replay the same keyed create: the engine's idempotency answers with the order it holds under the key
        (it places it, once, only if it never received it), then ``GET`` it for its current state and fills.

        A list of the engine's orders is no answer here: the engine need not echo the key on them (UPSTREAM.md
        §2.2), so "not in the list" does not mean "never received". Never None.
        """
        placed = self.submit(request)
        try:
            return self._find(request.client_order_id, self._policy) or placed
        except VenueUnavailable:
            return placed  # the engine holds it; its fills are read on the next reconciliation

    def _cancel_open(self, order: VenueOrder) -> VenueOrder:
        """``DELETE /api/internal/orders/{providerOrderId}``."""
        answer = self._call("DELETE", f"{ORDERS}/{order.venue_order_id}", policy=self._policy, tolerate_404=True)
        if answer is None:
            raise VenueRejected(f"the Live Engine no longer knows order '{order.client_order_id}'",
                                code="ORDER_NOT_FOUND", status_code=404)
        return self._remember(order.client_order_id, _resource(answer, "order"))

    def account(self) -> Account:
        """The portfolio ``LIVE_ENGINE_PORTFOLIO_ID``, or the sum of every portfolio of the tenant."""
        if self._portfolio_id:
            answer = self._call("GET", f"{PORTFOLIOS}/{self._portfolio_id}", policy=self._policy, tolerate_404=True)
            if answer is None:
                raise VenueRejected(f"the Live Engine has no portfolio '{self._portfolio_id}'; "
                                    "check LIVE_ENGINE_PORTFOLIO_ID", code="PORTFOLIO_NOT_FOUND", status_code=404)
            portfolios = [_resource(answer, "portfolio")]
        else:
            portfolios = _items(self._call("GET", PORTFOLIOS, policy=self._policy))
        positions = tuple(
            Position(symbol=str(p["symbol"]), quantity=_number(p, "quantity"), avg_price=_number(p, "avgPrice"),
                     current_price=_number(p, "currentPrice"), unrealized_pnl=_number(p, "unrealizedPnl"))
            for portfolio in portfolios for p in portfolio.get("positions") or []
        )
        return Account(
            cash=sum(_number(p, "cash") for p in portfolios),
            equity=sum(_number(p, "totalValue") for p in portfolios),
            pnl_total=sum(_number(p, "pnlTotal") for p in portfolios),
            positions=positions, mode=self.mode, venue=self.name,
        )

    def _venue_lot(self, symbol: str) -> float:
        """The engine publishes no instrument rules; it takes fractional quantities (0.1 BTC in its fixtures)."""
        return FRACTIONAL_LOT

    def ping(self) -> None:
        """One authenticated ``GET /api/internal/portfolios``: checks the address and the API key."""
        self._call("GET", PORTFOLIOS, policy=_ONCE)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    # --- internals -------------------------------------------------------------------------------------
    def _find(self, client_order_id: str, policy: RetryPolicy) -> VenueOrder | None:
        provider_id = self._provider_ids.get(client_order_id)
        if provider_id is not None:
            answer = self._call("GET", f"{ORDERS}/{provider_id}", policy=policy, tolerate_404=True)
            return None if answer is None else self._remember(client_order_id, _resource(answer, "order"))
        for order in _items(self._call("GET", ORDERS, policy=policy)):
            if client_order_id in (order.get("idempotencyKey"), order.get("clientOrderId")):
                return self._remember(client_order_id, order)
        return None

    def _remember(self, client_order_id: str, order: dict) -> VenueOrder:
        provider_id = order.get("providerOrderId") or order.get("id")
        if not provider_id:
            raise VenueUnavailable("the Live Engine answered an order without id or providerOrderId",
                                   code="LIVE_ENGINE_BAD_RESPONSE", status_code=502)
        self._provider_ids[client_order_id] = str(provider_id)
        return _to_venue_order(client_order_id, str(provider_id), order)

    def _call(self, method: str, path: str, *, policy: RetryPolicy, body: dict | None = None,
              tolerate_404: bool = False) -> dict | None:
        """Send one request (retried per ``policy``) and return its JSON object; None for a tolerated 404."""
        headers = {
            "Authorization": f"Bearer {self._api_key.get_secret_value()}",
            "X-Request-Id": f"req-console-{uuid.uuid4().hex}",
            **self._identity,
        }
        try:
            response = send_with_retry(lambda: self._http.request(method, path, json=body, headers=headers),
                                       service=f"Live Engine ({method} {path})", policy=policy, sleep=self._sleep)
        except ServiceUnavailable as error:
            status = error.status_code
            raise VenueUnavailable(
                f"{error}; try again when the engine is reachable",
                code="LIVE_ENGINE_REQUEST_FAILED" if status else "LIVE_ENGINE_UNAVAILABLE",
                status_code=status or 502,
            ) from None
        if response.status_code == 404 and tolerate_404:
            return None
        if response.status_code >= 400:
            raise self._refusal(method, path, response)
        try:
            answer = response.json()
        except ValueError:
            raise VenueUnavailable(f"the Live Engine answered {method} {path} with a body that is not JSON",
                                   code="LIVE_ENGINE_BAD_RESPONSE_JSON", status_code=502) from None
        if not isinstance(answer, dict):
            raise VenueUnavailable(f"the Live Engine answered {method} {path} with JSON that is not an object",
                                   code="LIVE_ENGINE_BAD_RESPONSE", status_code=502)
        return answer

    def _refusal(self, method: str, path: str, response: httpx.Response) -> VenueRejected:
        try:
            error = response.json().get("error") or {}
            code, detail = str(error.get("code") or ""), str(error.get("message") or "")
        except (ValueError, AttributeError):
            code, detail = "", response.text
        detail = redact(detail, [self._api_key.get_secret_value()])[:_MESSAGE_LIMIT]
        what = f"the Live Engine refused {method} {path} (HTTP {response.status_code}{' ' + code if code else ''})"
        message = f"{what}: {detail}" if detail else what
        if response.status_code == 409:
            return VenueConflict(f"{message}; this client order id was already used for a different order",
                                 code=code or "IDEMPOTENCY_KEY_CONFLICT", status_code=409)
        if response.status_code in (401, 403):
            message += "; check LIVE_ENGINE_SERVICE_API_KEY"
        return VenueRejected(message, code="LIVE_ENGINE_REQUEST_FAILED", status_code=response.status_code)


def _resource(answer: dict | None, key: str) -> dict:
    """The ``{key: {...}}`` envelope's content."""
    resource = (answer or {}).get(key)
    if not isinstance(resource, dict):
        raise VenueUnavailable(f"the Live Engine answered without the '{key}' object",
                               code="LIVE_ENGINE_BAD_RESPONSE", status_code=502)
    return resource


def _items(answer: dict | None) -> list[dict]:
    """The ``{items: [...]}`` envelope's objects."""
    items = (answer or {}).get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise VenueUnavailable("the Live Engine answered a list without an 'items' array of objects",
                               code="LIVE_ENGINE_BAD_RESPONSE", status_code=502)
    return items


def _number(resource: dict, key: str) -> float:
    value = resource.get(key)
    return 0.0 if value is None else float(value)


def _to_venue_order(client_order_id: str, provider_id: str, order: dict) -> VenueOrder:
    raw_status = str(order.get("status") or "pending")  # the engine's default for a new order
    quantity = _number(order, "quantity")
    reported = order.get("filledQuantity")
    status = order_status("live-engine", raw_status, float(reported or 0.0))
    filled_quantity = float(reported) if reported is not None else (quantity if status == "filled" else 0.0)
    price = order.get("price")
    return VenueOrder(
        client_order_id=client_order_id,
        venue_order_id=provider_id,
        status=status,
        filled_quantity=filled_quantity,
        average_price=float(price) if price is not None and filled_quantity else None,
        fee=None,
        raw_status=raw_status,
        updated_at=reported_time(order.get("updatedAt") or order.get("createdAt")),
    )
