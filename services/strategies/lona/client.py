"""HTTP client of the Lona Gateway (strategies, symbols, backtests, reports) to UPSTREAM §1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from services.core import clock
from services.core.errors import BadInput, ServiceUnavailable
from services.core.http_retry import DEFAULT_POLICY, RetryPolicy, send_with_retry
from services.core.redaction import redact
from services.strategies.lona.errors import (
    DATA_OWNERSHIP_HINT,
    BacktestFailed,
    BacktestTimedOut,
    LonaAuthError,
    LonaError,
    LonaNotConfigured,
    LonaNotFound,
    LonaUnavailable,
)
from services.strategies.lona.failures import DATA_NOT_FOUND, backtest_failure
from services.strategies.lona.results import (
    GeneratedStrategy,
    Page,
    Registration,
    Report,
    ReportStatus,
    Strategy,
    Symbol,
    as_text,
    parse_page,
    parse_report,
    parse_strategy,
    parse_symbol,
)

SERVICE = "Lona Gateway"
SOURCE = "trade-nexus"
PROVIDERS = ("xai", "openai", "anthropic", "google")
PAGE_SIZE = 50
#: creates run once: a retry after a lost answer could create a second strategy, symbol or backtest
ONCE = RetryPolicy(attempts=1)
ALREADY_EXISTS = "resource already exists"
_ERROR_TEXT_CHARS = 300


def _id(value: str, what: str) -> str:
    """An id made safe as one URL path segment; BadInput when empty."""
    if not str(value).strip():
        raise BadInput(f"a {what} id is needed")
    return quote(str(value).strip(), safe="")


def unique_strategy_name(description: str, name: str | None = None) -> str:
    """``name`` (or the description's first 6 words), whitespace collapsed, cut to 64, plus ``-MMDDHHMMSS`` UTC."""
    base = " ".join((name or " ".join(description.split()[:6])).split())[:64]
    return f"{base}-{clock.now():%m%d%H%M%S}"


def check_strategy_code(code: str, filename: str = "strategy.py") -> None:
    """Raise BadInput when ``code`` is empty or not valid Python (line and reason), before any upload."""
    if not code.strip():
        raise BadInput(f"{filename} is empty: a strategy needs Backtrader Python code")
    try:
        compile(code, filename, "exec")
    except SyntaxError as error:
        raise BadInput(f"{filename} line {error.lineno}: {error.msg} (fix the code before uploading)") from None


def check_backtest_request(symbols: list[str], start: date, end: date, initial_cash: float, commission: float) -> None:
    """Raise BadInput for a backtest Lona would refuse: no symbol, empty range, no cash, odd commission."""
    if not symbols:
        raise BadInput("a backtest needs at least one symbol")
    if start >= end:
        raise BadInput(f"the backtest start {start} must be before its end {end}")
    if initial_cash <= 0:
        raise BadInput("initial cash must be more than 0")
    if not 0 <= commission < 1:
        raise BadInput(f"commission {commission} must be a fraction in [0, 1) (0.001 = 0.1 %)")


# --- the client -----------------------------------------------------------------------------------------
class LonaClient:
    """The Lona Gateway over HTTP: every authenticated call sends ``X-API-Key`` and ``X-User-Id``.

    Success bodies are ``{"data": ...}`` (unwrapped; a bare body is accepted). Errors become LonaError
    subclasses with the gateway's status and message; secrets never appear in them. Reads retry with the
    one retry policy; calls that create something run once. ``transport`` lets tests swap the network.
    """

    def __init__(
        self,
        base_url: str,
        agent_id: str,
        token: SecretStr | None = None,
        *,
        agent_name: str = "Trade Nexus Orchestrator",
        registration_secret: SecretStr | None = None,
        token_ttl_days: int = 30,
        timeout_s: float = 60.0,
        generate_timeout_s: float = 180.0,
        retry: RetryPolicy = DEFAULT_POLICY,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url.rstrip("/")
        self.agent_id = agent_id
        self.agent_name = agent_name
        self.token = token
        self.registration_secret = registration_secret
        self.token_ttl_days = token_ttl_days
        self.generate_timeout_s = generate_timeout_s
        self.retry = retry
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> LonaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return redact(text, (self.token, self.registration_secret))

    def _auth_headers(self) -> dict[str, str]:
        if not self.token or not self.token.get_secret_value():
            raise LonaNotConfigured(
                "No Lona token: set LONA_AGENT_TOKEN, or run `nexus lona register` to get one"
            )
        return {"X-API-Key": self.token.get_secret_value(), "X-User-Id": self.agent_id}

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        auth: bool = True,
        headers: dict[str, str] | None = None,
        policy: RetryPolicy | None = None,
        timeout_s: float | None = None,
        **request: Any,
    ) -> Any:
        """Send one request (with the retry policy) and return the unwrapped ``data``; raise LonaError."""
        sent_headers = {**(self._auth_headers() if auth else {}), **(headers or {})}
        if timeout_s is not None:
            request["timeout"] = timeout_s
        last: list[httpx.Response] = []

        def send() -> httpx.Response:
            response = self._http.request(method, path, headers=sent_headers, **request)
            last[:] = [response]
            return response

        try:
            response = send_with_retry(send, service=SERVICE, policy=policy or self.retry, sleep=self._sleep)
        except ServiceUnavailable as error:
            if last:
                raise self._error(last[0], what, retried=str(error)) from None
            raise LonaUnavailable(
                f"{self._redact(str(error))} while {what} ({self.base_url}); check LONA_GATEWAY_URL and try again"
            ) from None
        if response.status_code >= 400:
            raise self._error(response, what)
        if not response.content.strip():
            return None
        try:
            body = response.json()
        except ValueError:
            raise LonaUnavailable(
                f"{SERVICE} answered HTTP {response.status_code} with a body that is not JSON while {what} "
                f"({self._snippet(response)}); check that LONA_GATEWAY_URL ({self.base_url}) is the gateway",
                status_code=response.status_code,
            ) from None
        return body["data"] if isinstance(body, dict) and "data" in body else body

    def _snippet(self, response: httpx.Response) -> str:
        text = " ".join(response.text.split())[:_ERROR_TEXT_CHARS]
        return self._redact(text) or response.reason_phrase or "empty body"

    def _error(self, response: httpx.Response, what: str, retried: str = "") -> LonaError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        found: Any = None
        if isinstance(body, dict):  # {"error": {"code", "message"}}, then FastAPI's {"detail": ...}
            error = body.get("error")
            found = (error.get("message") if isinstance(error, dict) else error) or body.get("detail")
        detail = found if isinstance(found, str) else json.dumps(found) if found else ""
        detail = self._redact(" ".join(detail.split())[:_ERROR_TEXT_CHARS]) or self._snippet(response)
        message = f"Lona API error {status}: {detail} (while {what})"
        hint = ""
        if status == 401:
            hint = (
                f"the Lona token was refused: it has expired (tokens last {self.token_ttl_days} days) or is wrong; "
                "renew it with `nexus lona register` and set LONA_AGENT_TOKEN to the new token"
            )
        elif status == 403:
            hint = "this Lona user lacks the permission; ask the Lona operator to grant it"
        elif DATA_NOT_FOUND.search(detail):
            hint = DATA_OWNERSHIP_HINT
        if retried:
            message += f"; {retried}"
        if hint:
            message += f". {hint}"
        kind = LonaAuthError if status in (401, 403) else LonaNotFound if status == 404 else LonaError
        if status >= 500:
            kind = LonaUnavailable
        return kind(message, status_code=status, detail=detail, hint=hint)

    # --- registration ---------------------------------------------------------------------------------
    def register(self, invite_code: str | None = None) -> Registration:
        """Register this agent and keep the returned token for later calls.

        With a registration secret: one call carrying ``X-Agent-Registration-Secret``. Without: the invite
        flow (``invite_code`` as given, else requested from the gateway), which never sends the secret.
        """
        body: dict[str, Any] = {"agent_id": self.agent_id, "agent_name": self.agent_name, "source": SOURCE}
        headers: dict[str, str] = {}
        secret = self.registration_secret.get_secret_value() if self.registration_secret else ""
        if secret and not invite_code:
            headers["X-Agent-Registration-Secret"] = secret
        else:
            if not invite_code:
                invite = self._call("POST", "/api/v1/agents/request-invite", json=body, auth=False, policy=ONCE,
                                    what="requesting an invite code")
                invite_code = as_text((invite or {}).get("invite_code"))
                if not invite_code:
                    raise LonaUnavailable(f"{SERVICE} gave no invite code; set LONA_AGENT_REGISTRATION_SECRET instead")
            body["invite_code"] = invite_code
        body["expires_in_days"] = self.token_ttl_days
        data = self._call("POST", "/api/v1/agents/register", json=body, auth=False, headers=headers, policy=ONCE,
                          what="registering the agent")
        token = as_text((data or {}).get("token"))
        if not token:
            raise LonaUnavailable(f"{SERVICE} registered the agent but sent no token")
        self.token = SecretStr(token)
        return Registration(
            token=self.token, partner_id=as_text(data.get("partner_id")),
            partner_name=as_text(data.get("partner_name")),
            permissions=[str(p) for p in data.get("permissions") or []], expires_at=data.get("expires_at"),
        )

    # --- strategies -----------------------------------------------------------------------------------
    def create_strategy(
        self, description: str, *, name: str | None = None, provider: str | None = "xai", model: str | None = None
    ) -> GeneratedStrategy:
        """Have Lona generate a Backtrader strategy from ``description`` (long timeout).

        On "resource already exists" (status 400, 409 or none) it retries once under a unique name.
        """
        description = " ".join(description.split())
        if len(description) < 10:
            raise BadInput("a strategy description needs at least 10 characters")
        if provider is not None and provider not in PROVIDERS:
            raise BadInput(f"provider '{provider}' is not one of {', '.join(PROVIDERS)}")
        body = {k: v for k, v in {"description": description, "name": name, "provider": provider,
                                  "model": model}.items() if v}
        try:
            data = self._generate(body)
        except LonaError as error:
            if ALREADY_EXISTS not in str(error).lower() or error.status_code not in (400, 409, None):
                raise
            data = self._generate({**body, "name": unique_strategy_name(description, name)})
        data = data or {}
        return GeneratedStrategy(
            strategy_id=as_text(data.get("strategyId") or data.get("strategy_id") or data.get("id")),
            name=as_text(data.get("name")), code=as_text(data.get("code")),
            explanation=as_text(data.get("explanation")),
        )

    def _generate(self, body: dict) -> Any:
        return self._call("POST", "/api/v1/agent/strategy/create", json=body, policy=ONCE,
                          timeout_s=self.generate_timeout_s, what="generating a strategy")

    def upload_strategy(self, name: str, code: str, description: str | None = None) -> str:
        """Upload Backtrader code as a new strategy; return its id."""
        if not name.strip():
            raise BadInput("a strategy needs a name")
        check_strategy_code(code, name)
        body = {"name": name.strip(), "code": code, "version": "1.0.0", "language": "python"}
        if description:
            body["description"] = description
        data = self._call("POST", "/api/v1/strategies", json=body, policy=ONCE, what="uploading a strategy")
        return as_text((data or {}).get("id"))

    def list_strategies(self, skip: int = 0, limit: int = PAGE_SIZE) -> Page[Strategy]:
        """One page of this user's strategies."""
        data = self._call("GET", "/api/v1/strategies", params={"skip": skip, "limit": limit},
                          what="listing strategies")
        return parse_page(data, parse_strategy, skip, limit)

    def get_strategy(self, strategy_id: str) -> Strategy:
        """One strategy with its code."""
        path = f"/api/v1/strategies/{_id(strategy_id, 'strategy')}"
        return parse_strategy(self._call("GET", path, what=f"reading strategy {strategy_id}"))

    def get_strategy_code(self, strategy_id: str) -> str:
        """A strategy's code."""
        path = f"/api/v1/strategies/{_id(strategy_id, 'strategy')}/code"
        data = self._call("GET", path, what=f"reading the code of strategy {strategy_id}")
        return as_text(data.get("code") if isinstance(data, dict) else data)

    # --- symbols --------------------------------------------------------------------------------------
    def list_symbols(self, skip: int = 0, limit: int = PAGE_SIZE, is_global: bool = False) -> Page[Symbol]:
        """One page of this user's symbols, or of Lona's global ones."""
        params: dict[str, Any] = {"skip": skip, "limit": limit}
        if is_global:
            params["is_global"] = "true"
        data = self._call("GET", "/api/v1/symbols", params=params, what="listing symbols")
        return parse_page(data, parse_symbol, skip, limit)

    def find_symbol(self, name: str, is_global: bool = False, page_size: int = PAGE_SIZE) -> Symbol | None:
        """The symbol called ``name`` (Lona has no name filter, so this walks the pages); None if absent."""
        skip = 0
        while True:
            page = self.list_symbols(skip, page_size, is_global)
            found = next((s for s in page.items if s.name == name), None)
            if found or not page.has_next or not page.items:
                return found
            skip += len(page.items)

    def get_symbol(self, symbol_id: str) -> Symbol:
        """One symbol."""
        path = f"/api/v1/symbols/{_id(symbol_id, 'symbol')}"
        return parse_symbol(self._call("GET", path, what=f"reading symbol {symbol_id}"))

    def upload_symbol(self, name: str, csv: bytes, metadata: dict[str, Any]) -> Symbol:
        """Upload candles (CSV with ``YYYY-MM-DD HH:MM:SS`` UTC timestamps) as symbol ``name``; return it.

        Sent as multipart: ``file`` (data.csv, text/csv) and ``metadata`` (a JSON string, ``name`` included).
        """
        files = {
            "file": ("data.csv", csv, "text/csv"),
            "metadata": (None, json.dumps({**metadata, "name": name}), None),
        }
        data = self._call("POST", "/api/v1/symbols", files=files, policy=ONCE, what=f"uploading symbol {name}")
        symbol_id = as_text((data or {}).get("id"))
        if not symbol_id:
            raise LonaUnavailable(f"{SERVICE} accepted symbol {name} but sent no id")
        return self.get_symbol(symbol_id)

    def delete_symbol(self, symbol_id: str) -> None:
        """Delete one of this user's symbols."""
        self._call("DELETE", f"/api/v1/symbols/{_id(symbol_id, 'symbol')}", what=f"deleting symbol {symbol_id}")

    # --- backtests ------------------------------------------------------------------------------------
    def run_backtest(
        self,
        strategy_id: str,
        data_ids: list[str],
        start: date,
        end: date,
        *,
        initial_cash: float = 100_000.0,
        commission: float = 0.001,
        leverage: float = 1.0,
        buy_on_close: bool = True,
        parameters: list[dict[str, Any]] | None = None,
    ) -> str:
        """Start a backtest of ``strategy_id`` on symbols ``data_ids`` over [start, end]; return the report id."""
        check_backtest_request(data_ids, start, end, initial_cash, commission)
        body: dict[str, Any] = {
            "strategy_id": strategy_id, "data_ids": list(data_ids),
            "start_date": start.isoformat(), "end_date": end.isoformat(),
            "simulation_parameters": {
                "initial_cash": initial_cash,
                "commission_schema": {"commission": commission, "leverage": leverage},
                "buy_on_close": buy_on_close,
            },
        }
        if parameters:
            body["parameters"] = parameters
        data = self._call("POST", "/api/v1/runner/run", json=body, policy=ONCE, what="starting a backtest")
        report_id = as_text((data or {}).get("report_id"))
        if not report_id:
            raise LonaUnavailable(f"{SERVICE} accepted the backtest but sent no report id")
        return report_id

    def report_status(self, report_id: str) -> ReportStatus:
        """Status and progress of a report (progress given in percent is scaled to 0–1)."""
        path = f"/api/v1/reports/{_id(report_id, 'report')}/status"
        data = self._call("GET", path, what=f"polling report {report_id}") or {}
        progress = data.get("progress")
        try:
            progress = None if progress is None else float(progress)
        except (TypeError, ValueError):
            progress = None
        if progress is not None and progress > 1:
            progress /= 100
        return ReportStatus(as_text(data.get("status")).upper() or "PENDING", progress)

    def report(self, report_id: str) -> Report:
        """A report's summary (status, total_stats, error)."""
        path = f"/api/v1/reports/{_id(report_id, 'report')}"
        return parse_report(self._call("GET", path, what=f"reading report {report_id}"))

    def full_report(self, report_id: str) -> dict[str, Any]:
        """The full report: trades, ``backtest_timeline``, parameters and runner diagnostics."""
        path = f"/api/v1/reports/{_id(report_id, 'report')}/full"
        data = self._call("GET", path, what=f"reading the full report {report_id}")
        return data if isinstance(data, dict) else {"data": data}

    def wait_for_report(
        self,
        report_id: str,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 300.0,
        on_status: Callable[[ReportStatus], None] | None = None,
    ) -> Report:
        """Poll until COMPLETED (return the report) or FAILED (raise BacktestFailed, classified).

        ``on_status`` sees every status polled (progress bars, cancellation). Raises BacktestTimedOut
        when the report is not done within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.report_status(report_id)
            if on_status:
                on_status(status)
            if status.status == "COMPLETED":
                return self.report(report_id)
            if status.status == "FAILED":
                raise self.failure(report_id)
            if time.monotonic() + interval_s > deadline:
                raise BacktestTimedOut(report_id, timeout_s, status.status)
            self._sleep(interval_s)

    def failure(self, report_id: str, report: Report | None = None) -> BacktestFailed:
        """The classified BacktestFailed of a failed report (the full report is read on a best-effort basis)."""
        report = report or self.report(report_id)
        try:
            full: Any = self.full_report(report_id)
        except LonaError:
            full = None
        return backtest_failure(report_id, report.error, full)
