"""Exports for Lona: a dataset range in Lona's data format (CSV/JSON) or its symbol-upload CSV, to ``exports``."""

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
Format = Literal["csv", "json", "upload-csv"]
#: what each format is for, as the page offers them
FORMATS: dict[str, str] = {
    "csv": "Lona data format, CSV (timestamp in Unix ms)",
    "json": "Lona data format, JSON (timestamp in Unix ms)",
    "upload-csv": "Lona symbol-upload CSV (timestamp as UTC YYYY-MM-DD HH:MM:SS, what Publish sends)",
}


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
    if fmt not in FORMATS:
        raise BadInput(f"export format '{fmt}' must be one of {', '.join(FORMATS)}")
    frame = datasets.read(ref, start_ms, end_ms)
    if frame.empty:
        raise BadInput(f"{ref} has no candles in the chosen range")
    stem = check_name(name) if name else default_name(ref, int(frame["timestamp"].iloc[0]),
                                                     int(frame["timestamp"].iloc[-1]))
    base = ohlcv.base_only(frame)
    if fmt == "csv":
        data, media, blob_name = ohlcv.to_csv_bytes(base), "text/csv", f"{stem}.csv"
    elif fmt == "upload-csv":
        data, media, blob_name = ohlcv.to_lona_upload_csv(base), "text/csv", f"{stem}_upload.csv"
    else:
        data = ohlcv.to_lona_json_bytes(base, ref.symbol, ref.interval, ref.exchange)
        media, blob_name = "application/json", f"{stem}.json"
    store.put(container, blob_name, data)
    return ExportResult(blob_name, len(base), data, media)
