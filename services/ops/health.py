"""Health of every integration: one bounded check each, run in parallel, cached, remembering since when."""

from __future__ import annotations

import contextlib
import threading
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from huey import RedisHuey, SqliteHuey
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from services.core import clock, db
from services.core.auth import sign_in_config
from services.core.config import Settings
from services.core.redaction import public_url, redactor
from services.core.storage import BlobStore
from services.jobs.queue import last_worker_beat


class Runtime(Protocol):
    """What the health checks read of the process's services (``services.runtime.Runtime`` is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def store(self) -> BlobStore: ...

    @property
    def queue(self) -> SqliteHuey | RedisHuey: ...

#: no check may take longer than this; all run at once, so a report takes about this long at worst
CHECK_TIMEOUT_S = 2.0
#: a worker notes it is alive every minute; this much silence means none is running
WORKER_SILENT_AFTER_S = 180.0
QUEUE_NOT_SHARED = ("PRODUCTION WITHOUT A SHARED QUEUE: jobs go to this replica's own SQLite queue, which no other "
                    "replica's worker reads (they wait until a sweep fails them); set REDIS_URL on every replica")
ALPACA_TRADING_URL = "https://paper-api.alpaca.markets"
ALPACA_DATA_URL = "https://data.alpaca.markets"
BINANCE_PUBLIC_URL = "https://api.binance.com"
XAI_URL = "https://api.x.ai/v1"


@dataclass(frozen=True)
class Outcome:
    """What one probe found: configured or not, reachable or not (None when not configured), and why."""

    configured: bool
    ok: bool | None
    detail: str


def not_configured(detail: str) -> Outcome:
    """The integration is not set up, so nothing was checked."""
    return Outcome(False, None, detail)


@dataclass(frozen=True)
class Check:
    """One integration's line in a report."""

    name: str
    title: str
    required: bool
    configured: bool
    ok: bool | None
    detail: str
    latency_ms: float | None
    checked_at: datetime
    since: datetime  # first time this process saw the check in its current state

    @property
    def state(self) -> str:
        """``up``, ``down`` or ``not configured``."""
        return "not configured" if self.ok is None else "up" if self.ok else "down"

    def as_dict(self, details: bool = True) -> dict[str, Any]:
        """JSON-ready fields; without ``details`` the detail (hosts, paths, what is missing) is left out."""
        fields = {
            "name": self.name, "title": self.title, "required": self.required, "configured": self.configured,
            "ok": self.ok, "state": self.state, "detail": self.detail,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "checked_at": self.checked_at.isoformat(), "since": self.since.isoformat(),
        }
        if not details:
            del fields["detail"]
        return fields


@dataclass(frozen=True)
class HealthReport:
    """Every check at one moment."""

    checks: tuple[Check, ...]
    checked_at: datetime

    @property
    def serving(self) -> bool:
        """True while every required integration (blob store, records database) is up."""
        return all(check.ok for check in self.checks if check.required)

    @property
    def status(self) -> str:
        """``ok``, ``degraded`` (an optional integration is down) or ``down`` (a required one is)."""
        if not self.serving:
            return "down"
        return "degraded" if any(check.ok is False for check in self.checks) else "ok"

    def check(self, name: str) -> Check:
        """The check called ``name``."""
        return next(check for check in self.checks if check.name == name)

    def as_dict(self, details: bool = True) -> dict[str, Any]:
        """The body of ``GET /health`` (see ``Check.as_dict`` for ``details``)."""
        return {
            "status": self.status, "service": "trade-nexus-console", "checked_at": self.checked_at.isoformat(),
            "required": [check.name for check in self.checks if check.required],
            "checks": [check.as_dict(details) for check in self.checks],
        }


def describe_failure(error: BaseException) -> str:
    """One line saying what went wrong: the exception's type and the first line of its message."""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.TransportError):
        return f"could not connect ({type(error).__name__})"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


# --- probes ------------------------------------------------------------------------------------------------
def _reach(target: str, action: Callable[[], str | None]) -> Outcome:
    """Up with ``target`` (and what ``action`` said) when ``action`` returns, down with the reason when it raises."""
    try:
        said = action()
    except Exception as error:  # whatever a dependency raises is a finding about it, not a crash of the check
        return Outcome(True, False, f"{target}: {describe_failure(error)}")
    return Outcome(True, True, f"{target}: {said}" if said else target)


def _http_get(url: str, timeout_s: float, headers: dict[str, str] | None = None,
              params: dict[str, str] | None = None, accept: Callable[[int], bool] = lambda s: s < 300) -> Outcome:
    """GET ``url`` once with ``timeout_s``; up when ``accept(status)``. Only the status is reported, never the body."""
    target = public_url(url)
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            status = client.get(url, headers=headers, params=params).status_code
    except httpx.HTTPError as error:
        return Outcome(True, False, f"{target}: {describe_failure(error)}")
    refused = " (credentials refused)" if status in (401, 403) else ""
    return Outcome(True, accept(status), f"{target}: HTTP {status}{refused}")


