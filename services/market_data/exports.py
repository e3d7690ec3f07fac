"""Exports for Lona: a dataset range as CSV or JSON with exactly the base columns, in the ``exports`` container."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from services.core import clock
from services.core.auth import Actor
from services.core.errors import BadInput
from services.core.storage import BlobStore
from services.market_data import ohlcv
from services.market_data.datasets import DatasetRef, Datasets

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
Format = Literal["csv", "json"]


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and what it holds."""

    blob_name: str
    rows: int
    data: bytes
    media_type: str


def default_name(ref: DatasetRef, first_ms: int, last_ms: int) -> str:
    """``SYMBOL_interval_YYYYMMDD_YYYYMMDD`` of the exported range (Lona's naming)."""
    return f"{ref.symbol}_{ref.interval}_{clock.from_ms(first_ms):%Y%m%d}_{clock.from_ms(last_ms):%Y%m%d}"


def check_name(name: str) -> str:
    """An export name is a plain file stem; anything path-like is refused (names never become paths)."""
    if not _NAME_RE.match(name) or ".." in name:
        raise BadInput(f"export name '{name}' may only use letters, digits, '.', '_' and '-' (max 100)")
    return name


def export(
    datasets: Datasets,
    store: BlobStore,
    ref: DatasetRef,
    fmt: Format,
    start_ms: int | None = None,
    end_ms: int | None = None,
    name: str | None = None,
    container: str = "exports",
    *,
    actor: Actor,
) -> ExportResult:
    """Write the range to ``exports/<name>.<fmt>`` for ``actor`` (a trader) and return the bytes for a download."""
    actor.require("trader", "export market data")
    if fmt not in ("csv", "json"):
        raise BadInput(f"export format '{fmt}' must be csv or json")
    frame = datasets.read(ref, start_ms, end_ms)
    if frame.empty:
        raise BadInput(f"{ref} has no candles in the chosen range")
    stem = check_name(name) if name else default_name(ref, int(frame["timestamp"].iloc[0]),
                                                     int(frame["timestamp"].iloc[-1]))
    base = ohlcv.base_only(frame)
    if fmt == "csv":
        data, media = ohlcv.to_csv_bytes(base), "text/csv"
    else:
        data, media = ohlcv.to_lona_json_bytes(base, ref.symbol, ref.interval, ref.exchange), "application/json"
    blob_name = f"{stem}.{fmt}"
    store.put(container, blob_name, data)
    return ExportResult(blob_name, len(base), data, media)
