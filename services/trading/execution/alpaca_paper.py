"""The Alpaca paper venue: alpaca-py's ``TradingClient(paper=True)`` with our client order id on every order.

The SDK runs with ``raw_data=True``: we read the documented JSON fields ourselves, so a status Alpaca adds
later maps to ``failed`` (``statuses.order_status``) instead of failing the SDK's model validation. Every
request has an explicit timeout and the SDK's own retries are off: a create is resent only by
``submit_exactly_once`` after ``GET /v2/orders:by_client_order_id`` says Alpaca does not have it; reads are
single attempts (reconciliation and page refreshes ask again). Alpaca refuses a client order id it has
seen (422), so a refused submit whose id Alpaca knows returns that order. Time in force: the order's when it
names one, else ``gtc`` for crypto (Alpaca takes no ``day`` crypto order) and ``day`` otherwise. Alpaca reports
no lifetime P&L: ``pnl_total`` is the open positions' unrealized P&L.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from services.core.config import Settings
from services.core.errors import ConfigError
from services.core.http_retry import DEFAULT_POLICY, RETRYABLE_STATUS, RetryPolicy
from services.core.redaction import redact
from services.trading.execution.base import (
    Account,
    ExecutionVenue,
    Position,
    VenueOrder,
    VenueOrderRequest,
    VenueRejected,
    VenueUnavailable,
    refuse_reuse,
    reported_time,
    submit_exactly_once,
)
from services.trading.execution.statuses import order_status

LIVE_TRADING_HOST = "api.alpaca.markets"
#: Alpaca takes fractional equity quantities to 9 decimals
_FRACTIONAL_EQUITY_LOT = 1e-9
_MESSAGE_LIMIT = 300


class _TimedTradingClient(TradingClient):
    """``TradingClient`` with a timeout on every request and without the SDK's sleeping retries."""

    def __init__(self, *, timeout_s: float, **kwargs: Any):
        super().__init__(**kwargs)
        self._timeout_s = timeout_s
        self._retry = 0  # the SDK would sleep and resend on 429/504; resending an order is ours to decide

    def _one_request(self, method: str, url: str, opts: dict, retry: int) -> dict:
        return super()._one_request(method, url, {**opts, "timeout": self._timeout_s}, retry)


