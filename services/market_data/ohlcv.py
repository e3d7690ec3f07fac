"""The OHLCV frame contract (Lona-compatible): intervals, validation, file parsing, resampling, export."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from services.core.errors import InvalidCandles

BASE_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close"]
OPTIONAL_COLUMNS = ["vwap", "trades", "spread"]

MINUTE_MS = 60_000
#: fixed-length intervals in milliseconds; "1M" (calendar month) has no fixed length
INTERVAL_MS: dict[str, int | None] = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
    "1w": 7 * 1440 * MINUTE_MS,
    "1M": None,
}
INTERVALS = list(INTERVAL_MS)
#: weeks start on Monday 00:00 UTC (1970-01-05), as Binance's weekly candles do
_WEEK_ORIGIN_MS = 4 * 1440 * MINUTE_MS
_APPROX_MONTH_MS = 30 * 1440 * MINUTE_MS

_TIMESTAMP_ALIASES = ("timestamp", "time", "date", "datetime", "open_time", "opentime", "t", "ts")
_COLUMN_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


def approx_interval_ms(interval: str) -> int:
    """Length of an interval in milliseconds (a month counts as 30 days)."""
    check_interval(interval)
    return INTERVAL_MS[interval] or _APPROX_MONTH_MS


def check_interval(interval: str) -> str:
    """Return ``interval`` if it is one of INTERVALS, else raise InvalidCandles naming the choices."""
    if interval not in INTERVAL_MS:
        raise InvalidCandles(f"unknown interval '{interval}' (use one of {' '.join(INTERVALS)})")
    return interval


def is_intraday(interval: str) -> bool:
    """True for intervals shorter than a day (partitioned by month rather than by year)."""
    return approx_interval_ms(interval) < INTERVAL_MS["1d"]


def floor_to_interval(timestamps: np.ndarray, interval: str) -> np.ndarray:
    """Start of the interval each Unix-ms timestamp falls in (vectorised)."""
    ts = np.asarray(timestamps, dtype=np.int64)
    step = INTERVAL_MS[check_interval(interval)]
    if interval == "1M":
        months = ts.astype("datetime64[ms]").astype("datetime64[M]")
        return months.astype("datetime64[ms]").astype(np.int64)
    if interval == "1w":
        return ts - (ts - _WEEK_ORIGIN_MS) % step
    return ts - ts % step


def next_interval_start(timestamp_ms: int, interval: str) -> int:
    """Open time of the candle after the one opening at ``timestamp_ms``."""
    if interval == "1M":
        month = np.datetime64(timestamp_ms, "ms").astype("datetime64[M]") + 1
        return int(month.astype("datetime64[ms]").astype(np.int64))
    return int(timestamp_ms) + approx_interval_ms(interval)


def empty_frame() -> pd.DataFrame:
    """A frame with the base columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "timestamp" else "float64") for c in BASE_COLUMNS})


# --- validation ---------------------------------------------------------------------------------------
def _first_row(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) + 1 if hits.size else None


