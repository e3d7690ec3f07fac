"""The risk-policy form of the Settings page, without Streamlit: each limit's name and unit, and the documents
a save sends to the orders service (from the form, or from the JSON an admin edited instead)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from services.core.errors import BadInput
from services.trading.risk import GateLimits, RiskPolicy


@dataclass(frozen=True)
class PolicyField:
    """One number of the policy (``limits``) or of the gate, as the form shows it: ``scale`` × the stored value."""

    where: Literal["limits", "gate"]
    name: str
    label: str
    unit: str
    scale: float = 1.0
    help: str = ""

    @property
    def key(self) -> str:
        """The widget key (``policy_<name>`` or ``gate_<name>``)."""
        return f"{'policy' if self.where == 'limits' else 'gate'}_{self.name}"

    @property
    def title(self) -> str:
        """Label with the unit."""
        return f"{self.label} ({self.unit})"

    def shown(self, stored: float) -> float:
        """The stored value in the form's unit."""
        return round(stored * self.scale, 10)

    def stored(self, shown: float) -> float:
        """The form's value in the stored unit."""
        return round(shown / self.scale, 12)


FIELDS = (
    PolicyField("limits", "maxNotionalUsd", "Max order notional", "USD", help="the order cap: one order's value"),
    PolicyField("limits", "maxPositionNotionalUsd", "Max position notional", "USD",
                help="the position cap: a symbol's position after the order; never above the order cap"),
    PolicyField("limits", "maxDrawdownPct", "Max drawdown", "%"),
    PolicyField("limits", "maxDailyLossUsd", "Max daily loss", "USD", help="no order once today's loss reaches it"),
    PolicyField("gate", "maxPositionWeight", "Max position weight", "% of equity", 100.0,
                help="a symbol's position after the order, against equity; never above the gross exposure"),
    PolicyField("gate", "maxGrossExposure", "Max gross exposure", "× equity",
                help="sum of the absolute positions after the order, against equity"),
    PolicyField("gate", "dailyNotionalCapUsd", "Daily notional cap", "USD",
                help="orders submitted and approved today, plus this one"),
    PolicyField("gate", "maxDriftPct", "Max price drift at approval", "%",
                help="how far the price may have moved since the proposal"),
    PolicyField("gate", "fourEyesNotionalUsd", "Two approvers above", "USD"),
    PolicyField("gate", "proposalTtlMinutes", "Proposal lifetime", "minutes", help="a proposal expires after it"),
)


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


def _numbers(form: PolicyForm, where: str) -> dict[str, float]:
    return {f.name: f.stored(form.numbers[f.key]) for f in FIELDS if f.where == where and f.key in form.numbers}
