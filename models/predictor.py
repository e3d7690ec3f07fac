"""LSTM forecast of h-step cumulative log returns over a universe, validated walk-forward against the random walk.

How it works, in order:

1. Per symbol, each log return is divided by its one-step volatility forecast (EWMA or GARCH, known
   before the return), so symbols and regimes share one scale; the target is the next ``horizon``
   returns summed and divided by the volatility model's sigma for that horizon.
2. One small LSTM is trained on the windows of all symbols pooled (Adam, MSE, early stopping on the
   most recent 15 % of the training span).
3. Walk-forward validation: the as-of dates after ``initial_train_fraction`` of the span are cut into
   ``n_folds`` consecutive blocks; each block is predicted by a model trained only on samples whose
   targets end before the block starts (expanding window, purged of overlapping targets).
4. On those out-of-sample forecasts: RMSE against the zero-return (random-walk) forecast, hit rate,
   and the shrinkage factor, the lower one-sided 95 % confidence bound of the slope of realised on
   forecast returns, clipped to [0, 1]. The published expected return is ``shrinkage * model forecast``:
   only the skill validation can demonstrate survives, and a model that does not beat the random walk is
   shrunk at least halfway to zero, usually all the way.
5. The prediction interval is the published forecast plus the 5 % and 95 % quantiles of the validation
   residuals in units of the volatility model's horizon sigma (split-conformal calibration), so its
   width follows today's volatility and its coverage is what validation measured.
6. The final model is retrained on every sample for the median number of epochs the folds chose.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm
from torch import nn

from models.errors import InsufficientData
from models.volatility import RISKMETRICS_LAMBDA, VolatilityMethod, VolatilityModel, ewma, fit_garch

#: bump when the byte layout of FittedPredictor.to_bytes changes
FORMAT_VERSION = 1
#: standardised inputs and training targets are clipped here: unadjusted splits and bad ticks would
#: otherwise dominate an MSE loss
_CLIP_SIGMAS = 8.0
_INFERENCE_BATCH = 8192


@dataclass(frozen=True)
class PredictorConfig:
    """Hyper-parameters of the predictor; the defaults suit daily bars on a 2-core CPU."""

    #: returns in each input window
    lookback: int = 60
    #: steps ahead; the target is the cumulative log return over the next ``horizon`` steps
    horizon: int = 5
    hidden_size: int = 32
    num_layers: int = 1
    learning_rate: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 20
    #: epochs without improvement of the early-stopping loss before training stops
    patience: int = 3
    #: windows drawn (without replacement when possible) per epoch, so an epoch costs the same on any universe
    samples_per_epoch: int = 8192
    #: walk-forward folds (expanding window)
    n_folds: int = 3
    #: share of the as-of span used only for training before the first validation fold
    initial_train_fraction: float = 0.4
    #: two-sided level of the prediction interval
    interval_level: float = 0.90
    #: one-sided confidence of the skill that survives shrinkage
    shrinkage_confidence: float = 0.95
    volatility: VolatilityMethod = "ewma"
    ewma_lambda: float = RISKMETRICS_LAMBDA
    #: windows each symbol must have beyond ``lookback + horizon`` returns
    min_samples: int = 100
    seed: int = 0
    #: torch intra-op threads during fit/predict (restored afterwards). One: a 32-unit LSTM gains little
    #: from a second thread, and on a busy 2-core machine (app server, worker) two threads spin-wait on
    #: each other: a 10-symbol fit measured 13 s with one thread and 43 s with two under load.
    num_threads: int = 1

    def __post_init__(self) -> None:
        positive = (
            "lookback",
            "horizon",
            "hidden_size",
            "num_layers",
            "batch_size",
            "max_epochs",
            "patience",
            "samples_per_epoch",
            "n_folds",
            "min_samples",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"PredictorConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.interval_level < 1.0:
            raise ValueError(f"interval_level must be in (0, 1), got {self.interval_level}")
        if not 0.0 < self.initial_train_fraction < 1.0:
            raise ValueError(f"initial_train_fraction must be in (0, 1), got {self.initial_train_fraction}")
        if self.volatility not in ("ewma", "garch"):
            raise ValueError(f"volatility must be 'ewma' or 'garch', got {self.volatility!r}")

    @property
    def required_length(self) -> int:
        """Non-NaN returns a symbol needs for ``fit``: enough, on its own, for every walk-forward fold.

        The first fold trains on ``initial_train_fraction`` of the as-of span and needs ``min_samples``
        windows whose targets end before it; each fold needs at least one validation date.
        """
        span = math.ceil((self.min_samples + self.horizon) / self.initial_train_fraction)
        return self.lookback + self.horizon + span + self.n_folds


@dataclass(frozen=True)
class ValidationMetrics:
    """Out-of-sample (walk-forward) quality of the raw model forecast against the zero-return forecast.

    ``interval_coverage`` is the share of realised returns inside the published interval; the interval
    quantiles are calibrated on these same pooled residuals, so per symbol it is honest only up to that.
    """

    n: int
    rmse: float
    rmse_naive: float
    rmse_ratio: float
    #: share of non-zero outcomes whose sign the raw forecast got right
    hit_rate: float
    #: share of non-zero outcomes that were positive (what "always up" would score)
    up_rate: float
    interval_coverage: float
    beats_naive: bool


@dataclass(frozen=True)
class Forecast:
    """What the predictor says about one symbol over the next ``horizon`` steps (cumulative log returns)."""

    symbol: str
    #: index label of the last return used
    as_of: Hashable
    horizon: int
    #: published forecast: ``shrinkage * model_return``; what the optimizer should use
    expected_return: float
    #: raw LSTM forecast
    model_return: float
    lower: float
    upper: float
    interval_level: float
    #: volatility model's sigma of the cumulative return over the horizon
    sigma: float
    shrinkage: float
    metrics: ValidationMetrics
    note: str

    @property
    def beats_naive(self) -> bool:
        """True when the raw model had a lower validation RMSE than the random walk."""
        return self.metrics.beats_naive


class _Network(nn.Module):
    """LSTM over a window of standardised returns, then a linear head on the last hidden state."""

    def __init__(self, hidden_size: int, num_layers: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
        # start near the zero forecast: the random walk is the prior we must beat
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(windows.unsqueeze(-1))
        return self.head(output[:, -1]).squeeze(-1)


@dataclass
class _SymbolSeries:
    """One symbol's non-NaN returns with their row positions in the input frame and volatility path."""

    symbol: str
    returns: np.ndarray
    positions: np.ndarray
    #: one-step variance forecasts, length len(returns) + 1 (see VolatilityModel.one_step_variance)
    variance: np.ndarray
    standardized: np.ndarray


