"""Anomalies in an OHLCV series: structural rules, robust statistical rules and an IsolationForest.

Kinds and when they are critical (a critical event removes the symbol from a run's orders):

- ``ohlc_violation``: a price <= 0, high < low, open or close outside [low, high], volume < 0.
  Always **critical**: the dataset itself is broken and every number computed from it is suspect.
- ``missing_value``: NaN prices (runs collapsed into one event). Warning; **critical** when the last
  bar has no close, because there is then no price to trade on.
- ``duplicate``: the same timestamp more than once (the last row is kept). Warning.
- ``gap``: bars missing on the interval grid. With ``sessions`` (e.g. from exchange-calendars) the
  expected bars are exactly those sessions; without, slots of the week that are regularly empty
  (weekends, a venue's daily break) are learned from the series and not counted. A single missing
  daily bar without a calendar is ``info`` (most likely a holiday), other gaps are warnings.
- ``stale``: a run of identical closes. Exact copies of the previous bar (OHLCV, with volume > 0 or
  high > low) count from one repeat; for other bars (close-only series) the run must be longer than
  chance allows given how often the series repeated a close over the previous ``stale_rate_window``
  bars (tick size against price, liquidity): ``rate ** repeats <= stale_false_alarm_rate``, and at
  least ``min_stale_repeats``. Warning; **critical** when the run reaches the last bar: the feed is
  frozen now.
- ``jump``: a log return beyond ``jump_sigmas`` robust sigmas (1.4826 x rolling median |return| of the
  previous ``window`` bars), or a spike: a move and its reversal on the next bar, both beyond
  ``spike_sigmas`` (reported once). Warning; **critical** beyond ``critical_jump_sigmas`` within the
  last ``recent_bars`` bars (a bad print would be traded on). Unadjusted splits show up here.
- ``volume_burst``: volume at least ``volume_ratio`` x its rolling median and ``volume_sigmas`` robust
  sigmas of log volume above it (the second test spares series whose volume routinely swings that
  much); intraday volume is first divided by its time-of-day profile. Info (a market event, not a
  data error); warning from 10x. Skipped when the series has no volume (close-only).
- ``isolation_forest``: scikit-learn IsolationForest on standardised return, bar range and volume;
  bars whose anomaly score (0.5 ordinary, towards 1 isolated) exceeds ``forest_threshold``. Info.

Scores are in [0, 1]; for threshold rules ``score = x / (x + threshold)``, so 0.5 at the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

Severity = Literal["info", "warning", "critical"]
KINDS = (
    "ohlc_violation",
    "missing_value",
    "duplicate",
    "gap",
    "stale",
    "jump",
    "volume_burst",
    "isolation_forest",
)

_DAY_MS = 86_400_000
_WEEK_MS = 7 * _DAY_MS
#: Monday 1970-01-05 00:00 UTC
_WEEK_ORIGIN_MS = 4 * _DAY_MS
_MAD_TO_SIGMA = 1.4826
_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds of the detector; the defaults were set on the real series of bench/anomaly.py."""

    #: a slot of the week is "in session" when at least this share of the weeks spanned have a bar in it
    session_occupancy: float = 0.75
    #: weeks of data needed before weekly sessions are learned from the series
    min_weeks_for_sessions: int = 4
    #: least number of repeated closes that can be stale, whatever the series' own repeat rate
    min_stale_repeats: int = 3
    #: chance of a stale alarm per bar that the adaptive threshold tolerates (1e-4: one per 10,000 bars)
    stale_false_alarm_rate: float = 1e-4
    #: bars before a run whose share of repeated closes sets the run's threshold
    stale_rate_window: int = 250
    #: bars in the rolling windows of the jump and volume rules
    window: int = 60
    #: bars needed in a rolling window before it is trusted
    min_window: int = 20
    jump_sigmas: float = 6.0
    #: both legs of a move-and-reversal must pass this to be a spike
    spike_sigmas: float = 4.5
    critical_jump_sigmas: float = 12.0
    volume_ratio: float = 4.0
    volume_sigmas: float = 2.0
    #: bars at the end of the series in which a very large jump is critical
    recent_bars: int = 5
    isolation_forest: bool = True
    forest_threshold: float = 0.75
    forest_trees: int = 200
    #: bars needed to fit the IsolationForest
    forest_min_bars: int = 200
    seed: int = 0


