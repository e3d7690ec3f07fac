"""Risk policy (risk-policy.v1, strict) plus the console's gate limits, and the deterministic pre-trade checks."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.core.errors import BadInput

ACTIONS = ("reject_order", "cancel_open_orders", "halt_deployments", "notify_ops")


#: checks an admin may turn off, by name: an explicit switch in the gate limits (``checksOff``), audited with
#: every policy change, instead of a limit of Infinity. The kill switch and the anomaly gate cannot be turned off.
SWITCHABLE_CHECKS = ("max order notional", "max position notional", "max position weight", "max gross exposure",
                     "daily notional cap", "daily loss", "market open", "four eyes", "price drift",
                     "sentiment shock")
OFF_DETAIL = "turned off by an admin (checksOff in the gate limits)"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class Limits(_Strict):
    """risk-policy.v1 limits (USD, percent)."""

    maxNotionalUsd: float = Field(ge=0)
    maxPositionNotionalUsd: float = Field(ge=0)
    maxDrawdownPct: float = Field(ge=0, le=100)
    maxDailyLossUsd: float = Field(ge=0)


class KillSwitch(_Strict):
    """risk-policy.v1 kill switch."""

    enabled: bool
    triggered: bool = False
    triggeredAt: str | None = None
    reason: str | None = Field(default=None, min_length=1)

    @field_validator("triggeredAt")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("triggeredAt must be an RFC 3339 date-time") from None
        return value


class RiskPolicy(_Strict):
    """risk-policy.v1, validated like the upstream runtime: no coercion, no unknown fields, v1 only."""

    version: Literal["risk-policy.v1"]
    mode: Literal["advisory", "enforced"]
    limits: Limits
    killSwitch: KillSwitch
    actionsOnBreach: list[Literal["reject_order", "cancel_open_orders", "halt_deployments", "notify_ops"]] = Field(
        min_length=1
    )

    @model_validator(mode="after")
    def _consistent(self) -> RiskPolicy:
        if self.limits.maxPositionNotionalUsd > self.limits.maxNotionalUsd:
            raise ValueError("maxPositionNotionalUsd (position cap) must not exceed maxNotionalUsd (order cap): "
                             "lower the position cap first, or raise the order cap")
        if len(set(self.actionsOnBreach)) != len(self.actionsOnBreach):
            raise ValueError("actionsOnBreach must not repeat an action")
        return self


class GateLimits(_Strict):
    """Limits of the console's own gate, beside risk-policy.v1 (which has no room for them)."""

    maxPositionWeight: float = Field(0.25, gt=0, le=1)
    maxGrossExposure: float = Field(1.0, gt=0, le=5)
    dailyNotionalCapUsd: float = Field(250_000.0, ge=0)
    maxDriftPct: float = Field(2.0, ge=0)
    fourEyesNotionalUsd: float = Field(50_000.0, ge=0)
    proposalTtlMinutes: float = Field(60.0, gt=0)
    #: news sentiment the agent graph reads before the optimizer: how far back, how far it may move a target
    #: weight (relative: 0.1 = at most ±10% of the weight), and the window mean at or below which buying is held
    sentimentLookbackHours: float = Field(48.0, gt=0, le=24 * 90)
    sentimentTiltMax: float = Field(0.1, ge=0, le=0.5)
    sentimentShock: float = Field(-0.5, ge=-1, lt=0)
    #: Lona signals a run may name: how far they may move a target weight (relative, like the sentiment tilt),
    #: and the quality a backtest needs to count (Sharpe at least, max drawdown in percent at most, trades at least)
    lonaTiltMax: float = Field(0.1, ge=0, le=0.5)
    lonaMinSharpe: float = Field(0.5, ge=-10, le=10)
    lonaMaxDrawdownPct: float = Field(30.0, gt=0, le=100)
    lonaMinTrades: int = Field(10, ge=0, le=100_000)
    checksOff: list[Literal[SWITCHABLE_CHECKS]] = Field(default_factory=list)

    @field_validator("checksOff")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("checksOff must not repeat a check")
        return value

    def is_on(self, check: str) -> bool:
        """False when an admin turned ``check`` (one of SWITCHABLE_CHECKS) off."""
        return check not in self.checksOff

    @property
    def drift_bound(self) -> float | None:
        """The drift (in percent, either way) beyond which approval is refused; None when the check is off."""
        return self.maxDriftPct if self.is_on("price drift") else None

    def drift_blocks(self, drift_pct: float | None) -> bool:
        """True when the re-quote ``drift_pct`` is beyond the bound and the drift check is on."""
        return drift_pct is not None and self.drift_bound is not None and abs(drift_pct) > self.drift_bound