@dataclass
class _Samples:
    """Windows of all symbols: ``end`` is the index of the first target return in the symbol's series."""

    symbol: np.ndarray
    end: np.ndarray
    asof: np.ndarray
    target_end: np.ndarray
    x: np.ndarray
    sigma: np.ndarray
    realized: np.ndarray
    target: np.ndarray

    def take(self, index: np.ndarray) -> _Samples:
        return _Samples(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})


@dataclass
class FittedPredictor:
    """A trained predictor: network, calibration and validation metrics; cacheable with to_bytes()."""

    config: PredictorConfig
    network: _Network
    volatility: dict[str, VolatilityModel]
    #: shrinkage factor per training symbol; ``pooled_shrinkage`` applies to symbols not seen in fit
    shrinkage: dict[str, float]
    pooled_shrinkage: float
    #: quantiles of the validation residuals in horizon-sigma units: (lower, upper)
    residual_quantiles: tuple[float, float]
    symbol_metrics: dict[str, ValidationMetrics]
    overall: ValidationMetrics
    data_fingerprint: str
    epochs: int
    fold_epochs: list[int]
    train_seconds: float = 0.0
    symbols: list[str] = field(default_factory=list)

    # --- forecasts ------------------------------------------------------------------------------------
    def predict(self, returns: pd.DataFrame) -> dict[str, Forecast]:
        """Forecast each column of ``returns`` (log returns) from its last ``lookback`` non-NaN returns.

        Raises InsufficientData naming the symbols with fewer than ``lookback`` returns.
        """
        frame = _clean(returns)
        short = {s: int(frame[s].notna().sum()) for s in frame.columns}
        short = {s: n for s, n in short.items() if n < self.config.lookback}
        if short:
            raise InsufficientData(short, self.config.lookback, "predict")
        history = self.forecast_history(frame, last_only=True)
        forecasts = {}
        for row in history.itertuples(index=False):
            metrics = self.symbol_metrics.get(row.symbol, self.overall)
            forecasts[row.symbol] = Forecast(
                symbol=row.symbol,
                as_of=row.as_of,
                horizon=self.config.horizon,
                expected_return=float(row.expected_return),
                model_return=float(row.model_return),
                lower=float(row.lower),
                upper=float(row.upper),
                interval_level=self.config.interval_level,
                sigma=float(row.sigma),
                shrinkage=self._shrinkage_of(row.symbol),
                metrics=metrics,
                note=self._note(row.symbol, metrics),
            )
        return forecasts

    def forecast_history(
        self, returns: pd.DataFrame, start: Hashable | None = None, last_only: bool = False
    ) -> pd.DataFrame:
        """Rolling forecasts for every as-of date (from ``start``) and symbol, with what was realised.

        Columns: as_of, symbol, expected_return, model_return, lower, upper, sigma, realized (the
        cumulative log return of the next ``horizon`` non-NaN returns, NaN where the data ends first).
        The model is not refitted: use a predictor fitted before ``start`` for an out-of-sample path.
        """
        frame = _clean(returns)
        cfg = self.config
        volatility = {s: self._volatility_for(s, frame[s].to_numpy()) for s in frame.columns}
        series = _prepare(frame, volatility)
        start_pos = 0 if start is None else int(frame.index.searchsorted(start))
        samples = _windows(series, volatility, cfg, require_target=False, asof_from=start_pos, last_only=last_only)
        with _torch_threads(cfg.num_threads):
            model_std = _infer(self.network, samples.x)
        model_return = model_std * samples.sigma
        shrink = np.array([self._shrinkage_of(series[i].symbol) for i in samples.symbol])
        expected = shrink * model_return
        q_lo, q_hi = self.residual_quantiles
        return pd.DataFrame(
            {
                "as_of": frame.index[samples.asof],
                "symbol": [series[i].symbol for i in samples.symbol],
                "expected_return": expected,
                "model_return": model_return,
                "lower": expected + q_lo * samples.sigma,
                "upper": expected + q_hi * samples.sigma,
                "sigma": samples.sigma,
                "realized": samples.realized,
            }
        )

    # --- caching --------------------------------------------------------------------------------------
    def is_current(self, returns: pd.DataFrame, config: PredictorConfig | None = None) -> bool:
        """True when this model was fitted on exactly ``returns`` (and ``config``, if given)."""
        same_config = config is None or config == self.config
        return same_config and fingerprint(returns) == self.data_fingerprint

    def to_bytes(self) -> bytes:
        """Weights, configuration, calibration, metrics and data fingerprint, as ``torch.save`` bytes.

        Only tensors and plain Python values are stored, so ``from_bytes`` loads with ``weights_only=True``.
        """
        payload = {
            "format": FORMAT_VERSION,
            "config": asdict(self.config),
            "state_dict": self.network.state_dict(),
            "volatility": {s: asdict(m) for s, m in self.volatility.items()},
            "shrinkage": {s: float(v) for s, v in self.shrinkage.items()},
            "pooled_shrinkage": float(self.pooled_shrinkage),
            "residual_quantiles": [float(q) for q in self.residual_quantiles],
            "symbol_metrics": {s: asdict(m) for s, m in self.symbol_metrics.items()},
            "overall": asdict(self.overall),
            "data_fingerprint": self.data_fingerprint,
            "epochs": int(self.epochs),
            "fold_epochs": [int(e) for e in self.fold_epochs],
            "train_seconds": float(self.train_seconds),
            "symbols": list(self.symbols),
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FittedPredictor:
        """Rebuild a predictor saved by ``to_bytes``; raises ValueError for another format version."""
        payload = torch.load(io.BytesIO(data), weights_only=True)
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"predictor bytes have format {payload.get('format')}, expected {FORMAT_VERSION}")
        config = PredictorConfig(**payload["config"])
        network = _Network(config.hidden_size, config.num_layers)
        network.load_state_dict(payload["state_dict"])
        network.eval()
        return cls(
            config=config,
            network=network,
            volatility={s: VolatilityModel(**m) for s, m in payload["volatility"].items()},
            shrinkage=dict(payload["shrinkage"]),
            pooled_shrinkage=payload["pooled_shrinkage"],
            residual_quantiles=tuple(payload["residual_quantiles"]),
            symbol_metrics={s: ValidationMetrics(**m) for s, m in payload["symbol_metrics"].items()},
            overall=ValidationMetrics(**payload["overall"]),
            data_fingerprint=payload["data_fingerprint"],
            epochs=payload["epochs"],
            fold_epochs=list(payload["fold_epochs"]),
            train_seconds=payload["train_seconds"],
            symbols=list(payload["symbols"]),
        )

    # --- internals ------------------------------------------------------------------------------------
    def _shrinkage_of(self, symbol: str) -> float:
        return self.shrinkage.get(symbol, self.pooled_shrinkage)

    def _volatility_for(self, symbol: str, returns: np.ndarray) -> VolatilityModel:
        if symbol in self.volatility:
            return self.volatility[symbol]
        return _volatility_model(self.config, returns, symbol)

    def _note(self, symbol: str, metrics: ValidationMetrics) -> str:
        shrink = self._shrinkage_of(symbol)
        seen = "" if symbol in self.shrinkage else "symbol not in the training set; pooled validation used. "
        verdict = (
            f"model beat the random walk on validation (RMSE ratio {metrics.rmse_ratio:.3f})"
            if metrics.beats_naive
            else f"model did NOT beat the random walk on validation (RMSE ratio {metrics.rmse_ratio:.3f})"
        )
        if shrink == 0.0:
            action = "forecast shrunk to zero (no demonstrable skill)"
        elif shrink < 1.0:
            action = f"forecast shrunk by factor {shrink:.2f} to the skill validation supports"
        else:
            action = "forecast used as is"
        return f"{seen}{verdict}; {action}."


