"""Data endpoints: the catalog, one dataset's manifest and quality, candles (JSON, CSV or Arrow, streamed, with
an ETag of the dataset version), and the Lona export."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from api.errors import ERROR_RESPONSES, ApiError
from api.security import Services, token_with
from services.core import clock
from services.core.errors import BadInput, Conflict, DatasetBusy
from services.core.tokens import AccessToken
from services.market_data import ohlcv
from services.market_data.datasets import CatalogEntry, DatasetRef, Manifest
from services.market_data.exports import export
from services.market_data.quality import assess

router = APIRouter(prefix="/v1", tags=["data"], responses=ERROR_RESPONSES)
Reader = Annotated[AccessToken, Depends(token_with("data:read"))]

#: rows encoded per piece of a streamed answer (and per Arrow record batch)
CHUNK_ROWS = 100_000
#: bytes handed to the server at a time when sending an answer of known length (Arrow, kept JSON records)
PIECE_BYTES = 1 << 20
#: the latest moment a bound may name (the end of year 9999)
_MAX_MS = 253_402_300_799_999
_DIGITS = re.compile(r"^-?\d{1,16}$")
MEDIA = {"json": "application/json", "csv": "text/csv", "arrow": "application/vnd.apache.arrow.stream"}
Interval = Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w", "1M"]


class DatasetOut(BaseModel):
    """One dataset of the catalog."""

    dataset: str = Field(description="reference exchange/SYMBOL/interval")
    exchange: str
    symbol: str
    interval: str
    rows: int | None = Field(description="candles stored (None for a folder of dropped-in partitions)")
    first_ts: int | None = Field(description="first candle, Unix ms")
    last_ts: int | None = Field(description="last candle, Unix ms")
    size: int = Field(description="bytes stored")
    updated: datetime | None
    close_only: bool
    external: bool
    version: str | None = Field(description="changes with every write; the candles' ETag derives from it")


class GapOut(BaseModel):
    """A run of missing candles."""

    start_ms: int
    end_ms: int
    candles: int


class QualityOut(BaseModel):
    """The data-quality summary the Market Data page shows."""

    candles: int
    expected: int
    missing: int
    completeness: float
    gaps: list[GapOut] = Field(description="the first gaps (at most 20)")
    zero_volume_runs: int
    duplicates_dropped: int
    rows_reordered: int
    note: str


class DatasetDetail(DatasetOut):
    """A dataset's manifest and quality summary."""

    columns: list[str]
    partitions: list[str] = Field(description="partition keys (YYYY-MM or YYYY)")
    created_at: str
    imports: int
    quality: QualityOut


class CandleOut(BaseModel):
    """One candle (Lona base columns)."""

    timestamp: int = Field(description="open time, Unix ms UTC")
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None


class CandlesOut(BaseModel):
    """Lona's JSON wrapper of a candle range."""

    symbol: str
    interval: str
    exchange: str
    data: list[CandleOut]


class ExportIn(BaseModel):
    """What to export for Lona."""

    dataset: str = Field(description="reference exchange/SYMBOL/interval", examples=["sample/AAPL/1d"])
    format: Literal["csv", "json"] = "csv"
    start: str | None = Field(None, description="first day YYYY-MM-DD, ISO time or Unix ms")
    end: str | None = Field(None, description="last day (inclusive) YYYY-MM-DD, ISO time or Unix ms")
    name: str | None = Field(None, description="export name (default SYMBOL_interval_first_last)")


class ExportOut(BaseModel):
    """Where the export went."""

    container: str
    blob_name: str
    rows: int
    bytes: int


