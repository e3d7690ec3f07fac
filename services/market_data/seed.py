"""Real market data shipped inside PyPI packages, seeded into the blob store on first run (no download)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from services.market_data import ohlcv
from services.market_data.datasets import DatasetRef, Datasets, WriteResult

BOKEH_TICKERS = ("AAPL", "IBM", "MSFT", "GOOG")
#: the packages that carry the sample data: the ``samples`` extra (``make run`` and ``make test`` install it)
SAMPLE_PACKAGES = {"backtesting": "backtesting", "bokeh_sampledata": "bokeh-sampledata", "skfolio": "skfolio"}
INSTALL_HINT = "install them with `pip install -e '.[samples]'` (make run does)"


@dataclass(frozen=True)
class SampleSet:
    """One dataset to seed: where it comes from and how to build its frame."""

    ref: DatasetRef
    origin: str
    build: Callable[[], pd.DataFrame]
    close_only: bool = False


def missing_sample_packages() -> list[str]:
    """The distributions of the ``samples`` extra that are not installed here."""
    return [dist for package, dist in SAMPLE_PACKAGES.items() if importlib.util.find_spec(package) is None]


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {SAMPLE_PACKAGES.get(package, package)} is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def _backtesting(name: str, interval: str, month_start: bool = False) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        data = _package_file("backtesting", "test", f"{name}.csv").read_bytes()
        frame, _ = ohlcv.parse_candles(data, f"backtesting/test/{name}.csv")
        if month_start:  # the file dates each month by its last day; candles are keyed by open time
            frame["timestamp"] = ohlcv.floor_to_interval(frame["timestamp"].to_numpy(), "1M")
        ohlcv.validate(frame, interval, source=f"backtesting/test/{name}.csv")
        return frame

    return build


def _bokeh(ticker: str) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        table = pd.read_csv(_package_file("bokeh_sampledata", "_data", "stocks.csv.gz"))
        rows = table[table["Ticker"] == ticker][["Date", "Open", "High", "Low", "Close", "Volume"]]
        frame, _ = ohlcv.parse_candles(rows.to_csv(index=False).encode(), f"bokeh_sampledata stocks {ticker}", "1d")
        return frame

    return build


def _skfolio_closes() -> pd.DataFrame:
    return pd.read_csv(_package_file("skfolio", "datasets", "data", "sp500_dataset.csv.gz"), parse_dates=["Date"])


def _close_only(ticker: str) -> Callable[[], pd.DataFrame]:
    def build() -> pd.DataFrame:
        table = _skfolio_closes()[["Date", ticker]].dropna()
        close = table[ticker].to_numpy(dtype="float64")
        stamps = table["Date"].dt.tz_localize("UTC").dt.as_unit("ms").astype("int64").to_numpy()
        frame = pd.DataFrame(
            {"timestamp": stamps, "open": close, "high": close, "low": close, "close": close,
             "volume": np.zeros_like(close)}
        )
        ohlcv.validate(frame, "1d", source=f"skfolio sp500_dataset {ticker}")
        return frame

    return build


def sample_sets() -> Iterator[SampleSet]:
    """Every dataset the console seeds, in seeding order."""
    yield SampleSet(DatasetRef.of("sample", "EURUSD", "1h"), "backtesting EURUSD.csv", _backtesting("EURUSD", "1h"))
    yield SampleSet(DatasetRef.of("sample", "BTCUSD", "1M"), "backtesting BTCUSD.csv",
                    _backtesting("BTCUSD", "1M", month_start=True))
    for ticker in BOKEH_TICKERS:
        yield SampleSet(DatasetRef.of("sample", ticker, "1d"), "bokeh-sampledata stocks.csv.gz", _bokeh(ticker))
    header = pd.read_csv(_package_file("skfolio", "datasets", "data", "sp500_dataset.csv.gz"), nrows=0)
    for ticker in header.columns[1:]:
        yield SampleSet(DatasetRef.of("sample-close", ticker, "1d"), "skfolio sp500_dataset.csv.gz",
                        _close_only(ticker), close_only=True)


def seed(datasets: Datasets, force: bool = False, log: Callable[[str], None] | None = None) -> list[WriteResult]:
    """Write every sample dataset that is missing (all of them with ``force``); return what was written.

    The sample data ships in the packages of the ``samples`` extra; without them nothing is seeded and ``log``
    says how to get them (the console runs on whatever data it has).
    """
    missing = missing_sample_packages()
    if missing:
        if log:
            log(f"sample data not seeded: {', '.join(missing)} not installed; {INSTALL_HINT}")
        return []
    results = []
    for sample in sample_sets():
        if not force and datasets.exists(sample.ref):
            continue
        frame = sample.build()
        result = datasets.write(
            sample.ref, frame, replace_overlap=True, close_only=sample.close_only,
            source=sample.origin, actor="seed", note={"origin": sample.origin},
        )
        results.append(result)
        if log:
            log(f"seeded {sample.ref}: {result.rows_total} candles from {sample.origin}")
    return results
