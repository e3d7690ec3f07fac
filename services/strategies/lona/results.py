"""Typed results of the Lona Gateway and how they are read from its JSON (tolerant of missing fields)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import SecretStr

from services.strategies.lona.errors import LonaUnavailable

T = TypeVar("T")
DONE = ("COMPLETED", "FAILED")


@dataclass(frozen=True)
class Registration:
    """What registration returned; the token stays a SecretStr."""

    token: SecretStr
    partner_id: str
    partner_name: str
    permissions: list[str]
    expires_at: str | None


@dataclass(frozen=True)
class GeneratedStrategy:
    """A strategy Lona generated from a description (Backtrader Python)."""

    strategy_id: str
    name: str
    code: str
    explanation: str


@dataclass(frozen=True)
class Strategy:
    """A strategy as listed or fetched (``code`` only when fetched one by one)."""

    id: str
    name: str
    description: str = ""
    version: str | None = None
    version_id: str | None = None
    language: str | None = None
    code: str | None = None
    user_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Symbol:
    """A market-data symbol on Lona (ours or global)."""

    id: str
    name: str
    description: str = ""
    is_global: bool = False
    file_url: str | None = None
    start_timestamp: str | None = None
    end_timestamp: str | None = None
    frequencies: list[str] = field(default_factory=list)
    type_metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a paginated listing."""

    items: list[T]
    has_next: bool
    total: int | None
    skip: int
    limit: int


@dataclass(frozen=True)
class ReportStatus:
    """Status (upper case: PENDING EXECUTING PROCESSING COMPLETED FAILED) and progress 0–1 if known."""

    status: str
    progress: float | None

    @property
    def done(self) -> bool:
        """True once the report is COMPLETED or FAILED."""
        return self.status in DONE


@dataclass(frozen=True)
class Report:
    """A backtest report's summary."""

    id: str
    strategy_id: str | None
    status: str
    name: str = ""
    description: str = ""
    created_at: str | None = None
    updated_at: str | None = None
    total_stats: dict[str, Any] | None = None
    error: str | None = None


def as_text(value: Any) -> str:
    """``value`` as text; None becomes ''."""
    return "" if value is None else str(value)


def parse_strategy(data: dict) -> Strategy:
    """A Strategy from Lona's JSON."""
    return Strategy(
        id=as_text(data.get("id")), name=as_text(data.get("name")), description=as_text(data.get("description")),
        version=data.get("version"), version_id=data.get("version_id"), language=data.get("language"),
        code=data.get("code"), user_id=data.get("user_id"), created_at=data.get("created_at"),
        updated_at=data.get("updated_at"),
    )


def parse_symbol(data: dict) -> Symbol:
    """A Symbol from Lona's JSON (``data_range`` flattened)."""
    data_range = data.get("data_range") or {}
    return Symbol(
        id=as_text(data.get("id")), name=as_text(data.get("name")), description=as_text(data.get("description")),
        is_global=bool(data.get("is_global")), file_url=data.get("file_url"),
        start_timestamp=data_range.get("start_timestamp"), end_timestamp=data_range.get("end_timestamp"),
        frequencies=list(data.get("frequencies") or []), type_metadata=dict(data.get("type_metadata") or {}),
        created_at=data.get("created_at"), updated_at=data.get("updated_at"),
    )


def parse_report(data: dict) -> Report:
    """A Report from Lona's JSON (status upper-cased)."""
    stats = data.get("total_stats")
    return Report(
        id=as_text(data.get("id")), strategy_id=data.get("strategy_id"), status=as_text(data.get("status")).upper(),
        name=as_text(data.get("name")), description=as_text(data.get("description")),
        created_at=data.get("created_at"), updated_at=data.get("updated_at"),
        total_stats=stats if isinstance(stats, dict) else None, error=data.get("error"),
    )


def parse_page(data: Any, parse: Callable[[dict], T], skip: int, limit: int) -> Page[T]:
    """A Page from ``{items, has_next, total}`` (or a bare array, which has no further pages)."""
    if isinstance(data, list):
        return Page([parse(i) for i in data if isinstance(i, dict)], False, len(data), skip, limit)
    if not isinstance(data, dict):
        raise LonaUnavailable("Lona Gateway sent a page that is neither an object nor an array")
    items = [parse(i) for i in data.get("items") or [] if isinstance(i, dict)]
    total = data.get("total")
    return Page(items, bool(data.get("has_next")), int(total) if total is not None else None, skip, limit)