@dataclass(frozen=True)
class AnomalyEvent:
    """One anomaly: where (Unix ms, ``end_timestamp`` for spans), what, how strong, how serious, why."""

    timestamp: int
    kind: str
    score: float
    severity: Severity
    detail: str
    end_timestamp: int


def detect(
    frame: pd.DataFrame,
    interval_ms: int | None = None,
    config: AnomalyConfig | None = None,
    sessions: Sequence[int] | np.ndarray | None = None,
) -> list[AnomalyEvent]:
    """All anomalies of one symbol's OHLCV frame, sorted by time.

    ``frame`` has ``timestamp`` (Unix ms) and ``close``; ``open``, ``high``, ``low``, ``volume`` are
    optional (a close-only series may also carry open = high = low = close and volume 0).
    ``interval_ms`` is the bar length (inferred from the median step when None). ``sessions`` are the
    expected bar timestamps (Unix ms) when the venue's calendar is known.
    """
    cfg = config or AnomalyConfig()
    if "timestamp" not in frame.columns or "close" not in frame.columns:
        raise ValueError("detect needs at least the columns timestamp and close")
    events: list[AnomalyEvent] = []
    bars, duplicates = _sorted_unique(frame)
    events += duplicates
    if bars.empty:
        return events
    ts = bars["timestamp"].to_numpy(dtype=np.int64)
    step = _step(ts, interval_ms)
    events += _ohlc_violations(bars)
    events += _missing_values(bars)
    if step is not None:
        events += _gaps(ts, step, sessions, cfg, calendar_given=sessions is not None)
    priced = bars[bars["close"].notna() & (bars["close"] > 0)].reset_index(drop=True)
    if len(priced) >= 2:
        events += _stale_runs(priced, cfg)
        sigma_units, returns_ok = _robust_return_z(priced, cfg)
        events += _jumps(priced, sigma_units, returns_ok, cfg)
        volume_z, volume_ratio = _volume_burst_stats(priced, step, cfg)
        if volume_z is not None:
            events += _volume_bursts(priced, volume_z, volume_ratio, cfg)
        if cfg.isolation_forest and len(priced) >= cfg.forest_min_bars:
            events += _forest_outliers(priced, sigma_units, volume_z, cfg)
    return sorted(events, key=lambda e: (e.timestamp, KINDS.index(e.kind)))


def critical_symbols(events_by_symbol: Mapping[str, Iterable[AnomalyEvent]]) -> list[str]:
    """Symbols with at least one critical event, sorted: the ones to leave out of this run's orders."""
    return sorted(s for s, events in events_by_symbol.items() if any(e.severity == "critical" for e in events))


def worst_severity(events: Iterable[AnomalyEvent]) -> Severity | None:
    """The most serious severity among ``events`` (None when there are none)."""
    ranked = [e.severity for e in events]
    return max(ranked, key=_SEVERITY_RANK.__getitem__) if ranked else None


# --- preparation --------------------------------------------------------------------------------------
def _iso(ms: int) -> str:
    return pd.Timestamp(int(ms), unit="ms").isoformat()


def _threshold_score(x: float, threshold: float) -> float:
    return float(x / (x + threshold)) if x > 0 else 0.0