def fingerprint(returns: pd.DataFrame) -> str:
    """SHA-256 of a returns frame's columns, index and values: equal fingerprints mean equal data."""
    frame = _clean(returns)
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(pd.Series(frame.index), index=False).to_numpy().tobytes())
    values = frame.to_numpy(dtype=np.float64, copy=True)
    values[np.isnan(values)] = np.nan  # one NaN bit pattern
    digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def fit(returns: pd.DataFrame, config: PredictorConfig | None = None) -> FittedPredictor:
    """Train the pooled LSTM on a universe of log returns (rows = dates, columns = symbols).

    NaN (missing dates, misaligned calendars) are dropped per symbol; infinities count as NaN. Raises
    InsufficientData naming every symbol with fewer than ``config.required_length`` returns, or when the
    universe's span is too short for ``n_folds`` validation folds.
    """
    cfg = config or PredictorConfig()
    frame = _clean(returns)
    if frame.shape[1] == 0:
        raise InsufficientData({"(empty universe)": 0}, cfg.required_length, "fit the predictor")
    lengths = {s: int(frame[s].notna().sum()) for s in frame.columns}
    short = {s: n for s, n in lengths.items() if n < cfg.required_length}
    if short:
        raise InsufficientData(short, cfg.required_length, "fit the predictor")
    started = time.perf_counter()
    with _torch_threads(cfg.num_threads):
        volatility = {s: _volatility_model(cfg, frame[s].to_numpy(), s) for s in frame.columns}
        series = _prepare(frame, volatility)
        samples = _windows(series, volatility, cfg, require_target=True)
        folds = _fold_bounds(samples, cfg, len(frame))
        validation_parts, fold_epochs = [], []
        for k, (block_start, block_end) in enumerate(folds):
            train = np.flatnonzero(samples.target_end <= block_start)
            valid = np.flatnonzero((samples.asof >= block_start) & (samples.asof < block_end))
            network, best_epoch = _train(samples, train, cfg, seed=cfg.seed + k)
            fold_epochs.append(best_epoch)
            part = samples.take(valid)
            validation_parts.append((part, _infer(network, part.x) * part.sigma))
        epochs = max(1, int(np.median(fold_epochs)))
        network, _ = _train(samples, np.arange(len(samples.end)), cfg, seed=cfg.seed + len(folds), epochs=epochs)
    validated = _Samples(**{n: np.concatenate([getattr(p, n) for p, _ in validation_parts]) for n in _FIELDS})
    forecast = np.concatenate([f for _, f in validation_parts])
    calibration = _calibrate(validated, forecast, series, cfg)
    return FittedPredictor(
        config=cfg,
        network=network,
        volatility=volatility,
        shrinkage=calibration.shrinkage,
        pooled_shrinkage=calibration.pooled_shrinkage,
        residual_quantiles=calibration.residual_quantiles,
        symbol_metrics=calibration.symbol_metrics,
        overall=calibration.overall,
        data_fingerprint=fingerprint(frame),
        epochs=epochs,
        fold_epochs=fold_epochs,
        train_seconds=time.perf_counter() - started,
        symbols=list(frame.columns),
    )