class AlpacaPaperVenue(ExecutionVenue):
    """Orders and the account at Alpaca's paper trading API."""

    name = "alpaca-paper"
    mode = "PAPER"
    times_in_force = ("day", "gtc")

    def __init__(self, settings: Settings, *, policy: RetryPolicy = DEFAULT_POLICY,
                 sleep: Callable[[float], None] = time.sleep):
        """A client for the paper account of ``ALPACA_API_KEY``; ``ALPACA_BASE_URL`` overrides the address."""
        if not (settings.alpaca_api_key and settings.alpaca_api_secret):
            raise ConfigError("the Alpaca paper venue needs ALPACA_API_KEY and ALPACA_API_SECRET")
        base_url = (settings.alpaca_base_url or "").rstrip("/") or None
        if base_url and urlsplit(base_url).hostname == LIVE_TRADING_HOST:
            raise ConfigError(f"ALPACA_BASE_URL points at Alpaca's live trading API ({LIVE_TRADING_HOST}); "
                              "the alpaca-paper venue trades paper only: use https://paper-api.alpaca.markets")
        self._secrets = (settings.alpaca_api_key.get_secret_value(), settings.alpaca_api_secret.get_secret_value())
        self._client = _TimedTradingClient(
            api_key=self._secrets[0], secret_key=self._secrets[1], paper=True, raw_data=True,
            url_override=base_url, timeout_s=settings.alpaca_timeout_seconds,
        )
        self._policy = policy
        self._sleep = sleep
        self._assets: dict[str, dict] = {}

    # --- ExecutionVenue --------------------------------------------------------------------------------
    def submit(self, request: VenueOrderRequest) -> VenueOrder:
        """``POST /v2/orders`` with ``client_order_id``, exactly once."""
        fields = dict(symbol=request.symbol, qty=request.quantity, side=OrderSide(request.side),
                      time_in_force=self._time_in_force(request), client_order_id=request.client_order_id)
        order_request = (LimitOrderRequest(limit_price=request.limit_price, **fields) if request.type == "limit"
                         else MarketOrderRequest(**fields))

        def send() -> VenueOrder:
            try:
                return _to_venue_order(self._sdk(self._client.submit_order, order_request))
            except VenueRejected:
                # refused because Alpaca has this id already? Then that order is the answer, if it is this one
                existing = self._sdk(self._client.get_order_by_client_id, request.client_order_id, tolerate_404=True)
                if existing is None:
                    raise
                refuse_reuse(request, _as_request(existing), self.name)
                return _to_venue_order(existing)

        return submit_exactly_once(send, lambda: self.lookup(request.client_order_id),
                                   policy=self._policy, sleep=self._sleep)

    def lookup(self, client_order_id: str, venue_order_id: str | None = None) -> VenueOrder | None:
        """``GET /v2/orders:by_client_order_id`` (our id is enough); None when Alpaca has no order under it."""
        order = self._sdk(self._client.get_order_by_client_id, client_order_id, tolerate_404=True)
        return None if order is None else _to_venue_order(order)

    def _cancel_open(self, order: VenueOrder) -> VenueOrder:
        """``DELETE /v2/orders/{id}``, then the order as Alpaca now sees it."""
        self._sdk(self._client.cancel_order_by_id, order.venue_order_id)
        return self.lookup(order.client_order_id) or order

    def account(self) -> Account:
        """``GET /v2/account`` and ``GET /v2/positions``."""
        account = self._sdk(self._client.get_account)
        positions = tuple(
            Position(symbol=p["symbol"], quantity=float(p["qty"]), avg_price=float(p["avg_entry_price"]),
                     current_price=float(p.get("current_price") or p["avg_entry_price"]),
                     unrealized_pnl=float(p.get("unrealized_pl") or 0.0))
            for p in self._sdk(self._client.get_all_positions)
        )
        return Account(cash=float(account["cash"]), equity=float(account["equity"]),
                       pnl_total=sum(p.unrealized_pnl for p in positions), positions=positions,
                       mode=self.mode, venue=self.name)

    def _venue_lot(self, symbol: str) -> float:
        """The asset's ``min_trade_increment`` (crypto), 1e-9 for a fractionable equity, else 1 share."""
        asset = self._asset(symbol)
        if asset.get("min_trade_increment"):
            return float(asset["min_trade_increment"])
        return _FRACTIONAL_EQUITY_LOT if asset.get("fractionable") else 1.0

    def ping(self) -> None:
        """``GET /v2/account``: checks the address and the keys."""
        self._sdk(self._client.get_account)

    # --- internals -------------------------------------------------------------------------------------
    def _asset(self, symbol: str) -> dict:
        if symbol not in self._assets:
            asset = self._sdk(self._client.get_asset, symbol, tolerate_404=True)
            if asset is None:
                raise VenueRejected(f"Alpaca does not list the symbol {symbol}", code="ASSET_NOT_FOUND",
                                    status_code=404)
            self._assets[symbol] = asset
        return self._assets[symbol]

    def _time_in_force(self, request: VenueOrderRequest) -> TimeInForce:
        if request.time_in_force:
            return TimeInForce(request.time_in_force)
        return TimeInForce.GTC if self._asset(request.symbol).get("class") == "crypto" else TimeInForce.DAY

    def _sdk(self, call: Callable[..., Any], *args: Any, tolerate_404: bool = False) -> Any:
        """Run one SDK call, turning its exceptions into venue errors (with the keys redacted)."""
        try:
            return call(*args)
        except APIError as error:
            status = error.status_code
            if status == 404 and tolerate_404:
                return None
            code, detail = _alpaca_error(error)
            detail = redact(detail, self._secrets)[:_MESSAGE_LIMIT]
            message = f"Alpaca answered HTTP {status}: {detail}"
            if status is None or status in RETRYABLE_STATUS:
                raise VenueUnavailable(f"{message}; try again later", code="ALPACA_UNAVAILABLE",
                                       status_code=status) from None
            if status == 401:
                message += "; check ALPACA_API_KEY and ALPACA_API_SECRET"
            raise VenueRejected(message, code=code or "ALPACA_REQUEST_FAILED", status_code=status) from None
        except requests.RequestException as error:
            raise VenueUnavailable(f"Alpaca could not be reached ({type(error).__name__}); try again later",
                                   code="ALPACA_UNAVAILABLE", status_code=502) from None


def _alpaca_error(error: APIError) -> tuple[str, str]:
    """Alpaca's ``{"code": 40310000, "message": ...}`` error body as (code, message)."""
    try:
        return str(error.code), str(error.message)
    except (ValueError, KeyError, TypeError):
        return "", str(error)


def _as_request(order: dict) -> VenueOrderRequest:
    limit = order.get("limit_price")
    return VenueOrderRequest(order["client_order_id"], order["symbol"], order["side"], order["type"],
                             float(order["qty"]), limit_price=None if limit is None else float(limit))


def _to_venue_order(order: dict) -> VenueOrder:
    filled = float(order.get("filled_qty") or 0.0)
    average = order.get("filled_avg_price")
    return VenueOrder(
        client_order_id=order["client_order_id"],
        venue_order_id=str(order["id"]),
        status=order_status("alpaca-paper", order.get("status"), filled),
        filled_quantity=filled,
        average_price=float(average) if average is not None else None,
        fee=None,  # Alpaca charges no commission on orders; regulatory fees come as account activities
        raw_status=str(order.get("status")),
        updated_at=reported_time(order.get("updated_at")),
    )