def validate(frame: pd.DataFrame, interval: str, source: str | None = None) -> None:
    """Raise InvalidCandles for the first rule ``frame`` breaks; return silently when it obeys all.

    Rules: base columns present; no NaN in them; timestamps strictly increasing (so unique) and on the
    interval's grid; prices > 0; volume >= 0; low <= min(open, close) <= max(open, close) <= high.
    """
    check_interval(interval)
    missing = [c for c in BASE_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidCandles(f"missing column(s) {', '.join(missing)}", source=source)
    if frame.empty:
        raise InvalidCandles("no candles", source=source)
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    prices = {c: frame[c].to_numpy(dtype=np.float64) for c in [*PRICE_COLUMNS, "volume"]}
    for name, values in prices.items():
        row = _first_row(np.isnan(values))
        if row:
            raise InvalidCandles(f"{name} is empty or NaN", row=row, source=source)
    step = np.diff(ts)
    row = _first_row(step == 0)
    if row:
        raise InvalidCandles("duplicate timestamp", row=row + 1, source=source, detail=_iso(ts[row]))
    row = _first_row(step < 0)
    if row:
        raise InvalidCandles(
            "timestamps not increasing (rows out of order)", row=row + 1, source=source, detail=_iso(ts[row])
        )
    row = _first_row(floor_to_interval(ts, interval) != ts)
    if row:
        raise InvalidCandles(
            f"timestamp not on the {interval} grid", row=row, source=source, detail=_iso(ts[row - 1])
        )
    o, h, low, c, v = (prices[k] for k in ("open", "high", "low", "close", "volume"))
    for name in PRICE_COLUMNS:
        row = _first_row(prices[name] <= 0)
        if row:
            raise InvalidCandles(f"{name} must be > 0", row=row, source=source, detail=f"{prices[name][row-1]}")
    row = _first_row(v < 0)
    if row:
        raise InvalidCandles("volume must be >= 0", row=row, source=source, detail=f"{v[row - 1]}")
    row = _first_row(h < low)
    if row:
        raise InvalidCandles("high < low", row=row, source=source, detail=f"high={h[row-1]}, low={low[row-1]}")
    for name, values in (("open", o), ("close", c)):
        row = _first_row((values < low) | (values > h))
        if row:
            raise InvalidCandles(
                f"{name} outside [low, high]",
                row=row,
                source=source,
                detail=f"{name}={values[row-1]}, low={low[row-1]}, high={h[row-1]}",
            )


def _iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC").isoformat()


# --- parsing of files ---------------------------------------------------------------------------------
@dataclass
class ParseReport:
    """What parsing a file found and changed, shown in the preview and kept in the manifest."""

    source: str
    rows_read: int = 0
    timestamp_format: str = ""
    columns_dropped: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0
    rows_reordered: int = 0


def _sniff(data: bytes, source: str) -> str:
    if not data:
        raise InvalidCandles("empty file (0 bytes)", source=source)
    head = data[:8192]
    if head.startswith(b"\x89PNG"):
        raise InvalidCandles("not a CSV or JSON file (it is a PNG image)", source=source)
    if b"\x00" in head:
        raise InvalidCandles("not a CSV or JSON file (binary content)", source=source)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # a multi-byte character cut at the sniff boundary is fine
            raise InvalidCandles("not a CSV or JSON file (not UTF-8 text)", source=source) from None
    stripped = head.lstrip()
    if not stripped:
        raise InvalidCandles("empty file (only whitespace)", source=source)
    return "json" if stripped[:1] in (b"[", b"{") else "csv"


def _rows_from_json(data: bytes, source: str) -> pd.DataFrame:
    try:
        payload = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidCandles(f"malformed JSON ({error})", source=source) from None
    if isinstance(payload, dict):
        payload = payload.get("data")
        if not isinstance(payload, list):
            raise InvalidCandles("JSON object without a 'data' array of candles", source=source)
    if not isinstance(payload, list):
        raise InvalidCandles("JSON must be an array of candles or {symbol, interval, data: [...]}", source=source)
    if not payload:
        raise InvalidCandles("no candles in file", source=source)
    if all(isinstance(item, list | tuple) for item in payload):
        width = min(len(item) for item in payload)
        if width < 6:
            raise InvalidCandles("candle arrays need [timestamp, open, high, low, close, volume]", source=source)
        frame = pd.DataFrame([item[:6] for item in payload], columns=BASE_COLUMNS)
    elif all(isinstance(item, dict) for item in payload):
        frame = pd.DataFrame.from_records(payload)
    else:
        raise InvalidCandles("JSON candles must all be objects or all be arrays", source=source)
    return frame.astype(object).where(frame.notna(), "")


def _rows_from_csv(data: bytes, source: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InvalidCandles(f"malformed CSV ({str(error).strip()})", source=source) from None
    except pd.errors.EmptyDataError:
        raise InvalidCandles("empty file (no header)", source=source) from None
    if frame.empty:
        raise InvalidCandles("no candles in file (header only)", source=source)
    return frame


def _canonical_columns(frame: pd.DataFrame, report: ParseReport) -> pd.DataFrame:
    renamed: dict[str, str] = {}
    for position, column in enumerate(frame.columns):
        key = str(column).strip().lower().replace(" ", "_")
        if key in ("", "unnamed:_0") and position == 0:
            key = "timestamp"  # a pandas-style index column holding the dates, as in backtesting's files
        key = _COLUMN_ALIASES.get(key, key)
        if key in _TIMESTAMP_ALIASES:
            key = "timestamp"
        if key in renamed.values():
            raise InvalidCandles(f"column '{column}' appears twice", source=report.source)
        renamed[column] = key
    frame = frame.rename(columns=renamed)
    missing = [c for c in BASE_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns))
        raise InvalidCandles(f"missing column(s) {', '.join(missing)}; found: {found}", source=report.source)
    keep = BASE_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in frame.columns]
    report.columns_dropped = [str(c) for c in frame.columns if c not in keep]
    return frame[keep]


