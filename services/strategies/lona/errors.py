"""Typed errors of the Lona Gateway client: HTTP status, failure category and what to do about it."""

from __future__ import annotations

from services.core.errors import ConfigError, NexusError, ServiceUnavailable

#: failure categories of a backtest, checked in this order (UPSTREAM §1.7)
CATEGORIES = ("TIMEOUT_ERROR", "DATA_ERROR", "CODE_ERROR", "EXECUTION_ERROR")

DATA_OWNERSHIP_HINT = (
    "Lona data and symbol ids belong to the Lona user (token) that created them: ids made through another "
    "interface or token are invisible here. Publish the dataset with this token (nexus lona publish E/S/I) "
    "and use the symbol id it prints."
)


class LonaError(NexusError):
    """Lona refused or failed a call.

    ``status_code`` is the gateway's HTTP status (None when it never answered), ``category`` one of
    CATEGORIES for a failed backtest, ``detail`` the gateway's own message, ``hint`` what to do.
    A 4xx is the caller's to fix (CLI exit 2); anything else exits 1.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        category: str | None = None,
        detail: str = "",
        hint: str = "",
    ):
        super().__init__(message)
        self.status_code = status_code  # after super(): ServiceUnavailable's __init__ would reset it
        self.category = category
        self.detail = detail
        self.hint = hint
        self.exit_code = 2 if status_code is not None and 400 <= status_code < 500 else 1


class LonaAuthError(LonaError):
    """The gateway refused the token or the registration credentials (401/403)."""


class LonaNotFound(LonaError):
    """The strategy, symbol or report does not exist for this Lona user (404)."""


class LonaUnavailable(LonaError, ServiceUnavailable):
    """The gateway did not answer, timed out, answered 5xx or sent a body that is not JSON."""


class LonaNotConfigured(ConfigError):
    """No Lona token is configured; the message says what to set."""


class BacktestFailed(LonaError):
    """Lona ran the backtest and it failed; ``category`` says why, ``stderr`` holds the runner's output."""

    def __init__(
        self, report_id: str, message: str, *, category: str, error: str, hint: str, stderr: str,
        full_report: dict | None = None,
    ):
        self.report_id = report_id
        self.error = error
        self.stderr = stderr
        self.full_report = full_report
        super().__init__(message, category=category, detail=error, hint=hint)


class BacktestTimedOut(LonaError):
    """The report did not reach COMPLETED or FAILED within the polling timeout (it may still finish)."""

    def __init__(self, report_id: str, timeout_s: float, last_status: str):
        self.report_id = report_id
        self.last_status = last_status
        super().__init__(
            f"Timed out waiting for report {report_id} after {timeout_s:g}s (last status {last_status}); "
            f"it may still finish: look again with `nexus lona report {report_id}`"
        )
