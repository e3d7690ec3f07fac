"""The storing half of an ingestion: complete partitions written on a thread while the fetch loop goes on.

The fetch loop hands each complete partition over and carries on fetching; one write is in flight at a time,
in order, so the dataset only ever grows by whole partitions.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd

from services.core.errors import InvalidCandles
from services.market_data.connectors.base import iso
from services.market_data.datasets import DatasetRef, Datasets, WriteResult


class PartitionWriter:
    """Buffers pages until a partition is complete, then hands it to the writer thread for one atomic write.

    Pages are validated there, a partition at a time (one check of 40,000 candles costs about what one of
    1,000 does); ``add`` only checks that each page starts after the last.

    ``add`` and ``flush`` wait only when the previous partition is still being written; ``written`` holds what
    was stored so far. Leaving the ``with`` block waits for the last write; a failed write surfaces at the
    next ``flush`` or ``wait``.
    """

    def __init__(self, datasets: Datasets, ref: DatasetRef, source: str, actor: str, note: dict):
        self.datasets, self.ref, self.source, self.actor, self.note = datasets, ref, source, actor, note
        self.frames: list[pd.DataFrame] = []
        self.key: str | None = None  # the partition (month or year) being buffered
        self.last_ts: int | None = None  # last candle accepted (stored, or buffered until the next flush)
        self.written: list[WriteResult] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{ref}")
        self._pending: tuple[pd.DataFrame, Future] | None = None

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown()

    def add(self, page: pd.DataFrame, timestamps: np.ndarray) -> None:
        """Buffer a page (its sorted open times given), writing each partition it completes.

        A page that does not start after the last candle accepted is refused (InvalidCandles).
        """
        first = int(timestamps[0])
        if self.last_ts is not None and first <= self.last_ts:
            raise InvalidCandles("candles out of order between pages", source=self._candle(first))
        slices = self.ref.partition_slices(timestamps)
        for key, lo, hi in slices:
            if self.key is not None and key != self.key:
                self.flush()
            self.key = key
            self.frames.append(page if len(slices) == 1 else page.iloc[lo:hi])
        self.last_ts = int(timestamps[-1])

    def flush(self) -> None:
        """Hand the buffered candles to the writer thread (once the previous write has finished)."""
        if not self.frames:
            return
        frame = pd.concat(self.frames, ignore_index=True) if len(self.frames) > 1 else self.frames[0]
        self.frames, self.key = [], None
        self.wait()
        frame = frame.reset_index(drop=True)
        self._pending = frame, self._pool.submit(self.datasets.write, self.ref, frame, source=self.source,
                                                 actor=self.actor, note=self.note)

    def wait(self) -> None:
        """Block until the write in flight, if any, is stored (in ``written``); re-raise its error.

        The write validates the partition against the OHLCV contract; a candle that breaks it is named by
        its source and open time.
        """
        pending, self._pending = self._pending, None
        if pending is None:
            return
        frame, future = pending
        try:
            self.written.append(future.result())
        except InvalidCandles as error:
            if error.row is None:
                raise
            ts = int(frame["timestamp"].iloc[error.row - 1])
            raise InvalidCandles(error.rule, source=self._candle(ts), detail=error.detail) from None

    def _candle(self, ts: int) -> str:
        """Names a candle in errors: source, market, interval and open time."""
        return f"{self.source} {self.ref.interval} candle at {iso(ts)}"