# --- data preparation ---------------------------------------------------------------------------------
_FIELDS = tuple(_Samples.__dataclass_fields__)


def _clean(returns: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(returns, pd.DataFrame):
        raise TypeError(f"returns must be a DataFrame of log returns (rows = dates), got {type(returns).__name__}")
    frame = returns.astype("float64").replace([np.inf, -np.inf], np.nan)
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        raise ValueError(f"duplicate symbols in returns: {sorted(set(frame.columns[frame.columns.duplicated()]))}")
    return frame if frame.index.is_monotonic_increasing else frame.sort_index()


def _volatility_model(cfg: PredictorConfig, returns: np.ndarray, symbol: str) -> VolatilityModel:
    if cfg.volatility == "ewma":
        return ewma(cfg.ewma_lambda)
    try:
        return fit_garch(returns)
    except InsufficientData as short:
        raise InsufficientData({symbol: short.lengths["series"]}, short.required, short.purpose) from None


def _prepare(frame: pd.DataFrame, volatility: dict[str, VolatilityModel]) -> list[_SymbolSeries]:
    series = []
    for symbol in frame.columns:
        column = frame[symbol].to_numpy()
        positions = np.flatnonzero(~np.isnan(column))
        r = column[positions]
        variance = volatility[symbol].one_step_variance(r)
        sigma = np.sqrt(np.maximum(variance[:-1], 1e-16))
        standardized = np.clip(r / sigma, -_CLIP_SIGMAS, _CLIP_SIGMAS)
        series.append(_SymbolSeries(symbol, r, positions, variance, standardized))
    return series


def _windows(
    series: list[_SymbolSeries],
    volatility: dict[str, VolatilityModel],
    cfg: PredictorConfig,
    require_target: bool,
    asof_from: int = 0,
    last_only: bool = False,
) -> _Samples:
    """All windows of ``lookback`` standardised returns; with ``require_target`` only those with a full target."""
    lookback, horizon = cfg.lookback, cfg.horizon
    parts = []
    for i, s in enumerate(series):
        m = len(s.returns)
        last_end = m - horizon if require_target else m
        if last_end < lookback:
            continue
        ends = np.arange(lookback, last_end + 1)
        ends = ends[s.positions[ends - 1] >= asof_from]
        if last_only:
            ends = ends[-1:]
        if ends.size == 0:
            continue
        view = np.lib.stride_tricks.sliding_window_view(s.standardized, lookback)
        cumulative = np.concatenate([[0.0], np.cumsum(s.returns)])
        complete = ends + horizon <= m
        realized = np.full(ends.size, np.nan)
        realized[complete] = cumulative[ends[complete] + horizon] - cumulative[ends[complete]]
        target_end = np.full(ends.size, np.iinfo(np.int64).max)
        target_end[complete] = s.positions[ends[complete] + horizon - 1]
        sigma = np.sqrt(np.maximum(volatility[s.symbol].horizon_variance(s.variance[ends], horizon), 1e-16))
        parts.append(
            _Samples(
                symbol=np.full(ends.size, i),
                end=ends,
                asof=s.positions[ends - 1],
                target_end=target_end,
                x=view[ends - lookback].astype(np.float32),
                sigma=sigma,
                realized=realized,
                target=np.clip(realized / sigma, -_CLIP_SIGMAS, _CLIP_SIGMAS),
            )
        )
    if not parts:
        empty = np.empty(0)
        return _Samples(empty.astype(int), empty.astype(int), empty.astype(int), empty.astype(int),
                        np.empty((0, lookback), np.float32), empty, empty, empty)  # fmt: skip
    return _Samples(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in _FIELDS})