DEFAULT_POLICY = {
    "version": "risk-policy.v1",
    "mode": "enforced",
    "limits": {"maxNotionalUsd": 1_000_000.0, "maxPositionNotionalUsd": 250_000.0, "maxDrawdownPct": 20.0,
               "maxDailyLossUsd": 100_000.0},
    "killSwitch": {"enabled": True, "triggered": False},
    "actionsOnBreach": list(ACTIONS),
}


@dataclass(frozen=True)
class Bound:
    """Two limits that must stay ordered: ``low`` (in ``where``) never above ``high``."""

    where: Literal["limits", "gate"]
    low: str
    low_label: str
    high: str
    high_label: str
    unit: str

    def _shown(self, value: float) -> str:
        return f"{value:,.0f} {self.unit}" if self.unit == "USD" else f"{value:g} {self.unit}"

    def problem(self, new: dict, old: dict | None) -> str | None:
        """What is wrong with ``new`` (``{"limits": …, "gate": …}``) and which limit to change first; None when
        the pair is ordered (or not both numbers: the strict validation reports those)."""
        section, before = new.get(self.where), (old or {}).get(self.where) or {}
        if not isinstance(section, dict):
            return None
        low, high = section.get(self.low), section.get(self.high)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
            return None
        if low <= high:
            return None
        names = (f"{self.low_label} ({self.low})", f"{self.high_label} ({self.high})")
        said = f"the {names[0]} {self._shown(low)} would exceed the {names[1]} {self._shown(high)}"
        if before.get(self.low) == low:  # only the upper bound moved: the lower one has to come down first
            return f"{said}: lower the {names[0]} to at most {self._shown(high)} first (or in the same change)"
        if before.get(self.high) == high:  # only the lower bound moved: make room above it first
            return f"{said}: raise the {names[1]} to at least {self._shown(low)} first (or in the same change)"
        return f"{said}: lower the {names[0]} or raise the {names[1]}"


#: limit pairs a change must keep ordered (the first is risk-policy.v1's own rule)
BOUNDS = (
    Bound("limits", "maxPositionNotionalUsd", "position cap", "maxNotionalUsd", "order cap", "USD"),
    Bound("gate", "maxPositionWeight", "max position weight", "maxGrossExposure", "max gross exposure",
          "× equity"),
)


def check_bounds(policy: dict, gate: dict, before: tuple[RiskPolicy, GateLimits] | None = None) -> None:
    """BadInput naming every limit pair ``policy``/``gate`` leave out of order, and which limit to change first
    (judged against ``before``, the policy in force)."""
    new = {"limits": (policy or {}).get("limits") if isinstance(policy, dict) else None,
           "gate": gate if isinstance(gate, dict) else None}
    old = None if before is None else {"limits": before[0].limits.model_dump(), "gate": before[1].model_dump()}
    problems = [p for p in (b.problem(new, old) for b in BOUNDS) if p]
    if problems:
        raise BadInput(f"inconsistent risk limits: {'; '.join(problems)}; nothing was changed")


def _validated(model: type[_Strict], document: dict, what: str, whole: str):
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}" for e in error.errors())
        if any(e["type"] == "finite_number" for e in error.errors()):
            problems += "; to turn a check off, list it in checksOff (" + ", ".join(SWITCHABLE_CHECKS) + ")"
        raise BadInput(f"invalid {what}: {problems}; nothing was changed") from None


def parse_policy(document: dict) -> RiskPolicy:
    """Validate a risk-policy.v1 document; BadInput lists every problem."""
    return _validated(RiskPolicy, document, "risk policy", "policy")


def parse_gate(document: dict) -> GateLimits:
    """Validate the gate limits; BadInput lists every problem."""
    return _validated(GateLimits, document, "gate limits", "gate")