def _both(first: Outcome, second: Outcome) -> Outcome:
    return Outcome(True, bool(first.ok and second.ok), f"{first.detail}; {second.detail}")


def _database_target(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {parsed.database}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"PostgreSQL {parsed.host}{port}/{parsed.database}"


def check_blob(runtime: Runtime, timeout_s: float) -> Outcome:
    """The blob store answers (Azure: lists a container; local folder: is writable)."""

    def ping() -> str:
        store = runtime.store
        store.ping()
        return store.describe()

    return _reach("blob store", ping)


def check_database(runtime: Runtime, timeout_s: float) -> Outcome:
    """The records database answers ``SELECT 1`` (its schema migrated on first use)."""
    return _reach(_database_target(runtime.settings.records_url), lambda: db.ping(runtime.engine))


def check_queue(runtime: Runtime, timeout_s: float) -> Outcome:
    """The Huey storage answers, and a worker noted it was alive in the last few minutes."""
    queue = runtime.queue
    backend = "Redis" if isinstance(queue, RedisHuey) else f"SQLite {getattr(queue.storage, 'filename', 'in memory')}"
    try:
        pending = queue.pending_count()
        beat = last_worker_beat(queue)
    except Exception as error:  # the storage itself is unreachable
        return Outcome(True, False, f"{backend}: {describe_failure(error)}")
    where = f"{backend}, {pending} task(s) waiting"
    if runtime.settings.queue_is_per_replica:
        return Outcome(True, False, f"{QUEUE_NOT_SHARED}; {where}")
    if beat is None:
        return Outcome(True, False, f"{where}; no worker has reported yet (is `nexus serve` or a worker running?)")
    silent_s = (clock.now() - beat).total_seconds()
    alive = silent_s <= WORKER_SILENT_AFTER_S
    return Outcome(True, alive, f"{where}; a worker reported {silent_s:.0f} s ago" if alive
                   else f"{where}; no worker since {beat:%Y-%m-%d %H:%M} UTC")


def check_live_engine(runtime: Runtime, timeout_s: float) -> Outcome:
    """Any answer below 500 to a plain GET of the base URL (as the upstream CLI checks it)."""
    settings = runtime.settings
    if not settings.live_engine_url:
        return not_configured("LIVE_ENGINE_URL not set (EXECUTION_VENUE=live-engine needs it)")
    return _http_get(settings.live_engine_url, timeout_s, accept=lambda status: status < 500)


def check_alpaca(runtime: Runtime, timeout_s: float) -> Outcome:
    """The trading API accepts the keys (``/v2/account``) and the data API answers (latest bar)."""
    settings = runtime.settings
    if not (settings.alpaca_api_key and settings.alpaca_api_secret):
        return not_configured("ALPACA_API_KEY and ALPACA_API_SECRET not set")
    keys = {"APCA-API-KEY-ID": settings.alpaca_api_key.get_secret_value(),
            "APCA-API-SECRET-KEY": settings.alpaca_api_secret.get_secret_value()}
    trading = (settings.alpaca_base_url or ALPACA_TRADING_URL).rstrip("/")
    data = (settings.alpaca_data_url or ALPACA_DATA_URL).rstrip("/")
    return _both(_http_get(f"{trading}/v2/account", timeout_s / 2, keys),
                 _http_get(f"{data}/v2/stocks/bars/latest", timeout_s / 2, keys,
                           {"symbols": "AAPL", "feed": settings.alpaca_feed}))


def check_binance(runtime: Runtime, timeout_s: float) -> Outcome:
    """Binance's ``/api/v3/ping`` at BINANCE_API_URL; the public endpoint itself is never called from here."""
    url = runtime.settings.binance_api_url
    if not url:
        return not_configured(f"public endpoint {BINANCE_PUBLIC_URL}, not checked (no key needed; "
                              "set BINANCE_API_URL to use and check another base)")
    base = url.rstrip("/").removesuffix("/api/v3")
    return _http_get(f"{base}/api/v3/ping", timeout_s)


def check_lona(runtime: Runtime, timeout_s: float) -> Outcome:
    """The Gateway accepts the token: one strategy listed."""
    settings = runtime.settings
    if not settings.lona_agent_token:
        return not_configured("LONA_AGENT_TOKEN not set (`nexus lona register` obtains one)")
    headers = {"X-API-Key": settings.lona_agent_token.get_secret_value(), "X-User-Id": settings.lona_agent_id}
    return _http_get(f"{settings.lona_gateway_url.rstrip('/')}/api/v1/strategies", timeout_s, headers,
                     {"skip": "0", "limit": "1"})


def check_xai(runtime: Runtime, timeout_s: float) -> Outcome:
    """The xAI API accepts the key: models listed."""
    settings = runtime.settings
    if not settings.xai_api_key:
        return not_configured("XAI_API_KEY not set: rationales are written from the numbers")
    headers = {"Authorization": f"Bearer {settings.xai_api_key.get_secret_value()}"}
    return _http_get(f"{(settings.xai_base_url or XAI_URL).rstrip('/')}/models", timeout_s, headers)


def check_langsmith(runtime: Runtime, timeout_s: float) -> Outcome:
    """LangSmith accepts the key: one project listed."""
    settings = runtime.settings
    if not settings.langsmith_api_key:
        return not_configured("LANGSMITH_API_KEY not set: run ids are recorded without trace links")
    headers = {"x-api-key": settings.langsmith_api_key.get_secret_value()}
    return _http_get(f"{settings.langsmith_endpoint.rstrip('/')}/sessions", timeout_s, headers, {"limit": "1"})


def check_auth(runtime: Runtime, timeout_s: float) -> Outcome:
    """Sign-in (``st.login``) configured completely, or local mode."""
    sign_in = sign_in_config()
    if sign_in is None:
        refusal = "; APP_ENV=production refuses to start so" if runtime.settings.app_env == "production" else ""
        return not_configured(f"local mode: one operator, no sign-in{refusal}")
    if sign_in.missing:
        return Outcome(True, False, f"sign-in [auth] lacks {', '.join(sign_in.missing)}")
    return Outcome(True, True, f"OIDC sign-in via {', '.join(sign_in.providers)}")


Probe = Callable[["Runtime", float], Outcome]


@dataclass(frozen=True)
class Integration:
    """A named check of one dependency; the console cannot serve without a required one."""

    name: str
    title: str
    probe: Probe
    required: bool = False


INTEGRATIONS = (
    Integration("blob", "Blob storage", check_blob, required=True),
    Integration("database", "Records database", check_database, required=True),
    Integration("queue", "Job queue", check_queue),
    Integration("live-engine", "Live Engine", check_live_engine),
    Integration("alpaca", "Alpaca", check_alpaca),
    Integration("binance", "Binance (ccxt)", check_binance),
    Integration("lona", "Lona Gateway", check_lona),
    Integration("xai", "xAI (Grok)", check_xai),
    Integration("langsmith", "LangSmith", check_langsmith),
    Integration("auth", "Sign-in", check_auth),
)


# --- running the checks --------------------------------------------------------------------------------
class HealthMonitor:
    """Runs the checks in parallel, each bounded; caches the last report; remembers since when each state holds.

    A check still running from an earlier report (a hung connection) is not started again: it is reported
    down until it returns, so probes never pile up threads or connections.
    """

    def __init__(self, integrations: Iterable[Integration] = INTEGRATIONS, timeout_s: float = CHECK_TIMEOUT_S):
        self.integrations = tuple(integrations)
        self.timeout_s = timeout_s
        self._refresh = threading.Lock()  # one refresh at a time; other callers wait for its report
        self._state = threading.Lock()
        self._cached: tuple[Runtime, float, HealthReport] | None = None
        self._since: dict[str, tuple[tuple[bool, bool | None], datetime]] = {}
        self._running: dict[str, float] = {}

    def report(self, runtime: Runtime, max_age_s: float = 5.0) -> HealthReport:
        """The cached report when it is at most ``max_age_s`` old (and for this runtime), else a fresh one."""
        with self._refresh:
            cached = self._cached
            if cached and cached[0] is runtime and time.monotonic() - cached[1] <= max_age_s:
                return cached[2]
            report = self._run(runtime)
            self._cached = (runtime, time.monotonic(), report)
            return report

    def _run(self, runtime: Runtime) -> HealthReport:
        deadline = time.monotonic() + self.timeout_s
        waits = [(integration, self._start(integration, runtime)) for integration in self.integrations]
        redact = redactor(runtime.settings)
        checks = tuple(self._record(integration, *wait(deadline), redact) for integration, wait in waits)
        return HealthReport(checks, clock.now())

    def _start(self, integration: Integration, runtime: Runtime) -> Callable[[float], tuple[Outcome, float | None]]:
        """Start ``integration``'s probe on its own daemon thread; return how to wait for it until a deadline."""
        with self._state:
            began = self._running.get(integration.name)
            if began is None:
                self._running[integration.name] = time.monotonic()
        if began is not None:
            stuck = Outcome(True, False, f"the previous check has had no answer for {time.monotonic() - began:.0f} s")
            return lambda _deadline: (stuck, None)
        done = threading.Event()
        result: list[tuple[Outcome, float]] = []

        def run() -> None:
            started = time.monotonic()
            try:
                outcome = integration.probe(runtime, self.timeout_s)
            except Exception as error:  # a probe bug must still give a line in the report
                outcome = Outcome(True, False, describe_failure(error))
            result.append((outcome, (time.monotonic() - started) * 1000))
            with self._state:
                self._running.pop(integration.name, None)
            done.set()

        threading.Thread(target=run, name=f"health-{integration.name}", daemon=True).start()

        def wait(deadline: float) -> tuple[Outcome, float | None]:
            if done.wait(max(0.0, deadline - time.monotonic())):
                return result[0]
            return Outcome(True, False, f"no answer within {self.timeout_s:g} s"), self.timeout_s * 1000

        return wait

    def _record(self, integration: Integration, outcome: Outcome, latency_ms: float | None,
                redact: Callable[[str], str]) -> Check:
        now = clock.now()
        state = (outcome.configured, outcome.ok)
        with self._state:
            previous = self._since.get(integration.name)
            if previous is None or previous[0] != state:
                self._since[integration.name] = (state, now)
            since = self._since[integration.name][1]
        return Check(integration.name, integration.title, integration.required, outcome.configured, outcome.ok,
                     redact(outcome.detail), latency_ms, now, since)


_monitor = HealthMonitor()


class Warmup:
    """The first use of the records database migrates it, which may take longer than a health check waits.

    ``begin`` starts that on a thread (the app calls it before it serves); until it ends, ``starting`` is
    True and /health says "starting" instead of reporting the database as having no answer.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, threading.Event] = {}

    def begin(self, runtime: Runtime) -> None:
        """Open (and migrate) ``runtime``'s records database in the background, once per runtime."""
        with self._lock:
            if id(runtime) in self._runs:
                return
            done = self._runs[id(runtime)] = threading.Event()

        def warm() -> None:
            try:
                with contextlib.suppress(Exception):  # the database check reports why (unreachable, bad URL)
                    runtime.engine  # noqa: B018 - the property migrates on first use
            finally:
                done.set()

        threading.Thread(target=warm, name="records-warmup", daemon=True).start()

    def starting(self, runtime: Runtime, wait_s: float = CHECK_TIMEOUT_S) -> bool:
        """True while ``runtime``'s first migration still runs after ``wait_s`` (starting it if nobody has)."""
        self.begin(runtime)
        return not self._runs[id(runtime)].wait(wait_s)


WARMUP = Warmup()


def health_report(runtime: Runtime, max_age_s: float = 5.0) -> HealthReport:
    """The health of every integration, at most ``max_age_s`` old, so frequent probes cost one check run."""
    return _monitor.report(runtime, max_age_s)


# --- configuration -----------------------------------------------------------------------------------------
#: which integration a setting belongs to, by the start of its name (first match wins)
_GROUPS = (
    ("azure_storage_", "blob"), ("ohlcv_", "blob"), ("exports_", "blob"), ("max_import", "blob"),
    ("database_", "database"), ("supabase_", "database"), ("redis_", "queue"),
    ("execution_", "execution"), ("paper_", "execution"), ("live_engine_", "live-engine"),
    ("alpaca_", "alpaca"), ("binance_", "binance"), ("lona_", "lona"), ("xai_", "xai"),
    ("langsmith_", "langsmith"), ("role_", "auth"), ("auth_", "auth"), ("app_env", "auth"),
    ("api_", "api"), ("console_url", "api"), ("notify_", "notifications"),
)


@dataclass(frozen=True)
class SettingView:
    """One setting as the Settings page shows it: secrets only as set / not set."""

    name: str  # the environment variable
    integration: str
    value: str
    secret: bool
    from_environment: bool  # False: the built-in default applies

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"name": self.name, "integration": self.integration, "value": self.value, "secret": self.secret,
                "from_environment": self.from_environment}


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def configuration_view(settings: Settings) -> list[SettingView]:
    """Every setting with its value; a secret reads "set" or "not set", and URLs lose any credentials."""
    redact = redactor(settings)
    rows = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        secret = _is_secret(field.annotation)
        if secret:
            shown = "set" if value else "not set"
        elif value is None:
            shown = "not set"
        else:
            text = str(value)
            shown = redact(public_url(text) if "://" in text else text)
        group = next((group for prefix, group in _GROUPS if name.startswith(prefix)), "general")
        rows.append(SettingView(name.upper(), group, shown, secret, name in settings.model_fields_set))
    return rows