def _fold_bounds(samples: _Samples, cfg: PredictorConfig, n_rows: int) -> list[tuple[int, int]]:
    """Row positions [start, end) of the as-of dates of each validation block."""
    first, last = int(samples.asof.min()), int(samples.asof.max())
    edges = np.linspace(first + cfg.initial_train_fraction * (last - first), last + 1, cfg.n_folds + 1)
    edges = np.round(edges).astype(int)
    folds = list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))
    for start, end in folds:
        n_train = int(np.sum(samples.target_end <= start))
        n_valid = int(np.sum((samples.asof >= start) & (samples.asof < end)))
        if n_train < cfg.min_samples or n_valid < 1 or end <= start:
            raise InsufficientData(
                {"universe (dates)": n_rows},
                cfg.required_length,
                f"validate the predictor walk-forward on {cfg.n_folds} folds",
            )
    return folds


# --- training -----------------------------------------------------------------------------------------
@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _infer(network: _Network, x: np.ndarray) -> np.ndarray:
    network.eval()
    out = np.empty(len(x))
    with torch.no_grad():
        for i in range(0, len(x), _INFERENCE_BATCH):
            out[i : i + _INFERENCE_BATCH] = network(torch.from_numpy(x[i : i + _INFERENCE_BATCH])).numpy()
    return out