def parse_bound(text: str | None, name: str, end_of_day: bool = False) -> int | None:
    """``YYYY-MM-DD``, an ISO time or Unix ms to Unix ms (a day as ``end`` means its last millisecond)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if _DIGITS.match(text):
        value = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
            value = clock.day_end_ms(moment.date()) if end_of_day and len(text) == 10 else clock.to_ms(moment)
        except (ValueError, OverflowError):
            raise BadInput(f"{name} '{text[:40]}' must be Unix ms or look like 2024-01-31 or 2024-01-31T12:00Z "
                           f"(UTC, before 9999-12-31)") from None
    if not 0 <= value <= _MAX_MS:
        raise BadInput(f"{name} must lie between 1970-01-01 and 9999-12-31 (Unix ms 0 to {_MAX_MS})")
    return value


def _range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    start_ms, end_ms = parse_bound(start, "start"), parse_bound(end, "end", end_of_day=True)
    if start_ms is not None and end_ms is not None and start_ms > end_ms:
        raise BadInput("start is after end: give start <= end")
    return start_ms, end_ms


def _entry(entry: CatalogEntry) -> DatasetOut:
    ref = entry.ref
    return DatasetOut(dataset=str(ref), exchange=ref.exchange, symbol=ref.symbol, interval=ref.interval,
                      rows=entry.rows, first_ts=entry.first_ts, last_ts=entry.last_ts, size=entry.size,
                      updated=entry.updated, close_only=entry.close_only, external=entry.external,
                      version=entry.version)


def _version(manifest: Manifest) -> str:
    return manifest.etag or hashlib.sha256("|".join(p.etag for p in manifest.partitions).encode()).hexdigest()


@router.get("/datasets", response_model=list[DatasetOut], summary="The catalog of datasets")
def list_datasets(_token: Reader, services: Services) -> list[DatasetOut]:
    """Every dataset with its rows, first and last candle and version."""
    return [_entry(e) for e in services.datasets.catalog()]


@router.get("/datasets/{exchange}/{symbol}/{interval}", response_model=DatasetDetail,
            summary="A dataset's manifest and quality summary")
def dataset_detail(exchange: str, symbol: str, interval: str, _token: Reader, services: Services) -> DatasetDetail:
    """The manifest (rows, bounds, columns, partitions, version) and the data-quality summary."""
    ref = DatasetRef.of(exchange, symbol, interval)
    manifest = services.datasets.manifest(ref)
    report = assess(services.datasets.read_version(manifest, shared=True), manifest, ref.interval)
    quality = QualityOut(candles=report.candles, expected=report.expected, missing=report.missing,
                         completeness=report.completeness,
                         gaps=[GapOut(start_ms=g.start_ms, end_ms=g.end_ms, candles=g.candles)
                               for g in report.gaps[:20]],
                         zero_volume_runs=len(report.zero_volume_runs), duplicates_dropped=report.duplicates_dropped,
                         rows_reordered=report.rows_reordered, note=report.closed_slots_note)
    entry = CatalogEntry(ref, None if manifest.external else manifest.rows, manifest.first_ts, manifest.last_ts,
                         sum(p.size for p in manifest.partitions), None, manifest.close_only, manifest.external,
                         manifest.etag)
    return DatasetDetail(**_entry(entry).model_dump(exclude={"updated"}), updated=manifest.updated_at or None,
                         columns=manifest.columns, partitions=[p.key for p in manifest.partitions],
                         created_at=manifest.created_at, imports=len(manifest.imports), quality=quality)


def json_records(columns: dict[str, np.ndarray]) -> memoryview:
    """Lona's records ``{"timestamp":…,"open":…,…},{…}`` (comma-separated, no brackets) of equal-length columns,
    byte for byte what ``orjson.dumps`` writes for a list of one dict per row (see ``ohlcv.lona_json_records``)."""
    records = ohlcv.lona_json_records(columns)
    return ohlcv.record_bytes(records, 0, len(records))


class _Pieces:
    """A write-only file for pyarrow's IPC writer keeping what it is given: the column data arrive as views of
    the (memory-mapped) arrays, not copies."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[bytes | pa.Buffer] = []

    def write(self, data: bytes | pa.Buffer) -> int:
        self.pieces.append(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""


def _arrow_pieces(columns: dict[str, np.ndarray]) -> list[bytes | pa.Buffer]:
    """The Arrow IPC stream (schema, record batches of CHUNK_ROWS, end) of ``columns``, its column data as
    views of the arrays."""
    table = pa.table(columns)  # the arrays' own memory
    sink = _Pieces()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table, max_chunksize=CHUNK_ROWS)
    return sink.pieces


def _sized(pieces: list[bytes | pa.Buffer | memoryview], fmt: str, headers: dict[str, str]) -> StreamingResponse:
    """An answer whose pieces are all known: a Content-Length rather than chunked framing, sent on the event loop
    (a megabyte costs less than a hand-over to a worker thread) in parts of at most about PIECE_BYTES: a large
    piece (a column buffer, the kept JSON records) as views of it, never copied here; the small ones between
    them (Arrow's message headers and padding) joined into one part."""

    async def parts() -> AsyncIterator[bytes | memoryview]:
        pending: list[memoryview] = []
        size = 0
        for piece in pieces:
            view = memoryview(piece)
            if len(view) < PIECE_BYTES // 4:  # small: gathered with its neighbours
                pending.append(view)
                size += len(view)
                if size >= PIECE_BYTES:
                    yield b"".join(pending)
                    pending, size = [], 0
                continue
            if pending:
                yield b"".join(pending)
                pending, size = [], 0
            for lo in range(0, len(view), PIECE_BYTES):
                yield view[lo:lo + PIECE_BYTES]
        if pending:
            yield b"".join(pending)

    headers["Content-Length"] = str(sum(len(piece) for piece in pieces))
    return StreamingResponse(parts(), media_type=MEDIA[fmt], headers=headers)


def _json_head(ref: DatasetRef, interval: str) -> bytes:
    """Lona's JSON wrapper up to the first record."""
    return orjson.dumps({"symbol": ref.symbol, "interval": interval, "exchange": ref.exchange})[:-1] + b',"data":['


