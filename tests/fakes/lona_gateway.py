"""A fake Lona Gateway on loopback: the documented endpoints, ``{data}`` and ``{error}`` envelopes, auth
headers on every call, secret and invite registration, pagination, multipart symbol upload and the
backtest lifecycle PENDING → EXECUTING → COMPLETED or FAILED (one scripted failure per category)."""

from __future__ import annotations

import csv
import email.policy
import io
import json
import re
import uuid
from dataclasses import dataclass
from email.parser import BytesParser

from tests.fakes.server import FakeServer, Request, Response

API = "/api/v1"
TOKEN = "lona-tok-5be1d0c9a7"
SECRET = "reg-secret-8d41f2"
AGENT_ID = "trade-nexus"
LONA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
UPLOAD_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
STATS = {"total_return": 0.1523, "sharpe_ratio": 1.41, "max_drawdown": -0.0832, "win_rate": 0.62, "total_trades": 3}

#: report.error and full-report diagnostics Lona leaves for each failure category
FAILURES = {
    "TIMEOUT_ERROR": ("Runner timed out after 600 seconds", {"runner": {"exit_code": -9, "stdout": "bar 81234"}}),
    "DATA_ERROR": (
        "Backtest could not load its data",
        {"runner": {"logs": [{"level": "ERROR", "message": "Data not found for symbol {data_id}"}]}},
    ),
    "CODE_ERROR": (
        "Strategy raised an exception",
        {"runner": {"exit_code": 1, "stderr": 'Traceback (most recent call last):\n  File "strategy.py", line 14, '
                    "in next\n    if self.sma[0] > self.data.close[0]:\nNameError: name 'sma' is not defined"}},
    ),
    "EXECUTION_ERROR": (
        "Broker rejected order",
        {"diagnostics": {"message": "order value 250000.00 exceeds available cash 100000.00"}},
    ),
}


def ok(data: object, status: int = 200) -> Response:
    """A success in Lona's envelope."""
    return Response(status, {"data": data})


def error(status: int, message: str, code: str = "ERROR") -> Response:
    """An error in Lona's envelope."""
    return Response(status, {"error": {"code": code, "message": message}})


@dataclass
class Upload:
    """A symbol upload as the fake received it."""

    name: str
    metadata: dict
    rows: list[dict[str, str]]
    filename: str
    content_type: str


@dataclass
class Fault:
    """A response forced on the next ``times`` requests matching method and path."""

    method: str
    path: re.Pattern[str]
    response: Response
    times: int


