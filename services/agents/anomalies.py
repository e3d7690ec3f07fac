"""The anomaly step: events per symbol (rules + IsolationForest) and the symbols a critical event leaves out."""

from __future__ import annotations

import json
from dataclasses import asdict

from models.anomaly import AnomalyConfig, AnomalyEvent, detect
from services.agents.artifacts import ArtifactCache, artifact_key
from services.agents.universe import SymbolData, Universe
from services.core import clock
from services.market_data.ohlcv import approx_interval_ms

KIND = "anomalies"
#: events shown with an order in the inbox: the serious ones, then the most recent, at most this many
CONTEXT_EVENTS = 8


def detect_universe(universe: Universe, cache: ArtifactCache,
                    config: AnomalyConfig | None = None) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """Events per symbol (sorted by time) and ``symbol -> why it is excluded`` for critical ones.

    A dataset version is examined once: its events are cached under (ref, version, span, config).
    Close-only datasets are passed without open/high/low/volume, so the volume rules skip them.
    """
    cfg = config or AnomalyConfig()
    events, excluded = {}, {}
    for symbol, data in universe.data.items():
        events[symbol] = _events(data, cfg, cache)
        critical = [e for e in events[symbol] if e["severity"] == "critical"]
        if critical:
            latest = critical[-1]
            excluded[symbol] = (f"{len(critical)} critical anomal{'y' if len(critical) == 1 else 'ies'}, latest "
                                f"{latest['kind']} at {latest['time']}: {latest['detail']}")
    return events, excluded


def context_events(events: list[dict]) -> list[dict]:
    """The events worth showing beside an order: critical and warning first, then the latest, capped."""
    rank = {"critical": 0, "warning": 1, "info": 2}
    chosen = sorted(events, key=lambda e: (rank[e["severity"]], -e["timestamp"]))[:CONTEXT_EVENTS]
    return [{k: e[k] for k in ("time", "kind", "severity", "score", "detail")} for e in chosen]


def _events(data: SymbolData, cfg: AnomalyConfig, cache: ArtifactCache) -> list[dict]:
    frame = data.candles
    key = artifact_key(str(data.ref), data.version, int(frame["timestamp"].iloc[0]), int(frame["timestamp"].iloc[-1]),
                       asdict(cfg))
    stored = cache.get(KIND, key)
    if stored is not None:
        return json.loads(stored)
    columns = ["timestamp", "close"] if data.close_only else ["timestamp", "open", "high", "low", "close", "volume"]
    found = detect(frame[columns], approx_interval_ms(data.ref.interval), cfg)
    events = [_as_dict(e) for e in found]
    cache.put(KIND, key, json.dumps(events).encode())
    return events


def _as_dict(event: AnomalyEvent) -> dict:
    return {**asdict(event), "score": round(float(event.score), 4), "time": _day_or_time(event.timestamp)}


def _day_or_time(ms: int) -> str:
    moment = clock.from_ms(ms)
    return f"{moment:%Y-%m-%d}" if ms % 86_400_000 == 0 else f"{moment:%Y-%m-%d %H:%M}"