def _pieces(columns: dict[str, np.ndarray], fmt: str, ref: DatasetRef, interval: str) -> Iterator[bytes]:
    """The JSON or CSV answer in pieces of CHUNK_ROWS candles (a large range is never encoded whole in memory)."""
    rows = len(columns["timestamp"])
    starts = range(0, max(rows, 1), CHUNK_ROWS)
    if fmt == "json":
        yield _json_head(ref, interval)
        for lo in starts:
            if lo < rows:
                if lo:
                    yield b","
                yield json_records({c: v[lo:lo + CHUNK_ROWS] for c, v in columns.items()})
        yield b"]}"
        return
    table = pa.table(columns)
    for index, lo in enumerate(starts):
        yield ohlcv.table_to_csv_bytes(table.slice(lo, CHUNK_ROWS), header=index == 0)


def _base_columns(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Lona's base columns, timestamp as int64 and the prices and volume as float64 (views when they are)."""
    return {c: np.asarray(columns[c], dtype="int64" if c == "timestamp" else "float64") for c in ohlcv.BASE_COLUMNS}


@router.get("/candles", summary="Candles of a range (JSON, CSV or Arrow)", responses={
    200: {"description": "the candles, streamed", "content": {
        "application/json": {"schema": CandlesOut.model_json_schema(ref_template="#/components/schemas/{model}")},
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.apache.arrow.stream": {"schema": {"type": "string", "format": "binary"}}}},
    304: {"description": "not modified: the If-None-Match ETag is still current"}}, response_class=Response)
def candles(
    _token: Reader,
    services: Services,
    dataset: Annotated[str, Query(description="exchange/SYMBOL/interval", examples=["sample/AAPL/1d"])],
    start: Annotated[str | None, Query(description="first day YYYY-MM-DD, ISO time or Unix ms")] = None,
    end: Annotated[str | None, Query(description="last day (inclusive) YYYY-MM-DD, ISO time or Unix ms")] = None,
    interval: Annotated[Interval | None, Query(description="resample to this coarser interval")] = None,
    format: Annotated[Literal["json", "csv", "arrow"], Query(description="answer format")] = "json",
    if_none_match: Annotated[str | None, Header(description="an ETag from an earlier answer")] = None,
) -> Response:
    """Lona base columns (timestamp in Unix ms) of ``dataset`` in [start, end], optionally resampled server-side
    to a coarser ``interval``; the ETag names the dataset version and the query (304 on If-None-Match)."""
    ref = DatasetRef.parse(dataset)
    start_ms, end_ms = _range(start, end)
    served = interval or ref.interval
    if ohlcv.INTERVALS.index(served) < ohlcv.INTERVALS.index(ref.interval):
        raise BadInput(f"interval {served} is finer than the dataset's {ref.interval}: ask for {ref.interval} "
                       f"or a coarser one")
    for _attempt in range(3):
        manifest = services.datasets.manifest(ref)
        etag = '"' + hashlib.sha256(f"{_version(manifest)}|{start_ms}|{end_ms}|{served}|{format}".encode()
                                    ).hexdigest()[:32] + '"'
        # identity: the console's gzip middleware (level 9) would spend seconds on a large range; ask for Arrow
        # when the link is slow (it is a third of JSON's size)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Content-Encoding": "identity"}
        if if_none_match and etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
            return Response(status_code=304, headers=headers)
        rows = sum(p.rows for p in manifest.partitions_in(start_ms, end_ms))
        limit = services.settings.api_max_candles
        if rows > limit:
            raise ApiError(400, "range_too_large", f"{ref} holds up to {rows:,} candles in that range, more than "
                                                   f"{limit:,} per request: ask for a shorter range (in pieces)")
        try:
            if format == "json" and served == ref.interval:  # the version's records, when encoded already
                records = services.datasets.read_json_records(manifest, start_ms, end_ms)
                if records is not None:
                    return _sized([_json_head(ref, served), records, b"]}"], format, headers)
            columns = services.datasets.read_columns(manifest, start_ms, end_ms)
            break
        except Conflict:
            continue
    else:
        raise DatasetBusy(f"{ref} kept changing while being read")
    if served != ref.interval:
        resampled = ohlcv.resample(pd.DataFrame(columns, copy=False), served)
        columns = {name: resampled[name].to_numpy() for name in resampled.columns}
    columns = _base_columns(columns)
    if format == "arrow":
        return _sized(_arrow_pieces(columns), format, headers)
    return StreamingResponse(_pieces(columns, format, ref, served), media_type=MEDIA[format], headers=headers)


@router.post("/exports", response_model=ExportOut, status_code=201, summary="Export a range for Lona")
def create_export(body: ExportIn, token: Reader, services: Services) -> ExportOut:
    """Write the range (exactly the base columns) to the exports container, as the Market Data page does; the
    token's owner needs the trader role."""
    start_ms, end_ms = _range(body.start, body.end)
    container = services.settings.exports_container
    result = export(services.datasets, services.store, DatasetRef.parse(body.dataset), body.format, start_ms,
                    end_ms, body.name, container, actor=token.actor())
    return ExportOut(container=container, blob_name=result.blob_name, rows=result.rows, bytes=len(result.data))