class FakeLonaGateway(FakeServer):
    """In-memory Lona Gateway for one agent. ``outcome`` scripts new backtests: "COMPLETED", one of
    FAILURES' categories, or "HANG" (EXECUTING forever); each phase lasts ``polls_per_phase`` status polls.
    """

    def __init__(self, token: str = TOKEN, agent_id: str = AGENT_ID, registration_secret: str = SECRET):
        super().__init__()
        self.tokens = {token}
        self.agent_id = agent_id
        self.registration_secret = registration_secret
        self.invites: set[str] = set()
        self.strategies: dict[str, dict] = {}
        self.symbols: dict[str, dict] = {}
        self.global_symbols = {f"global-{n}": self._symbol_object(f"global-{n}", n, True, "1d") for n in
                               ("AAPL", "MSFT", "EURUSD", "SPY", "QQQ")}
        self.reports: dict[str, dict] = {}
        self.uploads: list[Upload] = []
        self.outcome = "COMPLETED"
        self.polls_per_phase = 1
        self.total_stats: dict | None = dict(STATS)
        #: the trade history of the next full reports (None: three closed long trades in January 2024)
        self.trades: list[dict] | None = None
        self.faults: list[Fault] = []
        self._routes()

    # --- test controls ------------------------------------------------------------------------------------
    def fail(self, method: str, path: str, status: int, message: str = "boom", times: int = 1,
             body: object = None, content_type: str | None = None, delay_s: float = 0.0) -> None:
        """Answer the next ``times`` matching requests (``path`` a regex) with ``status`` and an error
        envelope, or ``body`` as given, after ``delay_s``."""
        headers = {"Content-Type": content_type} if content_type else {}
        response = Response(status, body if body is not None else {"error": {"code": "ERR", "message": message}},
                            headers, delay_s)
        self.faults.append(Fault(method, re.compile(f"^{path}$"), response, times))

    def _dispatch(self, request: Request) -> Response:
        for fault in self.faults:
            if fault.times and fault.method == request.method and fault.path.match(request.path):
                fault.times -= 1
                with self._lock:
                    self.requests.append(request)
                return fault.response
        return super()._dispatch(request)

    def authed(self, request: Request) -> bool:
        """True when the request carries a live token and this agent's id."""
        return request.headers.get("x-api-key") in self.tokens and request.headers.get("x-user-id") == self.agent_id

    # --- routes -------------------------------------------------------------------------------------------
    def _routes(self) -> None:
        def authenticated(method: str, pattern: str):
            def register(handler):
                def checked(request: Request, *groups: str) -> Response:
                    if not self.authed(request):
                        return error(401, "Invalid or expired API key", "UNAUTHORIZED")
                    return handler(request, *groups)

                self.route(method, API + pattern)(checked)
                return handler

            return register

        self.route("POST", f"{API}/agents/request-invite")(self._request_invite)
        self.route("POST", f"{API}/agents/register")(self._register)
        authenticated("POST", "/agent/strategy/create")(self._generate)
        authenticated("POST", "/strategies")(self._upload_strategy)
        authenticated("GET", "/strategies")(self._list_strategies)
        authenticated("GET", "/strategies/([^/]+)")(self._get_strategy)
        authenticated("GET", "/strategies/([^/]+)/code")(self._get_code)
        authenticated("GET", "/symbols")(self._list_symbols)
        authenticated("POST", "/symbols")(self._upload_symbol)
        authenticated("GET", "/symbols/([^/]+)")(self._get_symbol)
        authenticated("DELETE", "/symbols/([^/]+)")(self._delete_symbol)
        authenticated("POST", "/runner/run")(self._run)
        authenticated("GET", "/reports/([^/]+)/status")(self._status)
        authenticated("GET", "/reports/([^/]+)")(self._report)
        authenticated("GET", "/reports/([^/]+)/full")(self._full_report)

    def _request_invite(self, request: Request) -> Response:
        body = request.json() or {}
        if body.get("agent_id") != self.agent_id or body.get("source") != "trade-nexus":
            return error(400, "agent_id and source are required", "VALIDATION_ERROR")
        code = f"INV-{uuid.uuid4().hex[:8]}"
        self.invites.add(code)
        return ok({"invite_code": code})

    def _register(self, request: Request) -> Response:
        body = request.json() or {}
        secret = request.headers.get("x-agent-registration-secret")
        if secret is not None:
            if secret != self.registration_secret:
                return error(403, "Invalid registration secret", "FORBIDDEN")
        elif body.get("invite_code") not in self.invites:
            return error(400, "A valid invite_code or registration secret is required", "INVALID_INVITE")
        else:
            self.invites.discard(body["invite_code"])
        if body.get("agent_id") != self.agent_id or not body.get("agent_name") or body.get("source") != "trade-nexus":
            return error(400, "agent_id, agent_name and source are required", "VALIDATION_ERROR")
        if not isinstance(body.get("expires_in_days"), int):
            return error(400, "expires_in_days must be an integer", "VALIDATION_ERROR")
        token = f"lona-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return ok({"token": token, "partner_id": "partner-17", "partner_name": body["agent_name"],
                   "permissions": ["strategies", "symbols", "backtests"], "expires_at": "2031-01-31T00:00:00Z"})

    # strategies
    def _new_strategy(self, name: str, code: str, description: str) -> dict | Response:
        if any(s["name"] == name for s in self.strategies.values()):
            return error(409, f"Strategy '{name}': resource already exists", "CONFLICT")
        strategy_id = f"strat-{uuid.uuid4().hex[:10]}"
        self.strategies[strategy_id] = {
            "id": strategy_id, "name": name, "description": description, "version": "1.0.0",
            "version_id": f"v-{strategy_id}", "language": "python", "code": code, "user_id": self.agent_id,
            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
        }
        return self.strategies[strategy_id]

    def _generate(self, request: Request) -> Response:
        body = request.json() or {}
        description = body.get("description") or ""
        if len(description) < 10:
            return Response(422, {"detail": [{"loc": ["body", "description"], "msg": "at least 10 characters"}]})
        name = body.get("name") or " ".join(description.split()[:4])
        code = f"import backtrader as bt\n\n\nclass Generated(bt.Strategy):\n    '''{description}'''\n"
        made = self._new_strategy(name, code, description)
        if isinstance(made, Response):
            return made
        return ok({"strategyId": made["id"], "name": name, "code": code,
                   "explanation": f"Buys when {description.lower()}"})

    def _upload_strategy(self, request: Request) -> Response:
        body = request.json() or {}
        if not body.get("name") or not body.get("code") or body.get("language") != "python" or not body.get("version"):
            return error(422, "name, code, version and language are required", "VALIDATION_ERROR")
        made = self._new_strategy(body["name"], body["code"], body.get("description") or "")
        return made if isinstance(made, Response) else ok({"id": made["id"]}, 201)

    @staticmethod
    def _page(items: list[dict], request: Request) -> Response:
        skip, limit = int(request.query.get("skip", 0)), int(request.query.get("limit", 50))
        if limit < 1 or limit > 100 or skip < 0:
            return error(422, "skip must be >= 0 and limit in 1..100", "VALIDATION_ERROR")
        return ok({"items": items[skip:skip + limit], "has_next": skip + limit < len(items), "total": len(items)})

    def _list_strategies(self, request: Request) -> Response:
        return self._page([{k: v for k, v in s.items() if k != "code"} for s in self.strategies.values()], request)

    def _get_strategy(self, request: Request, strategy_id: str) -> Response:
        found = self.strategies.get(strategy_id)
        return ok(found) if found else error(404, f"Strategy {strategy_id} not found", "NOT_FOUND")

    def _get_code(self, request: Request, strategy_id: str) -> Response:
        found = self.strategies.get(strategy_id)
        return ok({"code": found["code"]}) if found else error(404, f"Strategy {strategy_id} not found", "NOT_FOUND")

    # symbols
    def _symbol_object(self, symbol_id: str, name: str, is_global: bool, frequency: str,
                       first: str | None = None, last: str | None = None, metadata: dict | None = None) -> dict:
        metadata = metadata or {}
        return {
            "id": symbol_id, "name": name, "description": metadata.get("description", ""), "is_global": is_global,
            "file_url": None, "data_range": {"start_timestamp": first, "end_timestamp": last},
            "frequencies": [frequency],
            "type_metadata": {k: metadata.get(k) for k in
                              ("data_type", "exchange", "asset_class", "quote_currency", "column_mapping")},
            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
        }

    def _list_symbols(self, request: Request) -> Response:
        pool = self.global_symbols if request.query.get("is_global") == "true" else self.symbols
        return self._page(list(pool.values()), request)

    def _get_symbol(self, request: Request, symbol_id: str) -> Response:
        found = self.symbols.get(symbol_id) or self.global_symbols.get(symbol_id)
        return ok(found) if found else error(404, f"Symbol {symbol_id} not found", "NOT_FOUND")

    def _delete_symbol(self, request: Request, symbol_id: str) -> Response:
        if self.symbols.pop(symbol_id, None) is None:
            return error(404, f"Symbol {symbol_id} not found", "NOT_FOUND")
        return Response(204, b"")

    def _upload_symbol(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return error(400, f"expected multipart/form-data, got {content_type or 'nothing'}", "VALIDATION_ERROR")
        message = BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in parts or "metadata" not in parts:
            return error(400, "both 'file' and 'metadata' parts are required", "VALIDATION_ERROR")
        try:
            metadata = json.loads(parts["metadata"].get_payload(decode=True))
        except ValueError:
            return error(400, "metadata must be a JSON string", "VALIDATION_ERROR")
        file = parts["file"]
        rows = list(csv.DictReader(io.StringIO(file.get_payload(decode=True).decode())))
        header = list(rows[0]) if rows else []
        if header != UPLOAD_HEADER:
            return error(400, f"CSV header must be {','.join(UPLOAD_HEADER)}, got {','.join(header)}", "BAD_CSV")
        bad = next((i for i, r in enumerate(rows, 1) if not LONA_TIME.match(r["timestamp"])), None)
        if bad:
            return error(400, f"row {bad}: timestamp must be YYYY-MM-DD HH:MM:SS", "BAD_CSV")
        name = metadata.get("name") or ""
        if not name:
            return error(400, "metadata.name is required", "VALIDATION_ERROR")
        self.uploads.append(Upload(name, metadata, rows, file.get_filename(), file.get_content_type()))
        symbol_id = f"sym-{uuid.uuid4().hex[:10]}"
        self.symbols[symbol_id] = self._symbol_object(symbol_id, name, False, metadata.get("frequency", ""),
                                                      rows[0]["timestamp"], rows[-1]["timestamp"], metadata)
        return ok({"id": symbol_id}, 201)

    # backtests
    def _run(self, request: Request) -> Response:
        body = request.json() or {}
        simulation = body.get("simulation_parameters") or {}
        if not body.get("data_ids") or not body.get("start_date") or not body.get("end_date") or not simulation:
            return error(422, "strategy_id, data_ids, start_date, end_date, simulation_parameters required",
                         "VALIDATION_ERROR")
        if body.get("strategy_id") not in self.strategies:
            return error(404, f"Strategy {body.get('strategy_id')} not found", "NOT_FOUND")
        missing = [d for d in body["data_ids"] if d not in self.symbols and d not in self.global_symbols]
        if missing:
            return error(404, f"Symbol {missing[0]} not found", "NOT_FOUND")
        report_id = f"rep-{uuid.uuid4().hex[:10]}"
        self.reports[report_id] = {"id": report_id, "request": body, "outcome": self.outcome, "polls": 0}
        return ok({"report_id": report_id}, 202)

    def _state(self, report: dict) -> tuple[str, float | None]:
        phase = report["polls"] // self.polls_per_phase
        if phase == 0:
            return "PENDING", None
        if phase == 1 or report["outcome"] == "HANG":
            return "EXECUTING", 0.5
        return ("COMPLETED", 1.0) if report["outcome"] == "COMPLETED" else ("FAILED", None)

    def _status(self, request: Request, report_id: str) -> Response:
        report = self.reports.get(report_id)
        if report is None:
            return error(404, f"Report {report_id} not found", "NOT_FOUND")
        status, progress = self._state(report)
        report["polls"] += 1
        return ok({"status": status, "progress": progress})

    def _summary(self, report: dict) -> dict:
        status = self._state(report)[0]
        failed = status == "FAILED"
        return {
            "id": report["id"], "strategy_id": report["request"]["strategy_id"], "status": status,
            "name": f"Backtest {report['id']}", "description": "", "created_at": "2026-01-05T10:00:00Z",
            "updated_at": "2026-01-05T10:01:00Z",
            "total_stats": self.total_stats if status == "COMPLETED" else None,
            "error": FAILURES[report["outcome"]][0] if failed else None,
        }

    def _report(self, request: Request, report_id: str) -> Response:
        report = self.reports.get(report_id)
        return ok(self._summary(report)) if report else error(404, f"Report {report_id} not found", "NOT_FOUND")

    def _full_report(self, request: Request, report_id: str) -> Response:
        report = self.reports.get(report_id)
        if report is None:
            return error(404, f"Report {report_id} not found", "NOT_FOUND")
        full = {**self._summary(report), "parameters": report["request"]["simulation_parameters"]}
        if full["status"] == "FAILED":
            data_id = report["request"]["data_ids"][0]
            diagnostics = json.loads(json.dumps(FAILURES[report["outcome"]][1]).replace("{data_id}", data_id))
            return ok({**full, **diagnostics})
        cash = float(report["request"]["simulation_parameters"]["initial_cash"])
        equity = [cash, cash * 1.04, cash * 0.98, cash * 1.1, cash * 1.15]
        peak = 0.0
        timeline = []
        for day, value in enumerate(equity, 1):
            peak = max(peak, value)
            timeline.append({"date": f"2024-01-0{day}", "equity": value, "drawdown": value / peak - 1})
        trades = self.trades if self.trades is not None else [
            {"entry_date": "2024-01-01", "exit_date": "2024-01-02", "side": "long", "size": 1.0, "pnl": 4000.0},
            {"entry_date": "2024-01-02", "exit_date": "2024-01-03", "side": "long", "size": 1.0, "pnl": -6000.0},
            {"entry_date": "2024-01-03", "exit_date": "2024-01-05", "side": "long", "size": 1.0, "pnl": 17000.0},
        ]
        return ok({**full, "backtest_timeline": timeline, "trades": trades,
                   "runner": {"stdout": "3 trades", "stderr": ""}})
