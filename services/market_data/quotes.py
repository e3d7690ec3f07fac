"""Latest prices from stored candles: the paper venue's fills and the approvers' re-quote."""

from __future__ import annotations

import threading
import time

from services.core.errors import BadInput
from services.market_data.datasets import DatasetRef, Datasets
from services.market_data.ohlcv import INTERVALS


class LatestPrices:
    """The last close of a symbol's dataset, re-read only when the dataset's manifest changes.

    A symbol maps to a dataset by an explicit ``bind`` (the agent graph binds the datasets of its universe),
    else to the catalog's finest-interval OHLCV dataset of that symbol (close-only sets come last).
    """

    def __init__(self, datasets: Datasets, catalog_ttl_s: float = 30.0):
        self.datasets = datasets
        self._catalog_ttl_s = catalog_ttl_s
        self._catalog: tuple[float, dict[str, DatasetRef | None]] = (0.0, {})
        self._bound: dict[str, DatasetRef] = {}
        self._last: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def bind(self, symbol: str, ref: DatasetRef) -> None:
        """Price ``symbol`` from ``ref`` from now on."""
        with self._lock:
            self._bound[symbol] = ref

    def dataset_for(self, symbol: str) -> DatasetRef | None:
        """The dataset that prices ``symbol``, if any."""
        with self._lock:
            if symbol in self._bound:
                return self._bound[symbol]
        read_at, choices = self._catalog
        if time.monotonic() - read_at > self._catalog_ttl_s:  # one catalog listing serves many quotes
            choices = {}
            ranked = sorted(self.datasets.catalog(),
                            key=lambda e: (e.close_only, e.external, INTERVALS.index(e.ref.interval)))
            for entry in ranked:
                choices.setdefault(entry.ref.symbol, entry.ref)
            self._catalog = (time.monotonic(), choices)
        return choices.get(symbol)

    def quote(self, symbol: str) -> float | None:
        """Last stored close of ``symbol``; None when no dataset holds it."""
        ref = self.dataset_for(symbol)
        if ref is None:
            return None
        manifest = self.datasets.manifest(ref)
        with self._lock:
            cached = self._last.get(str(ref))
        if cached and cached[0] == manifest.etag and manifest.etag is not None:
            return cached[1]
        if not manifest.partitions:
            return None
        last = manifest.partitions[-1]
        frame = self.datasets.read_version(manifest, last.first_ts, last.last_ts)
        if frame.empty:
            return None
        price = float(frame["close"].iloc[-1])
        with self._lock:
            self._last[str(ref)] = (manifest.etag, price)
        return price

    def require(self, symbol: str) -> float:
        """Like ``quote`` but BadInput when there is no price."""
        price = self.quote(symbol)
        if price is None:
            raise BadInput(f"no stored price for {symbol}: ingest or import a dataset of it first")
        return price
