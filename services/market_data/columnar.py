"""Columnar copies of CSV partitions, kept beside them in the blob store so a cold read skips CSV parsing.

The CSV partition stays the format every Trade Nexus component reads and writes. Next to each one the
console keeps ``_columnar/<key>.arrow``: the same candles as one LZ4-compressed Arrow record batch, about
half the bytes of the CSV, decoded without parsing. A copy names the SHA-256 of the CSV it was made from, so
it certifies itself: a reader uses it only when that checksum is the one its manifest records for the
partition, and falls back to the CSV otherwise (a copy that is missing, stale, or of another writer).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.feather as feather

from services.market_data import ohlcv

FOLDER = "_columnar"
_SOURCE_KEY = b"nexus.source_sha256"


def copy_name(partition_name: str) -> str:
    """Blob name of the columnar copy of ``partition_name`` (``…/2024-03.csv`` → ``…/_columnar/2024-03.arrow``)."""
    folder, _, filename = partition_name.rpartition("/")
    return f"{folder}/{FOLDER}/{filename.rsplit('.', 1)[0]}.arrow"


def encode(table: pa.Table, source_sha256: str) -> bytes:
    """The copy of a partition whose CSV has checksum ``source_sha256``."""
    table = table.replace_schema_metadata({_SOURCE_KEY: source_sha256.encode()})
    sink = pa.BufferOutputStream()
    feather.write_feather(table, sink, compression="lz4", chunksize=max(table.num_rows, 1))
    return sink.getvalue().to_pybytes()


def decode(data: bytes, source_sha256: str, rows: int) -> pa.Table | None:
    """The candles of a copy made from the CSV with checksum ``source_sha256`` and ``rows`` rows, else None."""
    try:
        table = feather.read_table(pa.BufferReader(data))
    except (pa.ArrowInvalid, OSError):
        return None
    metadata = table.schema.metadata or {}
    if metadata.get(_SOURCE_KEY) != source_sha256.encode() or table.num_rows != rows:
        return None
    if table.column_names[: len(ohlcv.BASE_COLUMNS)] != ohlcv.BASE_COLUMNS:
        return None
    return table.replace_schema_metadata(None)