@dataclass(frozen=True)
class Check:
    """One deterministic check: its name, pass/fail, the value seen and the limit it was held to."""

    name: str
    passed: bool
    value: float | str | None
    limit: float | str | None
    detail: str = ""

    def as_dict(self) -> dict:
        """JSON-able form stored with the order."""
        return asdict(self)


@dataclass(frozen=True)
class OrderIntent:
    """What is checked: one order and the book around it."""

    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float  # reference (or limit) price used for notional


@dataclass(frozen=True)
class Book:
    """Portfolio facts the checks need (values in USD)."""

    equity: float
    position_value: dict[str, float]  # symbol -> signed market value now
    submitted_today_usd: float = 0.0
    pending_other_usd: float = 0.0  # notional of other orders approved but not yet filled today
    daily_pnl_usd: float = 0.0
    critical_anomaly: frozenset[str] = frozenset()
    market_open: dict[str, bool | None] | None = None
    #: symbol -> mean news sentiment in the lookback window the agent run saw (absent: no news)
    sentiment_mean: dict[str, float] | None = None


def evaluate(intent: OrderIntent, book: Book, policy: RiskPolicy, gate: GateLimits) -> list[Check]:
    """Every check on one order, each with its value and limit (the LLM never enters here)."""
    notional = abs(intent.quantity * intent.price)
    signed = notional if intent.side == "buy" else -notional
    current = book.position_value.get(intent.symbol, 0.0)
    projected_position = max(current + signed, 0.0)
    projected_gross = sum(abs(v) for s, v in book.position_value.items() if s != intent.symbol) + projected_position
    equity = max(book.equity, 1e-9)
    limits = policy.limits
    triggered = policy.killSwitch.enabled and policy.killSwitch.triggered
    open_now = (book.market_open or {}).get(intent.symbol)
    mood = (book.sentiment_mean or {}).get(intent.symbol)
    shocked = mood is not None and mood <= gate.sentimentShock
    checks = [
        Check("kill switch", not triggered, "on" if triggered else "off", "off",
              policy.killSwitch.reason or "" if triggered else ""),
        Check("anomaly gate", intent.symbol not in book.critical_anomaly,
              "critical anomaly" if intent.symbol in book.critical_anomaly else "clear", "no critical anomaly"),
        Check("max order notional", notional <= limits.maxNotionalUsd, round(notional, 2), limits.maxNotionalUsd),
        Check("max position notional", projected_position <= limits.maxPositionNotionalUsd,
              round(projected_position, 2), limits.maxPositionNotionalUsd),
        Check("max position weight", projected_position / equity <= gate.maxPositionWeight,
              round(projected_position / equity, 4), gate.maxPositionWeight),
        Check("max gross exposure", projected_gross / equity <= gate.maxGrossExposure,
              round(projected_gross / equity, 4), gate.maxGrossExposure),
        Check("daily notional cap", book.submitted_today_usd + book.pending_other_usd + notional
              <= gate.dailyNotionalCapUsd,
              round(book.submitted_today_usd + book.pending_other_usd + notional, 2), gate.dailyNotionalCapUsd),
        Check("daily loss", -book.daily_pnl_usd < limits.maxDailyLossUsd, round(-book.daily_pnl_usd, 2),
              limits.maxDailyLossUsd),
        Check("market open", open_now is not False, {True: "open", False: "closed", None: "unknown"}[open_now],
              "open", "no calendar for this market" if open_now is None else ""),
        Check("sentiment shock", not (shocked and intent.side == "buy"),
              "no news" if mood is None else round(mood, 4), gate.sentimentShock,
              ("news sentiment in the lookback window is at or below the shock level: no buying"
               if intent.side == "buy" else "a sell is never held back by news") if shocked else ""),
    ]
    checks = [c if gate.is_on(c.name) else Check(c.name, True, c.value, c.limit, OFF_DETAIL) for c in checks]
    if policy.mode == "advisory":
        # advisory mode reports breaches but only the kill switch and the anomaly gate still block
        return [c if c.name in ("kill switch", "anomaly gate") or c.passed
                else Check(c.name, True, c.value, c.limit, "advisory mode: breach reported, not blocking")
                for c in checks]
    return checks
