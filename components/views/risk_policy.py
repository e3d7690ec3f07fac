"""The risk-policy form of the Settings page, without Streamlit: one table of every field of the policy and the
gate (name, unit, help; the bounds are the models' own), and the documents a save sends to the orders service
(from the form, or from the JSON an admin edited instead), which validates both the same strict way."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Literal

from services.core.errors import BadInput
from services.trading.risk import GateLimits, Limits, RiskPolicy

_MODELS = {"limits": Limits, "gate": GateLimits}
#: the bounds pydantic keeps in a field's metadata (``Field(ge=…)`` → an object with ``.ge``), in words
_BOUNDS = {"ge": "at least", "gt": "above", "le": "at most", "lt": "below"}


@dataclass(frozen=True)
class PolicyField:
    """One number of the policy (``limits``) or of the gate, as the form shows it: ``scale`` × the stored value,
    within the model's own bounds (``Field(ge=…, lt=…)``) in the form's unit."""

    where: Literal["limits", "gate"]
    name: str
    group: str
    label: str
    unit: str
    help: str
    scale: float = 1.0

    @property
    def key(self) -> str:
        """The widget key (``policy_<name>`` or ``gate_<name>``)."""
        return f"{'policy' if self.where == 'limits' else 'gate'}_{self.name}"

    @property
    def path(self) -> str:
        """Where the number lives: ``limits.<name>`` in risk-policy.v1, ``gate.<name>`` in the gate limits."""
        return f"{self.where}.{self.name}"

    @property
    def title(self) -> str:
        """Label with the unit."""
        return f"{self.label} ({self.unit})"

    @property
    def integer(self) -> bool:
        """True for a count (stored as an integer)."""
        return _MODELS[self.where].model_fields[self.name].annotation is int

    def _limits(self) -> list[tuple[str, float]]:
        metadata = _MODELS[self.where].model_fields[self.name].metadata
        return [(kind, self.shown(getattr(m, kind))) for m in metadata for kind in _BOUNDS
                if getattr(m, kind, None) is not None]

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The lowest and highest value the form offers, in its unit (an open bound is offered, and refused by
        the validation on save)."""
        found = dict(self._limits())
        return found.get("ge", found.get("gt")), found.get("le", found.get("lt"))

    @property
    def allowed(self) -> str:
        """The range in words, in the form's unit (``at least -1 and below 0``)."""
        return " and ".join(f"{_BOUNDS[kind]} {value:,g}" for kind, value in self._limits()) or "any number"

    @property
    def help_text(self) -> str:
        """What the number does, its range (in the form's unit), and its name in the JSON and the audit."""
        return f"{self.help}; allowed: {self.allowed} ({self.name})"

    def shown(self, stored: float) -> float:
        """The stored value in the form's unit."""
        return stored if self.integer else round(stored * self.scale, 10)

    def stored(self, shown: object) -> object:
        """The form's value in the stored unit; anything but a finite number (text, NaN, infinity, a fraction of
        a count) is passed on unchanged, for the strict validation to refuse by name."""
        if isinstance(shown, bool) or not isinstance(shown, int | float) or not math.isfinite(shown):
            return shown
        if self.integer:
            return int(shown) if float(shown).is_integer() else shown
        return round(shown / self.scale, 12)


_LIMITS, _GATE, _NEWS, _LONA = "Risk policy limits", "Gate limits of the console", "News sentiment", "Lona signals"

