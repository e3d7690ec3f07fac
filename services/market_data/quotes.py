"""Latest prices from stored candles: the paper venue's fills and the approvers' re-quote."""

from __future__ import annotations

import threading
import time

from services.core.errors import BadInput, DatasetNotFound
from services.market_data.datasets import DatasetRef, Datasets
from services.market_data.ohlcv import INTERVALS


class LatestPrices:
    """The last close of a symbol's dataset, re-read only when the dataset's manifest changes.

    A price is read from the dataset a caller names (an order's ``dataset_ref``: the data its run used, which
    travels in the order record to whichever worker sends it), else from the catalog's finest-interval OHLCV
    dataset of that symbol (close-only sets come last). Nothing about a run is kept in this process.
    """

    def __init__(self, datasets: Datasets, catalog_ttl_s: float = 30.0):
        self.datasets = datasets
        self._catalog_ttl_s = catalog_ttl_s
        self._catalog: tuple[float, dict[str, DatasetRef | None]] = (0.0, {})
        self._last: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def dataset_for(self, symbol: str, dataset_ref: str | None = None) -> DatasetRef | None:
        """The dataset that prices ``symbol``: ``dataset_ref`` when given, else the catalog's choice, if any."""
        if dataset_ref:
            ref = DatasetRef.parse(dataset_ref)
            if ref.symbol != symbol:
                raise BadInput(f"dataset {ref} does not hold {symbol}")
            return ref
        read_at, choices = self._catalog
        if time.monotonic() - read_at > self._catalog_ttl_s:  # one catalog listing serves many quotes
            choices = {}
            ranked = sorted(self.datasets.catalog(),
                            key=lambda e: (e.close_only, e.external, INTERVALS.index(e.ref.interval)))
            for entry in ranked:
                choices.setdefault(entry.ref.symbol, entry.ref)
            self._catalog = (time.monotonic(), choices)
        return choices.get(symbol)

    def quote(self, symbol: str, dataset_ref: str | None = None) -> float | None:
        """Last stored close of ``symbol`` (in ``dataset_ref`` when given); None when no dataset holds it."""
        ref = self.dataset_for(symbol, dataset_ref)
        if ref is None:
            return None
        try:
            manifest = self.datasets.manifest(ref)
        except DatasetNotFound:
            return None  # the order's dataset was deleted since: no price, as for a symbol nobody holds
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

    def require(self, symbol: str, dataset_ref: str | None = None) -> float:
        """Like ``quote`` but BadInput when there is no price."""
        price = self.quote(symbol, dataset_ref)
        if price is None:
            raise BadInput(f"no stored price for {symbol}: ingest or import a dataset of it first")
        return price