def _parse_numbers(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = {}
    for column in frame.columns:
        if column == "timestamp":
            continue
        raw = frame[column]
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = numbers.isna() & (raw.astype(str).str.strip() != "")
        row = _first_row(bad.to_numpy())
        if row:
            raise InvalidCandles(
                f"unparseable number in {column}", row=row, source=source, detail=repr(raw.iloc[row - 1])
            )
        out[column] = numbers.astype("float64")
    return pd.DataFrame(out)


_UNIT_BY_MAGNITUDE = ((1e11, "s"), (1e14, "ms"), (1e17, "us"), (np.inf, "ns"))


def _parse_timestamps(raw: pd.Series, report: ParseReport) -> np.ndarray:
    text = raw.astype(str).str.strip()
    row = _first_row((text == "").to_numpy())
    if row:
        raise InvalidCandles("timestamp is empty", row=row, source=report.source)
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all():
        magnitude = float(numeric.abs().max())
        unit = next(u for limit, u in _UNIT_BY_MAGNITUDE if magnitude < limit)
        report.timestamp_format = f"epoch {unit}"
        stamps = pd.to_datetime(numeric.astype("float64"), unit=unit, utc=True)
    else:
        try:
            stamps = pd.to_datetime(text, utc=True, format="ISO8601")
            report.timestamp_format = "ISO 8601"
        except (ValueError, TypeError):
            stamps = pd.to_datetime(text, utc=True, errors="coerce", format="mixed")
            row = _first_row(stamps.isna().to_numpy())
            if row:
                raise InvalidCandles(
                    "unparseable timestamp", row=row, source=report.source, detail=repr(text.iloc[row - 1])
                ) from None
            report.timestamp_format = "date text"
    return stamps.dt.as_unit("ms").astype("int64").to_numpy()


def _repair_order(frame: pd.DataFrame, report: ParseReport) -> pd.DataFrame:
    """Sort rows and drop exact duplicate candles; duplicates that disagree stay for validation to refuse."""
    ts = frame["timestamp"].to_numpy()
    report.rows_reordered = int((np.diff(ts) < 0).sum())
    frame = frame.sort_values("timestamp", kind="stable")
    exact = frame.duplicated(keep="first")
    report.duplicates_dropped = int(exact.sum())
    return frame[~exact].reset_index(drop=True)


def parse_candles(
    data: bytes, source: str, interval: str | None = None, repair_order: bool = False
) -> tuple[pd.DataFrame, ParseReport]:
    """Parse a CSV or JSON candle file in Lona's format or a common variant into a contract frame.

    Accepts ISO or epoch (s/ms/us/ns) timestamps, any column order, capitalised or aliased headers, a
    pandas index column of dates, Lona JSON (bare array or ``{symbol, interval, exchange, data}``).
    With ``interval`` the result is validated against the contract; with ``repair_order`` rows are
    sorted and exact duplicate rows dropped first (counted in the report). Raises InvalidCandles.
    """
    report = ParseReport(source=source)
    kind = _sniff(data, source)
    raw = _rows_from_json(data, source) if kind == "json" else _rows_from_csv(data, source)
    raw = _canonical_columns(raw, report)
    report.rows_read = len(raw)
    frame = _parse_numbers(raw, source)
    frame.insert(0, "timestamp", _parse_timestamps(raw["timestamp"], report))
    if repair_order:
        frame = _repair_order(frame, report)
    if interval is not None:
        validate(frame, interval, source=source)
    return frame, report


def infer_interval(timestamps: np.ndarray) -> str | None:
    """The interval whose length equals the most common step between timestamps, if any."""
    steps = np.diff(np.sort(np.asarray(timestamps, dtype=np.int64)))
    steps = steps[steps > 0]
    if not steps.size:
        return None
    values, counts = np.unique(steps, return_counts=True)
    common = int(values[counts.argmax()])
    for name, length in INTERVAL_MS.items():
        if length == common or (length is None and 28 * 86_400_000 <= common <= 31 * 86_400_000):
            return name
    return None


# --- resampling ---------------------------------------------------------------------------------------
def resample(frame: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Aggregate sorted candles to a coarser interval: first open, max high, min low, last close, summed
    volume (and trades), volume-weighted vwap, mean spread. The result is on ``interval``'s grid."""
    if frame.empty:
        return frame.copy()
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    buckets = floor_to_interval(ts, interval)
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    ends = np.r_[starts[1:], len(ts)] - 1
    volume = frame["volume"].to_numpy(dtype=np.float64)
    summed_volume = np.add.reduceat(volume, starts)
    out = {
        "timestamp": buckets[starts],
        "open": frame["open"].to_numpy(dtype=np.float64)[starts],
        "high": np.maximum.reduceat(frame["high"].to_numpy(dtype=np.float64), starts),
        "low": np.minimum.reduceat(frame["low"].to_numpy(dtype=np.float64), starts),
        "close": frame["close"].to_numpy(dtype=np.float64)[ends],
        "volume": summed_volume,
    }
    if "vwap" in frame.columns:
        weighted = np.add.reduceat(frame["vwap"].to_numpy(dtype=np.float64) * volume, starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["vwap"] = np.where(summed_volume > 0, weighted / summed_volume, np.nan)
    if "trades" in frame.columns:
        out["trades"] = np.add.reduceat(frame["trades"].to_numpy(dtype=np.float64), starts)
    if "spread" in frame.columns:
        out["spread"] = np.add.reduceat(frame["spread"].to_numpy(dtype=np.float64), starts) / (ends - starts + 1)
    return pd.DataFrame(out)


def for_display(
    frame: pd.DataFrame, source_interval: str, wanted: str | None = None, max_candles: int = 5000
) -> tuple[pd.DataFrame, str]:
    """Candles to draw: resampled to ``wanted`` (or coarser when that would exceed ``max_candles``).

    The cap counts candles that exist, not slots of a 24/7 grid, so a market that closes at night or on
    weekends keeps its own interval as long as its stored candles fit. Returns the frame and the interval it
    is actually in; never more than ``max_candles`` rows.
    """
    if frame.empty:
        return frame, wanted or source_interval
    floor = wanted if wanted and INTERVALS.index(wanted) > INTERVALS.index(check_interval(source_interval)) \
        else source_interval
    out, shown = frame, source_interval
    for shown in INTERVALS[INTERVALS.index(floor):]:
        out = frame if shown == source_interval else resample(frame, shown)
        if len(out) <= max_candles:
            break
    return out.tail(max_candles).reset_index(drop=True), shown


# --- export -------------------------------------------------------------------------------------------
def base_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame stripped to exactly the base columns, in contract order and dtypes."""
    out = frame[BASE_COLUMNS].copy()
    out["timestamp"] = out["timestamp"].astype("int64")
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Contract CSV (timestamp in Unix ms), written with Arrow for speed."""
    return table_to_csv_bytes(pa.Table.from_pandas(frame, preserve_index=False))


def table_to_csv_bytes(table: pa.Table, header: bool = True) -> bytes:
    """``to_csv_bytes`` of a frame already converted to Arrow (``header=False``: the rows only, for a stream)."""
    sink = pa.BufferOutputStream()  # an Arrow buffer, not a Python file: writing never needs the GIL
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header, quoting_style="none",
                                                    quoting_header="none", batch_size=65_536))
    return sink.getvalue().to_pybytes()


def to_lona_json_bytes(frame: pd.DataFrame, symbol: str, interval: str, exchange: str) -> bytes:
    """Lona JSON wrapper ``{symbol, interval, exchange, data: [...]}`` with exactly the base columns."""
    data = base_only(frame)
    records = data.to_dict(orient="records")
    for record in records:
        record["timestamp"] = int(record["timestamp"])
    payload = {"symbol": symbol, "interval": interval, "exchange": exchange, "data": records}
    return json.dumps(payload, separators=(",", ":")).encode()


def _tokens(data: bytes, rows: int) -> pa.Array:
    """``data`` (values each ending with the same byte) as a binary array of ``rows`` values, without a copy."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == data[-1]) + 1
    if len(ends) != rows:  # a value holding its own end byte: never for JSON numbers
        raise ValueError(f"{len(ends)} JSON values for {rows} rows")
    offsets = np.concatenate([np.zeros(1, np.int32), ends.astype(np.int32)])
    return pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def lona_json_records(columns: dict[str, np.ndarray]) -> pa.Array:
    """One binary value per row of equal-length ``columns``: its Lona record ``{"timestamp":…,"open":…,…}``
    followed by ``,``, byte for byte what ``orjson.dumps`` writes for a dict per row (NaN and ±inf as null,
    floats in their shortest round-trip form), without a Python object per candle: orjson writes each column
    at once and Arrow interleaves the values with the keys. The values' bytes are contiguous, so the records
    of a run of rows are one slice of the array's data buffer."""
    names = list(columns)
    rows = len(columns[names[0]])
    if not rows:
        return pa.array([], pa.binary())
    pieces: list[pa.Array | pa.Scalar] = []
    for index, name in enumerate(names):
        # each value of a column followed by "," (the last column's by "}," closing its record)
        values = orjson.dumps(np.ascontiguousarray(columns[name]), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1] + b","
        if index == len(names) - 1:
            values = values.replace(b",", b"}")
        key = (b'{"' if index == 0 else b'"') + name.encode() + b'":'
        pieces += [pa.scalar(key, pa.binary()), _tokens(values, rows)]
    return pc.binary_join_element_wise(*pieces, pa.scalar(b",", pa.binary()), pa.scalar(b"", pa.binary()))


def record_bytes(records: pa.Array, lo: int, hi: int) -> memoryview:
    """The records ``lo`` to ``hi`` (exclusive) of a ``lona_json_records`` array as one view of its buffer,
    comma-separated, without the last one's comma."""
    if hi <= lo:
        return memoryview(b"")
    offsets, data = records.buffers()[1:]
    kind = np.int64 if pa.types.is_large_binary(records.type) else np.int32
    bounds = np.frombuffer(offsets, kind)[records.offset:]
    return memoryview(data)[int(bounds[lo]):int(bounds[hi]) - 1]


def to_lona_upload_csv(frame: pd.DataFrame) -> bytes:
    """CSV for Lona's symbol upload: base columns, timestamps as UTC ``YYYY-MM-DD HH:MM:SS``."""
    data = base_only(frame)
    text = pd.to_datetime(data["timestamp"], unit="ms", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    data = data.assign(timestamp=text)
    return data.to_csv(index=False).encode()


_PARTITION_TYPES = {"timestamp": pa.int64(), **{c: pa.float64() for c in BASE_COLUMNS[1:] + OPTIONAL_COLUMNS}}


def read_partition_table(data: bytes) -> pa.Table:
    """Fast reader for the partitions this console writes (contract CSV, ms timestamps) into Arrow."""
    # partitions are parsed several at a time on separate threads: one thread each avoids oversubscription
    return pacsv.read_csv(pa.BufferReader(data), read_options=pacsv.ReadOptions(use_threads=False),
                          convert_options=pacsv.ConvertOptions(column_types=_PARTITION_TYPES))
