"""Lona Gateway: the HTTP client, its typed errors, failure classification and report reading."""

from services.strategies.lona.client import LonaClient
from services.strategies.lona.credentials import connect, is_configured, not_configured_message
from services.strategies.lona.errors import (
    BacktestFailed,
    BacktestTimedOut,
    LonaAuthError,
    LonaError,
    LonaNotConfigured,
    LonaNotFound,
    LonaUnavailable,
)
from services.strategies.lona.reports import Metrics, normalise_metrics, timeline_frame, trades_frame
from services.strategies.lona.results import (
    GeneratedStrategy,
    Page,
    Registration,
    Report,
    ReportStatus,
    Strategy,
    Symbol,
)

__all__ = [
    "BacktestFailed", "BacktestTimedOut", "GeneratedStrategy", "LonaAuthError", "LonaClient", "LonaError",
    "LonaNotConfigured", "LonaNotFound", "LonaUnavailable", "Metrics", "Page", "Registration", "Report",
    "ReportStatus", "Strategy", "Symbol", "connect", "is_configured", "normalise_metrics", "not_configured_message",
    "timeline_frame", "trades_frame",
]