#: every number of risk-policy.v1's limits and of the gate limits, in the order the form shows them
FIELDS = (
    PolicyField("limits", "maxNotionalUsd", _LIMITS, "Max order notional", "USD", "the order cap: one order's value"),
    PolicyField("limits", "maxPositionNotionalUsd", _LIMITS, "Max position notional", "USD",
                "the position cap: a symbol's position after the order; never above the order cap"),
    PolicyField("limits", "maxDrawdownPct", _LIMITS, "Max drawdown", "%", "the portfolio's fall from its peak"),
    PolicyField("limits", "maxDailyLossUsd", _LIMITS, "Max daily loss", "USD",
                "no order once today's loss reaches it"),
    PolicyField("gate", "maxPositionWeight", _GATE, "Max position weight", "% of equity",
                "a symbol's position after the order, against equity; never above the gross exposure", 100.0),
    PolicyField("gate", "maxGrossExposure", _GATE, "Max gross exposure", "× equity",
                "sum of the absolute positions after the order, against equity"),
    PolicyField("gate", "dailyNotionalCapUsd", _GATE, "Daily notional cap", "USD",
                "orders submitted and approved today, plus this one"),
    PolicyField("gate", "maxDriftPct", _GATE, "Max price drift at approval", "%",
                "how far the price may have moved since the proposal, either way"),
    PolicyField("gate", "fourEyesNotionalUsd", _GATE, "Two approvers above", "USD",
                "an order worth more needs two different approvers"),
    PolicyField("gate", "proposalTtlMinutes", _GATE, "Proposal lifetime", "minutes", "a proposal expires after it"),
    PolicyField("gate", "sentimentLookbackHours", _NEWS, "News looked back over", "hours",
                "the window of news an agent run reads for each symbol"),
    PolicyField("gate", "sentimentTiltMax", _NEWS, "News tilt, at most", "% of the weight",
                "how far the news may move a target weight, relative (10 = at most ±10 % of the weight)", 100.0),
    PolicyField("gate", "sentimentShock", _NEWS, "Sentiment shock level", "score",
                "a mean news sentiment (from -1, most negative, to 1) at or below it holds buying back "
                "(the sentiment shock check)"),
    PolicyField("gate", "lonaTiltMax", _LONA, "Lona signal tilt, at most", "% of the weight",
                "how far the Lona strategies a run names may move a target weight, relative", 100.0),
    PolicyField("gate", "lonaMinSharpe", _LONA, "Backtest Sharpe, at least", "ratio",
                "a strategy's backtest counts only with a Sharpe ratio at least this"),
    PolicyField("gate", "lonaMaxDrawdownPct", _LONA, "Backtest drawdown, at most", "%",
                "a strategy's backtest counts only with a max drawdown at most this"),
    PolicyField("gate", "lonaMinTrades", _LONA, "Backtest trades, at least", "count",
                "a strategy's backtest counts only with at least this many trades"),
)


@dataclass(frozen=True)
class Choice:
    """A field of the policy or the gate that the form sets with a choice, not a number."""

    label: str
    help: str


#: the fields set by a choice, by path (``gate.`` for the gate limits)
CHOICES = {
    "mode": Choice("Mode", "advisory: breaches are reported, only the kill switch and the anomaly gate block"),
    "killSwitch.enabled": Choice("Kill switch armed", "when not armed, the kill switch cannot halt submission"),
    "actionsOnBreach": Choice("Actions on breach", "what the runtime does when a limit is breached"),
    "gate.checksOff": Choice("Checks turned off (explicit and audited; the kill switch and the anomaly gate "
                             "always apply)", "each check listed here passes, saying an admin turned it off"),
}

_TRIGGER = "the kill switch's trigger, time and reason (it is turned on and off on Orders & Portfolio, with a reason)"

#: the fields the form does not set, and why (where they are set instead)
NOT_ON_FORM = {
    "version": "the version (always risk-policy.v1)",
    "killSwitch.triggered": _TRIGGER,
    "killSwitch.triggeredAt": _TRIGGER,
    "killSwitch.reason": _TRIGGER,
}


@dataclass(frozen=True)
class PolicyForm:
    """What the operator set on the form (numbers in the form's units, by widget key)."""

    numbers: dict[str, float]
    mode: str
    actions: list[str]
    kill_switch_enabled: bool
    checks_off: list[str]


def edited_documents(policy: RiskPolicy, gate: GateLimits, form: PolicyForm,
                     json_text: str | None = None) -> tuple[dict, dict]:
    """The policy and gate documents to save: the policy from the form, or from ``json_text`` when an admin
    edited the JSON instead; BadInput when both were edited (which one is meant is not guessed)."""
    stored = policy.model_dump(exclude_none=True)
    from_form = {**stored, "mode": form.mode, "actionsOnBreach": list(form.actions),
                 "killSwitch": {**stored["killSwitch"], "enabled": form.kill_switch_enabled},
                 "limits": {**stored["limits"], **_numbers(form, "limits")}}
    document = from_form
    if json_text is not None:
        try:
            from_json = json.loads(json_text)
        except json.JSONDecodeError as error:
            raise BadInput(f"the policy is not valid JSON: {error}") from None
        if from_json != stored:
            if from_form != stored:
                raise BadInput("the policy was changed both on the form and in the JSON: keep the changes in one "
                               "of them (reload the page to start over); nothing was changed")
            document = from_json
    return document, {**gate.model_dump(), **_numbers(form, "gate"), "checksOff": list(form.checks_off)}


def _numbers(form: PolicyForm, where: str) -> dict[str, object]:
    return {f.name: f.stored(form.numbers[f.key]) for f in FIELDS if f.where == where and f.key in form.numbers}