def _sorted_unique(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[AnomalyEvent]]:
    columns = {"timestamp": frame["timestamp"].to_numpy(dtype=np.int64)}
    close = frame["close"].to_numpy(dtype=np.float64)
    for name in ("open", "high", "low"):
        columns[name] = frame[name].to_numpy(dtype=np.float64) if name in frame.columns else close
    columns["close"] = close
    has_volume = "volume" in frame.columns
    columns["volume"] = frame["volume"].to_numpy(dtype=np.float64) if has_volume else np.zeros(len(frame))
    bars = pd.DataFrame(columns).sort_values("timestamp", kind="stable")
    repeated = bars["timestamp"].duplicated(keep="last")
    events = []
    for stamp, count in bars.loc[repeated, "timestamp"].value_counts().sort_index().items():
        events.append(
            AnomalyEvent(
                timestamp=int(stamp),
                kind="duplicate",
                score=1.0,
                severity="warning",
                detail=f"{count + 1} rows share timestamp {_iso(stamp)}; the last one is kept",
                end_timestamp=int(stamp),
            )
        )
    return bars[~repeated].reset_index(drop=True), events


def _step(ts: np.ndarray, interval_ms: int | None) -> int | None:
    if interval_ms is not None:
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be > 0, got {interval_ms}")
        return int(interval_ms)
    if ts.size < 3:
        return None
    return int(np.median(np.diff(ts)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end] index pairs (inclusive) of the runs of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


# --- structural rules ---------------------------------------------------------------------------------
def _ohlc_violations(bars: pd.DataFrame) -> list[AnomalyEvent]:
    o, h, low, c, v = (bars[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    complete = ~(np.isnan(o) | np.isnan(h) | np.isnan(low) | np.isnan(c))
    rules = {
        "price <= 0": complete & ((o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)),
        "high < low": complete & (h < low),
        "open outside [low, high]": complete & ((o < low) | (o > h)),
        "close outside [low, high]": complete & ((c < low) | (c > h)),
        "volume < 0": v < 0,
    }
    broken = np.zeros(len(bars), dtype=bool)
    for hit in rules.values():
        broken |= hit
    events = []
    ts = bars["timestamp"].to_numpy()
    for i in np.flatnonzero(broken):
        names = [name for name, hit in rules.items() if hit[i]]
        events.append(
            AnomalyEvent(
                timestamp=int(ts[i]),
                kind="ohlc_violation",
                score=1.0,
                severity="critical",
                detail=f"{'; '.join(names)} (open={o[i]:g}, high={h[i]:g}, low={low[i]:g}, close={c[i]:g}, "
                f"volume={v[i]:g})",
                end_timestamp=int(ts[i]),
            )
        )
    return events


def _missing_values(bars: pd.DataFrame) -> list[AnomalyEvent]:
    prices = bars[["open", "high", "low", "close"]].to_numpy()
    missing = np.isnan(prices).any(axis=1)
    ts = bars["timestamp"].to_numpy()
    events = []
    for start, end in _runs(missing):
        at_end = end == len(bars) - 1 and np.isnan(bars["close"].iat[end])
        n = end - start + 1
        events.append(
            AnomalyEvent(
                timestamp=int(ts[start]),
                kind="missing_value",
                score=_threshold_score(n, 1.0),
                severity="critical" if at_end else "warning",
                detail=f"{n} bar(s) with NaN prices"
                + ("; the last bar has no close, nothing to trade on" if at_end else ""),
                end_timestamp=int(ts[end]),
            )
        )
    return events


def _session_slots(ts: np.ndarray, step: int, cfg: AnomalyConfig) -> tuple[np.ndarray, int] | None:
    """Which slots of the week are in session (learned from occupancy), and the slot phase origin."""
    if step > _DAY_MS or _WEEK_MS % step != 0:
        return None
    n_slots = _WEEK_MS // step
    origin = _WEEK_ORIGIN_MS + (int(ts[0]) - _WEEK_ORIGIN_MS) % step
    slots = ((ts - origin) % _WEEK_MS) // step
    first, last = int(ts[0]), int(ts[-1])
    offsets = origin + np.arange(n_slots, dtype=np.int64) * step
    spanned = np.floor((last - offsets) / _WEEK_MS) - np.ceil((first - offsets) / _WEEK_MS) + 1
    weeks = (last - first) / _WEEK_MS
    observed = np.bincount(slots, minlength=n_slots)
    if weeks >= cfg.min_weeks_for_sessions:
        in_session = observed >= cfg.session_occupancy * np.maximum(spanned, 1)
    elif step == _DAY_MS and weeks >= 1:
        # too short to learn from, but a daily series with no weekend bar at all trades on weekdays only
        weekday = ((offsets - _WEEK_ORIGIN_MS) % _WEEK_MS) // _DAY_MS
        weekend_seen = observed[weekday >= 5].sum() > 0
        in_session = np.ones(n_slots, dtype=bool) if weekend_seen else weekday < 5
    else:
        return None
    return in_session, origin


def _gaps(
    ts: np.ndarray, step: int, sessions: Sequence[int] | np.ndarray | None, cfg: AnomalyConfig, calendar_given: bool
) -> list[AnomalyEvent]:
    runs: list[tuple[int, int, int]] = []  # first missing, last missing, count
    if sessions is not None:
        expected = np.asarray(sessions, dtype=np.int64)
        expected = expected[(expected >= ts[0]) & (expected <= ts[-1])]
        missing = ~np.isin(expected, ts)
        for start, end in _runs(missing):
            runs.append((int(expected[start]), int(expected[end]), end - start + 1))
    else:
        learned = _session_slots(ts, step, cfg)
        diffs = np.diff(ts)
        for i in np.flatnonzero(diffs > 1.5 * step):
            count = int(np.rint(diffs[i] / step)) - 1
            grid = ts[i] + step * np.arange(1, count + 1, dtype=np.int64)
            if learned is not None:
                in_session, origin = learned
                grid = grid[in_session[((grid - origin) % _WEEK_MS) // step]]
            if grid.size:
                runs.append((int(grid[0]), int(grid[-1]), int(grid.size)))
    events = []
    for first, last, count in runs:
        holiday_like = not calendar_given and count == 1 and step >= _DAY_MS
        events.append(
            AnomalyEvent(
                timestamp=first,
                kind="gap",
                score=_threshold_score(count, 1.0),
                severity="info" if holiday_like else "warning",
                detail=f"{count} bar(s) missing from {_iso(first)} to {_iso(last)}"
                + (" (a single missing day: possibly a holiday)" if holiday_like else ""),
                end_timestamp=last,
            )
        )
    return events


# --- stale prices -------------------------------------------------------------------------------------
def _stale_threshold(repeat_rate: float, cfg: AnomalyConfig) -> int:
    """Repeats needed before a run is unlikely to be chance: repeat_rate ** r <= stale_false_alarm_rate."""
    if repeat_rate <= 0:
        return cfg.min_stale_repeats
    if repeat_rate >= 0.95:
        return 1_000_000  # a series that barely moves: only an exact-copy run can be called stale
    needed = math.log(cfg.stale_false_alarm_rate) / math.log(repeat_rate)
    return max(cfg.min_stale_repeats, math.ceil(needed))


def _stale_runs(priced: pd.DataFrame, cfg: AnomalyConfig) -> list[AnomalyEvent]:
    ts = priced["timestamp"].to_numpy()
    values = priced[["open", "high", "low", "close", "volume"]].to_numpy()
    close = values[:, 3]
    same_close = np.concatenate([[False], close[1:] == close[:-1]])
    informative = (values[:, 4] > 0) | (values[:, 1] > values[:, 2])
    exact_copy = np.concatenate([[False], np.all(values[1:] == values[:-1], axis=1) & informative[1:]])
    # how often this series repeats a close depends on its price level against its tick: use the rate of
    # the bars before each run (a low-priced decade repeats far more often than a high-priced one)
    # counted by run starts, so that one long (stale) run does not raise the rate for the runs after it;
    # with independent repeats of probability p, runs start at rate p(1 - p)
    starts = same_close & ~np.concatenate([[False], same_close[:-1]])
    start_rate = (
        pd.Series(starts, dtype="float64")
        .shift(1)
        .rolling(cfg.stale_rate_window, min_periods=cfg.min_window)
        .mean()
        .fillna(float(starts[1:].mean()))
        .to_numpy()
    )
    local_rate = (1 - np.sqrt(np.clip(1 - 4 * start_rate, 0.0, None))) / 2
    events = []
    last = len(close) - 1
    for start, end in _runs(same_close):
        repeats = end - start + 1
        copies = bool(exact_copy[start : end + 1].all())
        threshold = _stale_threshold(float(local_rate[start]), cfg)
        needed = 1 if copies else threshold
        if repeats < needed:
            continue
        at_end = end == last
        why = (
            "exact copies of the previous bar"
            if copies
            else f"{local_rate[start]:.1%} of recent bars repeat their close, so {threshold} repeats are needed"
        )
        events.append(
            AnomalyEvent(
                timestamp=int(ts[start]),
                kind="stale",
                score=_threshold_score(repeats, needed),
                severity="critical" if at_end else "warning",
                detail=f"close {close[start]:g} repeated on {repeats} bar(s) ({why})"
                + ("; the series ends frozen" if at_end else ""),
                end_timestamp=int(ts[end]),
            )
        )
    return events


# --- robust statistical rules -------------------------------------------------------------------------
def _rolling_past_median(values: pd.Series, cfg: AnomalyConfig) -> pd.Series:
    """Median of the previous ``window`` values (the current one excluded), NaN until ``min_window``."""
    return values.shift(1).rolling(cfg.window, min_periods=cfg.min_window).median()


def _robust_return_z(priced: pd.DataFrame, cfg: AnomalyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Log returns in robust-sigma units (index i = return into bar i; NaN at 0) and where they are defined."""
    log_close = np.log(priced["close"].to_numpy())
    r = pd.Series(np.concatenate([[np.nan], np.diff(log_close)]))
    moved = r[r != 0].abs().dropna()
    overall = _MAD_TO_SIGMA * float(moved.median()) if len(moved) else 0.0
    sigma = _MAD_TO_SIGMA * _rolling_past_median(r.abs(), cfg)
    # early bars use the whole-series sigma; stale stretches (|r| = 0 half the time) must not make sigma 0
    sigma = sigma.fillna(overall).clip(lower=max(0.25 * overall, 1e-12))
    z = (r / sigma).to_numpy()
    return z, ~np.isnan(z)


def _jumps(priced: pd.DataFrame, z: np.ndarray, ok: np.ndarray, cfg: AnomalyConfig) -> list[AnomalyEvent]:
    ts = priced["timestamp"].to_numpy()
    close = priced["close"].to_numpy()
    n = len(close)
    size = np.abs(np.where(ok, z, 0.0))
    following = np.concatenate([size[1:], [0.0]])
    opposite = np.concatenate([np.sign(z[1:]) == -np.sign(z[:-1]), [False]])
    # a bad print is a move and its undoing: two opposite legs beyond spike_sigmas are as unlikely by
    # chance as one leg beyond jump_sigmas, so spikes are caught smaller than level shifts
    spike = opposite & (
        ((size >= cfg.spike_sigmas) & (following >= cfg.spike_sigmas))
        | ((size > cfg.jump_sigmas) & (following >= 0.5 * size))
    )
    candidates = np.flatnonzero(spike | (size > cfg.jump_sigmas))
    events, skip = [], set()
    for i in candidates.tolist():
        if i in skip:
            continue
        move = close[i] / close[i - 1] - 1.0
        if spike[i]:
            skip.add(i + 1)
            back = close[i + 1] / close[i] - 1.0
            what = f"spike {move:+.2%} then {back:+.2%} on the next bar ({size[i]:.1f} then {following[i]:.1f} sigma)"
            threshold = cfg.spike_sigmas
        else:
            what = f"jump {move:+.2%} ({size[i]:.1f} sigma)"
            threshold = cfg.jump_sigmas
        critical = i >= n - cfg.recent_bars and size[i] >= cfg.critical_jump_sigmas
        events.append(
            AnomalyEvent(
                timestamp=int(ts[i]),
                kind="jump",
                score=_threshold_score(float(size[i]), threshold),
                severity="critical" if critical else "warning",
                detail=what + ("; in the last bars, price may be a bad print" if critical else ""),
                end_timestamp=int(ts[i + 1] if spike[i] else ts[i]),
            )
        )
    return events


def _volume_burst_stats(
    priced: pd.DataFrame, step: int | None, cfg: AnomalyConfig
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Robust z of log volume and ratio to its typical level; (None, None) when the series has no volume.

    Intraday volume follows the clock (Asian hours trade a fraction of London's), so for bars shorter
    than a day the median log volume of each time of day is removed before the rolling statistics.
    """
    volume = priced["volume"].to_numpy()
    positive = volume > 0
    if positive.mean() < 0.5 or positive.sum() < cfg.min_window:
        return None, None
    log_volume = pd.Series(np.where(positive, np.log(np.where(positive, volume, 1.0)), np.nan))
    if step is not None and step < _DAY_MS and _DAY_MS % step == 0:
        time_of_day = (priced["timestamp"].to_numpy() % _DAY_MS) // step
        profile = log_volume.groupby(time_of_day).transform("median")
        log_volume = log_volume - profile + log_volume.median()
    center = _rolling_past_median(log_volume, cfg)
    spread = _MAD_TO_SIGMA * _rolling_past_median((log_volume - center).abs(), cfg)
    overall = _MAD_TO_SIGMA * float((log_volume - log_volume.median()).abs().median())
    spread = spread.fillna(overall).clip(lower=max(0.1 * overall, 1e-6))
    center = center.fillna(log_volume.median())
    z = ((log_volume - center) / spread).to_numpy()
    ratio = np.exp(log_volume - center).to_numpy()
    return z, ratio


def _volume_bursts(priced: pd.DataFrame, z: np.ndarray, ratio: np.ndarray, cfg: AnomalyConfig) -> list[AnomalyEvent]:
    ts = priced["timestamp"].to_numpy()
    hits = np.flatnonzero((ratio >= cfg.volume_ratio) & (z >= cfg.volume_sigmas))
    return [
        AnomalyEvent(
            timestamp=int(ts[i]),
            kind="volume_burst",
            score=_threshold_score(float(z[i]), cfg.volume_sigmas),
            severity="warning" if ratio[i] >= 10 else "info",
            detail=f"volume {ratio[i]:.1f}x its rolling median ({z[i]:.1f} sigma in log volume)",
            end_timestamp=int(ts[i]),
        )
        for i in hits.tolist()
    ]


def _forest_outliers(
    priced: pd.DataFrame, return_z: np.ndarray, volume_z: np.ndarray | None, cfg: AnomalyConfig
) -> list[AnomalyEvent]:
    columns = {"return": return_z}
    high, low, close = (priced[k].to_numpy() for k in ("high", "low", "close"))
    bar_range = (high - low) / close
    if np.nanmax(bar_range) > 0:
        log_range = pd.Series(np.log(np.maximum(bar_range, 1e-8)))
        center = _rolling_past_median(log_range, cfg).fillna(log_range.median())
        columns["range"] = (log_range - center).to_numpy()
    if volume_z is not None:
        columns["volume"] = volume_z
    features = pd.DataFrame(columns).clip(-50, 50)
    rows = features.notna().all(axis=1).to_numpy()
    if rows.sum() < cfg.forest_min_bars:
        return []
    forest = IsolationForest(n_estimators=cfg.forest_trees, random_state=cfg.seed)
    forest.fit(features[rows].to_numpy())
    scores = np.full(len(features), np.nan)
    scores[rows] = -forest.score_samples(features[rows].to_numpy())
    ts = priced["timestamp"].to_numpy()
    events = []
    for i in np.flatnonzero(scores >= cfg.forest_threshold).tolist():
        described = ", ".join(f"{name} {features.iat[i, j]:+.1f}" for j, name in enumerate(features.columns))
        events.append(
            AnomalyEvent(
                timestamp=int(ts[i]),
                kind="isolation_forest",
                score=float(scores[i]),
                severity="info",
                detail=f"isolated bar (score {scores[i]:.2f}; standardised {described})",
                end_timestamp=int(ts[i]),
            )
        )
    return events
