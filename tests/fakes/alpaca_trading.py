"""A fake Alpaca trading API (v2): orders by client order id, account, positions and assets, as alpaca-py reads them.

Decimals are strings and times RFC 3339, as Alpaca sends them; errors are ``{"code": 8 digits, "message"}``.
A market order fills at once at ``prices[symbol]``; a limit order stays ``new``.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from tests.fakes.server import FakeServer, Request, Response

KEY_ID = "PKFAKEKEYID0123456789"
SECRET_KEY = "fake-alpaca-secret-0123456789"
ASSETS = {
    "AAPL": {"class": "us_equity", "exchange": "NASDAQ", "name": "Apple Inc. Common Stock", "fractionable": True},
    "BRK.A": {"class": "us_equity", "exchange": "NYSE", "name": "Berkshire Hathaway Inc.", "fractionable": False},
    "BTCUSD": {"class": "crypto", "exchange": "CRYPTO", "name": "Bitcoin / US Dollar", "fractionable": True,
               "min_order_size": "0.0001", "min_trade_increment": "0.000000001", "price_increment": "1"},
}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, code: int, message: str) -> Response:
    return Response(status, {"code": code, "message": message})


class FakeAlpacaTrading(FakeServer):
    """Alpaca's paper trading API; ``creations`` counts orders really created."""

    def __init__(self, key_id: str = KEY_ID, secret_key: str = SECRET_KEY, cash: float = 100_000.0):
        super().__init__()
        self.key_id, self.secret_key = key_id, secret_key
        self.cash = cash
        self.prices = {"AAPL": 200.0, "BRK.A": 700_000.0, "BTCUSD": 60_000.0}
        self.orders: dict[str, dict] = {}  # id -> order
        self.holdings: dict[str, tuple[float, float]] = {}  # symbol -> (qty, avg entry price)
        self.creations = 0
        self._state = threading.Lock()
        self.route("POST", "/v2/orders")(self._create)
        self.route("GET", "/v2/orders:by_client_order_id")(self._by_client_order_id)
        self.route("DELETE", "/v2/orders/([^/]+)")(self._cancel)
        self.route("GET", "/v2/account")(self._account)
        self.route("GET", "/v2/positions")(self._positions)
        self.route("GET", "/v2/assets/([^/]+)")(self._asset)
        self.route("GET", "/v2/assets")(self._assets)

    def authorize(self, request: Request) -> Response | None:
        if (request.headers.get("apca-api-key-id"), request.headers.get("apca-api-secret-key")) != (
            self.key_id, self.secret_key
        ):
            return _error(401, 40110000, "request is not authorized")
        return None

    def _create(self, request: Request) -> Response:
        body = request.json()
        symbol, side, quantity = body["symbol"], body["side"], float(body["qty"])
        with self._state:
            if any(o["client_order_id"] == body.get("client_order_id") for o in self.orders.values()):
                return _error(422, 40010001, "client_order_id must be unique")
            if symbol not in ASSETS:
                return _error(422, 40010001, f'asset "{symbol}" not found')
            price = float(body.get("limit_price") or self.prices[symbol])
            if side == "buy" and quantity * price > self.cash:
                return _error(403, 40310000, "insufficient buying power")
            self.creations += 1
            now = _now()
            order = {
                "id": str(uuid.uuid4()), "client_order_id": body.get("client_order_id") or str(uuid.uuid4()),
                "created_at": now, "updated_at": now, "submitted_at": now, "filled_at": None, "expired_at": None,
                "canceled_at": None, "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol,
                "asset_class": ASSETS[symbol]["class"], "notional": None, "qty": str(body["qty"]),
                "filled_qty": "0", "filled_avg_price": None, "order_class": "simple", "order_type": body["type"],
                "type": body["type"], "side": side, "time_in_force": body["time_in_force"],
                "limit_price": None if body.get("limit_price") is None else str(body["limit_price"]),
                "stop_price": None, "status": "new", "extended_hours": False, "legs": None, "trail_percent": None,
                "trail_price": None, "hwm": None,
            }
            if body["type"] == "market":
                self._fill(order, self.prices[symbol])
            self.orders[order["id"]] = order
            return Response(200, dict(order))

    def held(self, client_order_id: str) -> list[dict]:
        """The orders Alpaca holds under a client order id, as stored."""
        with self._state:
            return [dict(o) for o in self.orders.values() if o["client_order_id"] == client_order_id]

    def _fill(self, order: dict, price: float) -> None:
        quantity = float(order["qty"]) * (1 if order["side"] == "buy" else -1)
        held, avg = self.holdings.get(order["symbol"], (0.0, 0.0))
        new_held = held + quantity
        self.holdings[order["symbol"]] = (new_held, (held * avg + quantity * price) / new_held if quantity > 0 else avg)
        self.cash -= quantity * price
        order.update(status="filled", filled_qty=order["qty"], filled_avg_price=str(price), filled_at=_now(),
                     updated_at=_now())

    def _by_client_order_id(self, request: Request) -> Response:
        wanted = request.query.get("client_order_id")
        with self._state:
            for order in self.orders.values():
                if order["client_order_id"] == wanted:
                    return Response(200, dict(order))
        return _error(404, 40410000, f"order not found for {wanted}")

    def _cancel(self, request: Request, order_id: str) -> Response:
        with self._state:
            order = self.orders.get(order_id)
            if order is None:
                return _error(404, 40410000, "order not found")
            if order["status"] in ("filled", "canceled", "expired", "rejected"):
                return _error(422, 42210000, "order is not cancelable")
            order.update(status="canceled", canceled_at=_now(), updated_at=_now())
        return Response(204, b"")

    def _account(self, request: Request) -> Response:
        with self._state:
            market_value = sum(q * self.prices[s] for s, (q, _) in self.holdings.items())
            cash = self.cash
        equity = cash + market_value
        return Response(200, {
            "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98", "account_number": "PA3FAKE00001", "status": "ACTIVE",
            "crypto_status": "ACTIVE", "currency": "USD", "buying_power": str(cash), "regt_buying_power": str(cash),
            "daytrading_buying_power": "0", "non_marginable_buying_power": str(cash), "cash": str(cash),
            "accrued_fees": "0", "pending_transfer_in": "0", "portfolio_value": str(equity),
            "pattern_day_trader": False, "trading_blocked": False, "transfers_blocked": False,
            "account_blocked": False, "created_at": "2024-01-02T15:04:05.123456Z", "trade_suspended_by_user": False,
            "multiplier": "1", "shorting_enabled": False, "equity": str(equity), "last_equity": "100000",
            "long_market_value": str(market_value), "short_market_value": "0", "initial_margin": "0",
            "maintenance_margin": "0", "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0,
        })

    def _positions(self, request: Request) -> Response:
        with self._state:
            held = [(s, q, avg) for s, (q, avg) in sorted(self.holdings.items()) if q]
        rows = []
        for symbol, quantity, avg in held:
            price = self.prices[symbol]
            rows.append({
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol,
                "exchange": ASSETS[symbol]["exchange"], "asset_class": ASSETS[symbol]["class"],
                "asset_marginable": False, "avg_entry_price": str(avg), "qty": str(quantity), "side": "long",
                "market_value": str(quantity * price), "cost_basis": str(quantity * avg),
                "unrealized_pl": str((price - avg) * quantity), "unrealized_plpc": str(price / avg - 1),
                "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": str(price),
                "lastday_price": str(price), "change_today": "0", "qty_available": str(quantity),
            })
        return Response(200, rows)

    def _asset(self, request: Request, symbol: str) -> Response:
        if symbol not in ASSETS:
            return _error(404, 40410000, "asset not found")
        return Response(200, _asset_body(symbol))

    def _assets(self, request: Request) -> Response:
        """``GET /v2/assets?status=&asset_class=``: the asset list (Alpaca's master list of symbols)."""
        wanted = request.query.get("asset_class")
        return Response(200, [_asset_body(s) for s, a in ASSETS.items() if wanted in (None, a["class"])])


def _asset_body(symbol: str) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)), "symbol": symbol, "status": "active",
        "tradable": True, "marginable": ASSETS[symbol]["class"] == "us_equity", "shortable": False,
        "easy_to_borrow": False, "attributes": [], **ASSETS[symbol],
    }