def _train(
    samples: _Samples, train: np.ndarray, cfg: PredictorConfig, seed: int, epochs: int | None = None
) -> tuple[_Network, int]:
    """Train on ``train``; without ``epochs``, hold out its latest 15 % (purged) and stop early on it."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = _Network(cfg.hidden_size, cfg.num_layers)
    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.learning_rate)
    if epochs is None:
        asof = samples.asof[train]
        cut = int(np.quantile(asof, 0.85))
        holdout = train[asof >= cut]
        if holdout.size > cfg.samples_per_epoch:
            # a fixed random subset keeps each epoch's check cheap on large universes
            holdout = np.sort(rng.choice(holdout, size=cfg.samples_per_epoch, replace=False))
        fitting = train[samples.target_end[train] <= cut]
        max_epochs = cfg.max_epochs
    else:
        holdout, fitting, max_epochs = np.empty(0, int), train, epochs
    x_all = torch.from_numpy(samples.x)
    y_all = torch.from_numpy(samples.target.astype(np.float32))
    x_hold, y_hold = samples.x[holdout], samples.target[holdout]
    best_loss, best_epoch, best_state, stale = math.inf, max_epochs, None, 0
    for epoch in range(1, max_epochs + 1):
        network.train()
        size = min(cfg.samples_per_epoch, fitting.size)
        drawn = rng.choice(fitting, size=size, replace=False)
        for i in range(0, size, cfg.batch_size):
            batch = torch.from_numpy(drawn[i : i + cfg.batch_size])
            loss = torch.mean((network(x_all[batch]) - y_all[batch]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
        if holdout.size == 0:
            continue
        hold_loss = float(np.mean((_infer(network, x_hold) - y_hold) ** 2))
        if hold_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = hold_loss, epoch, 0
            best_state = {k: v.clone() for k, v in network.state_dict().items()}
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return network, best_epoch


# --- calibration and metrics --------------------------------------------------------------------------
@dataclass
class _Calibration:
    shrinkage: dict[str, float]
    pooled_shrinkage: float
    residual_quantiles: tuple[float, float]
    symbol_metrics: dict[str, ValidationMetrics]
    overall: ValidationMetrics


def _shrinkage(realized_std: np.ndarray, forecast_std: np.ndarray, horizon: int, confidence: float) -> float:
    """Lower one-sided confidence bound of the no-intercept slope of realised on forecast, in [0, 1].

    Overlapping h-step targets make neighbouring residuals correlated; the standard error is inflated
    by sqrt(horizon) (effective sample size n / horizon).
    """
    n = realized_std.size
    energy = float(np.sum(forecast_std**2))
    if n < 3 or energy <= 0:
        return 0.0
    slope = float(np.sum(realized_std * forecast_std)) / energy
    residual_var = float(np.sum((realized_std - slope * forecast_std) ** 2)) / (n - 1)
    stderr = math.sqrt(residual_var / energy) * math.sqrt(horizon)
    return float(np.clip(slope - norm.ppf(confidence) * stderr, 0.0, 1.0))


def _metrics(realized: np.ndarray, forecast: np.ndarray, inside: np.ndarray) -> ValidationMetrics:
    n = int(realized.size)
    rmse = float(np.sqrt(np.mean((realized - forecast) ** 2))) if n else float("nan")
    rmse_naive = float(np.sqrt(np.mean(realized**2))) if n else float("nan")
    ratio = rmse / rmse_naive if rmse_naive > 0 else float("nan")
    moved = realized != 0
    hit = float(np.mean(np.sign(forecast[moved]) == np.sign(realized[moved]))) if moved.any() else float("nan")
    up = float(np.mean(realized[moved] > 0)) if moved.any() else float("nan")
    coverage = float(np.mean(inside)) if n else float("nan")
    return ValidationMetrics(
        n=n,
        rmse=rmse,
        rmse_naive=rmse_naive,
        rmse_ratio=ratio,
        hit_rate=hit,
        up_rate=up,
        interval_coverage=coverage,
        beats_naive=bool(ratio < 1.0),
    )


def _calibrate(
    validated: _Samples, forecast: np.ndarray, series: list[_SymbolSeries], cfg: PredictorConfig
) -> _Calibration:
    realized_std = validated.realized / validated.sigma
    forecast_std = forecast / validated.sigma
    pooled = _shrinkage(realized_std, forecast_std, cfg.horizon, cfg.shrinkage_confidence)
    shrinkage = {}
    for i, s in enumerate(series):
        mine = validated.symbol == i
        shrinkage[s.symbol] = _shrinkage(realized_std[mine], forecast_std[mine], cfg.horizon, cfg.shrinkage_confidence)
    factor = np.array([shrinkage[series[i].symbol] for i in validated.symbol])
    residual_std = realized_std - factor * forecast_std
    tail = (1.0 - cfg.interval_level) / 2.0
    q_lo, q_hi = (float(q) for q in np.quantile(residual_std, [tail, 1.0 - tail]))
    inside = (residual_std >= q_lo) & (residual_std <= q_hi)
    symbol_metrics = {}
    for i, s in enumerate(series):
        mine = validated.symbol == i
        symbol_metrics[s.symbol] = _metrics(validated.realized[mine], forecast[mine], inside[mine])
    return _Calibration(
        shrinkage=shrinkage,
        pooled_shrinkage=pooled,
        residual_quantiles=(q_lo, q_hi),
        symbol_metrics=symbol_metrics,
        overall=_metrics(validated.realized, forecast, inside),
    )
