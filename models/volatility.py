"""Volatility of log returns: EWMA (RiskMetrics) and GARCH(1,1) by maximum likelihood, with h-step forecasts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.signal import lfilter

from models.errors import InsufficientData

VolatilityMethod = Literal["ewma", "garch"]

#: RiskMetrics (1996) decay for daily data
RISKMETRICS_LAMBDA = 0.94
#: observations used to seed the recursions (the "backcast"), as RiskMetrics and the arch package do
_SEED_OBSERVATIONS = 50
#: GARCH needs this many returns for the likelihood to identify three parameters
MIN_GARCH_OBSERVATIONS = 100
#: alpha + beta is kept below this so the process stays covariance-stationary
_MAX_PERSISTENCE = 0.9995


@dataclass(frozen=True)
class VolatilityForecast:
    """Forecast of per-step volatility over the next ``horizon`` steps, in log-return units."""

    method: VolatilityMethod
    horizon: int
    #: sigma of each of the next steps 1..horizon
    step_sigma: np.ndarray
    #: sigma of the cumulative log return over the whole horizon (sqrt of the summed variances)
    horizon_sigma: float


@dataclass(frozen=True)
class VolatilityModel:
    """A fitted (GARCH) or parameterised (EWMA) conditional variance model of zero-mean log returns.

    EWMA: ``v[t+1] = lam * v[t] + (1 - lam) * r[t]**2``, flat forecast.
    GARCH(1,1): ``v[t+1] = omega + alpha * r[t]**2 + beta * v[t]``, forecast reverting to
    ``omega / (1 - alpha - beta)``. Returns are treated as zero-mean, as RiskMetrics does: at daily
    frequency the mean is two orders of magnitude below sigma.
    """

    method: VolatilityMethod
    lam: float = RISKMETRICS_LAMBDA
    omega: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0
    #: mean log-likelihood per observation (GARCH only; NaN for EWMA)
    loglik: float = float("nan")
    converged: bool = True

    @property
    def persistence(self) -> float:
        """How much of a variance shock survives one step (lam for EWMA, alpha + beta for GARCH)."""
        return self.lam if self.method == "ewma" else self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        """Unconditional per-step variance (GARCH); NaN for EWMA, which has none."""
        if self.method == "ewma":
            return float("nan")
        return self.omega / max(1.0 - self.alpha - self.beta, 1e-12)

    def one_step_variance(self, returns: np.ndarray) -> np.ndarray:
        """Variance forecasts ``v`` of length ``len(returns) + 1``: ``v[t]`` uses only ``returns[:t]``.

        ``v[-1]`` is the forecast for the next, unseen step. NaN returns are missing observations: the
        variance is carried over them unchanged.
        """
        r = np.asarray(returns, dtype=np.float64)
        present = ~np.isnan(r)
        x = r[present]
        if x.size == 0:
            return np.full(r.size + 1, np.nan)
        seed = _seed_variance(x)
        if self.method == "ewma":
            drive = (1.0 - self.lam) * x**2
            decay = self.lam
        else:
            drive = self.omega + self.alpha * x**2
            decay = self.beta
        compact = np.empty(x.size + 1)
        compact[0] = seed
        compact[1:] = lfilter([1.0], [1.0, -decay], drive, zi=[decay * seed])[0]
        # map back: position t holds the forecast made after the last present return before t
        seen = np.concatenate([[0], np.cumsum(present)])
        return compact[seen]

    def step_variances(self, next_variance: np.ndarray | float, horizon: int) -> np.ndarray:
        """Per-step variance forecasts for steps 1..horizon from the next-step variance(s).

        Shape ``(*np.shape(next_variance), horizon)``.
        """
        v1 = np.asarray(next_variance, dtype=np.float64)[..., None]
        k = np.arange(horizon, dtype=np.float64)
        if self.method == "ewma":
            return np.broadcast_to(v1, (*v1.shape[:-1], horizon)).copy()
        phi = self.alpha + self.beta
        long_run = self.long_run_variance
        return long_run + phi**k * (v1 - long_run)

    def horizon_variance(self, next_variance: np.ndarray | float, horizon: int) -> np.ndarray:
        """Variance of the cumulative log return over ``horizon`` steps (sum of the step variances)."""
        return self.step_variances(next_variance, horizon).sum(axis=-1)

    def forecast(self, returns: np.ndarray, horizon: int) -> VolatilityForecast:
        """Forecast per-step and cumulative sigma for the ``horizon`` steps after the last return."""
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        v_next = self.one_step_variance(returns)[-1]
        steps = self.step_variances(v_next, horizon)
        return VolatilityForecast(
            method=self.method,
            horizon=horizon,
            step_sigma=np.sqrt(steps),
            horizon_sigma=float(np.sqrt(steps.sum())),
        )


def _seed_variance(x: np.ndarray) -> float:
    head = x[:_SEED_OBSERVATIONS]
    seed = float(np.mean(head**2))
    if seed > 0:
        return seed
    # a run of zero returns at the start (stale feed): fall back to the whole sample, then to a tiny floor
    whole = float(np.mean(x**2))
    return whole if whole > 0 else 1e-12


def ewma(lam: float = RISKMETRICS_LAMBDA) -> VolatilityModel:
    """The RiskMetrics EWMA variance model with decay ``lam`` (0.94 for daily data, 0.97 for monthly)."""
    if not 0.0 < lam < 1.0:
        raise ValueError(f"EWMA decay must be in (0, 1), got {lam}")
    return VolatilityModel(method="ewma", lam=lam)


def _garch_negative_loglik(params: np.ndarray, x: np.ndarray, seed: float) -> float:
    omega, alpha, beta = params
    drive = omega + alpha * x[:-1] ** 2
    v = np.empty(x.size)
    v[0] = seed
    v[1:] = lfilter([1.0], [1.0, -beta], drive, zi=[beta * seed])[0]
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        return 1e10
    return 0.5 * float(np.mean(np.log(v) + x**2 / v))


def fit_garch(returns: np.ndarray) -> VolatilityModel:
    """Fit GARCH(1,1) to zero-mean log returns by Gaussian maximum likelihood (scipy SLSQP).

    Returns are scaled to unit variance for the optimiser and ``omega`` is scaled back. NaN returns are
    dropped. Raises InsufficientData below ``MIN_GARCH_OBSERVATIONS`` returns.
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[~np.isnan(r)]
    if r.size < MIN_GARCH_OBSERVATIONS:
        raise InsufficientData({"series": int(r.size)}, MIN_GARCH_OBSERVATIONS, "fit GARCH(1,1)")
    scale = float(np.sqrt(np.mean(r**2)))
    if scale == 0:
        raise ValueError("cannot fit GARCH(1,1) to a series of zero returns")
    x = r / scale
    seed = _seed_variance(x)
    bounds = [(1e-8, 10.0), (0.0, 1.0), (0.0, 1.0)]
    stationarity = {"type": "ineq", "fun": lambda p: _MAX_PERSISTENCE - p[1] - p[2]}
    best = None
    # a few starts: the likelihood is flat along alpha + beta near 1 and SLSQP is local
    for alpha0, beta0 in ((0.05, 0.90), (0.10, 0.80), (0.03, 0.95), (0.20, 0.50)):
        start = np.array([1.0 - alpha0 - beta0, alpha0, beta0])
        result = minimize(
            _garch_negative_loglik,
            start,
            args=(x, seed),
            method="SLSQP",
            bounds=bounds,
            constraints=[stationarity],
            options={"maxiter": 200, "ftol": 1e-10},
        )
        if best is None or result.fun < best.fun:
            best = result
    omega, alpha, beta = (float(p) for p in best.x)
    return VolatilityModel(
        method="garch",
        omega=omega * scale**2,
        alpha=alpha,
        beta=beta,
        loglik=float(-best.fun - 0.5 * np.log(2 * np.pi) - np.log(scale)),
        converged=bool(best.success),
    )


def fit_volatility(
    returns: np.ndarray, method: VolatilityMethod = "ewma", lam: float = RISKMETRICS_LAMBDA
) -> VolatilityModel:
    """The volatility model ``method`` for ``returns``: EWMA needs no fit, GARCH is fitted by MLE."""
    if method == "ewma":
        return ewma(lam)
    if method == "garch":
        return fit_garch(returns)
    raise ValueError(f"unknown volatility method {method!r} (use 'ewma' or 'garch')")


def forecast_volatility(
    returns: np.ndarray, horizon: int, method: VolatilityMethod = "ewma", lam: float = RISKMETRICS_LAMBDA
) -> VolatilityForecast:
    """Per-step sigma for the next ``horizon`` steps of a log-return series (fit + forecast in one call)."""
    return fit_volatility(returns, method, lam).forecast(returns, horizon)
