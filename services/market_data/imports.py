"""Importing candle files (CSV or JSON, Lona's format and common variants) into datasets, preview first."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from services.core.auth import Actor
from services.core.errors import BadInput, InvalidCandles
from services.market_data import ohlcv
from services.market_data.datasets import DatasetRef, Datasets, WriteResult

DEFAULT_MAX_BYTES = 100 * 1024 * 1024


@dataclass
class ImportPreview:
    """A parsed file before anything is written: the candles, what parsing found, the interval guess."""

    frame: pd.DataFrame
    report: ohlcv.ParseReport
    interval_guess: str | None
    problem: str | None  # the contract rule the file breaks for the chosen interval, if any

    @property
    def ok(self) -> bool:
        """True when the file can be imported as is."""
        return self.problem is None


def check_size(size: int, source: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse files over the import limit before reading them (no out-of-memory on a huge upload)."""
    if size == 0:
        raise InvalidCandles("empty file (0 bytes)", source=source)
    if size > max_bytes:
        raise InvalidCandles(
            f"file is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB import limit; "
            "split it (for example by year) and import the parts",
            source=source,
        )


def check_interval_matches(timestamps, interval: str, source: str) -> str | None:
    """The interval the timestamps are spaced at; InvalidCandles when that differs from ``interval``.

    Daily candles fit an hourly grid too, so without this check a daily file imported as hourly would be
    stored as an hourly dataset with 23 of every 24 candles "missing".
    """
    guess = ohlcv.infer_interval(timestamps)
    if guess is not None and guess != interval:
        raise InvalidCandles(f"timestamps are {guess} apart but the dataset is {interval}; import it as {guess}",
                             source=source)
    return guess


def preview(data: bytes, source: str, interval: str | None = None, repair_order: bool = False,
            max_bytes: int = DEFAULT_MAX_BYTES) -> ImportPreview:
    """Parse a file and check it against the contract for ``interval`` (or the guessed one).

    Raises InvalidCandles when the file cannot be read at all (format, columns, numbers, timestamps);
    a file that parses but breaks a rule comes back with ``problem`` set, so the preview can show both.
    """
    check_size(len(data), source, max_bytes)
    frame, report = ohlcv.parse_candles(data, source, interval=None, repair_order=repair_order)
    guess = ohlcv.infer_interval(frame["timestamp"].to_numpy())
    problem = None
    try:
        if interval:
            check_interval_matches(frame["timestamp"].to_numpy(), interval, source)
        ohlcv.validate(frame, interval or guess or "1m", source=source)
    except InvalidCandles as error:
        problem = str(error)
    return ImportPreview(frame, report, guess, problem)


def import_file(
    datasets: Datasets,
    ref: DatasetRef,
    data: bytes,
    source: str,
    *,
    replace_overlap: bool = False,
    repair_order: bool = False,
    actor: Actor,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> WriteResult:
    """Parse, validate and merge a file into ``ref`` for ``actor`` (a trader); a refused file writes nothing."""
    actor.require("trader", "import market data")
    if not source:
        raise BadInput("a file name is needed")
    check_size(len(data), source, max_bytes)
    frame, report = ohlcv.parse_candles(data, source, interval=ref.interval, repair_order=repair_order)
    check_interval_matches(frame["timestamp"].to_numpy(), ref.interval, source)
    note = {k: v for k, v in asdict(report).items() if k != "source"}
    return datasets.write(ref, frame, replace_overlap=replace_overlap, source=source, actor=actor.name, note=note)
