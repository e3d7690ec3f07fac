"""The Settings risk-policy form without Streamlit: every field on it, units and ranges, and which document a
save sends (refused by the service exactly as the JSON is)."""

from __future__ import annotations

import json
import math

import pytest
from pydantic import BaseModel

from components.views.risk_policy import CHOICES, FIELDS, NOT_ON_FORM, PolicyForm, edited_documents
from services.core.auth import Actor
from services.core.errors import BadInput
from services.trading.risk import DEFAULT_POLICY, GateLimits, Limits, RiskPolicy, parse_policy

POLICY, GATE = parse_policy(DEFAULT_POLICY), GateLimits()
ADMIN = Actor("boss", frozenset({"viewer", "admin"}))


def _form(**numbers: float) -> PolicyForm:
    shown = {f.key: f.shown(getattr(POLICY.limits if f.where == "limits" else GATE, f.name)) for f in FIELDS}
    return PolicyForm({**shown, **numbers}, POLICY.mode, list(POLICY.actionsOnBreach), True, [])


def test_an_untouched_form_sends_the_stored_documents_back():
    assert edited_documents(POLICY, GATE, _form(), json.dumps(POLICY.model_dump(exclude_none=True))) == (
        POLICY.model_dump(exclude_none=True), GATE.model_dump())


def test_a_percent_of_equity_is_stored_as_a_fraction_without_float_noise():
    _policy, gate = edited_documents(POLICY, GATE, _form(gate_maxPositionWeight=7.0))
    assert gate["maxPositionWeight"] == 0.07


def test_the_json_replaces_the_policy_only_when_the_form_was_left_alone():
    document = {**POLICY.model_dump(exclude_none=True), "mode": "advisory"}
    assert edited_documents(POLICY, GATE, _form(), json.dumps(document))[0]["mode"] == "advisory"
    with pytest.raises(BadInput, match="both on the form and in the JSON"):
        edited_documents(POLICY, GATE, _form(policy_maxDrawdownPct=5.0), json.dumps(document))
    with pytest.raises(BadInput, match="not valid JSON"):
        edited_documents(POLICY, GATE, _form(), "{limits:")


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every leaf field of ``model`` as a dotted path (nested models walked)."""
    paths = set()
    for name, info in model.model_fields.items():
        nested = info.annotation if isinstance(info.annotation, type) and issubclass(info.annotation,
                                                                                        BaseModel) else None
        paths |= _leaves(nested, f"{prefix}{name}.") if nested else {f"{prefix}{name}"}
    return paths


def test_every_field_of_the_policy_and_the_gate_has_exactly_one_form_entry():
    """A field added to RiskPolicy or GateLimits fails here until the form has it (or says why it has not)."""
    entries = [f.path for f in FIELDS] + list(CHOICES) + list(NOT_ON_FORM)
    assert len(entries) == len(set(entries))
    assert set(entries) == _leaves(RiskPolicy) | _leaves(GateLimits, "gate.")
    numbers = {f"gate.{n}" for n, i in GateLimits.model_fields.items() if i.annotation in (int, float)}
    assert numbers | {f"limits.{n}" for n in Limits.model_fields} == {f.path for f in FIELDS}
    assert all(f.label and f.unit and f.help for f in FIELDS)


def test_each_number_has_the_models_bounds_in_the_forms_unit():
    by_name = {f.name: f for f in FIELDS}
    assert by_name["sentimentShock"].bounds == (-1.0, 0.0) and "below 0" in by_name["sentimentShock"].allowed
    assert by_name["sentimentTiltMax"].bounds == (0.0, 50.0) and by_name["maxPositionWeight"].bounds == (0.0, 100.0)
    assert by_name["maxNotionalUsd"].bounds == (0.0, None) and by_name["lonaMinTrades"].bounds == (0, 100_000)
    assert by_name["lonaMinTrades"].integer and not by_name["lonaMinSharpe"].integer


def test_a_whole_count_from_the_form_is_stored_as_an_integer():
    _policy, gate = edited_documents(POLICY, GATE, _form(gate_lonaMinTrades=12.0, gate_lonaTiltMax=20.0))
    assert gate["lonaMinTrades"] == 12 and type(gate["lonaMinTrades"]) is int and gate["lonaTiltMax"] == 0.2


@pytest.mark.parametrize(("key", "value", "name"), [
    ("gate_lonaMinTrades", 12.5, "lonaMinTrades"),
    ("gate_lonaMinTrades", "ten", "lonaMinTrades"),
    ("gate_sentimentTiltMax", "5", "sentimentTiltMax"),
    ("gate_sentimentTiltMax", 60.0, "sentimentTiltMax"),
    ("gate_sentimentLookbackHours", math.inf, "sentimentLookbackHours"),
    ("gate_lonaTiltMax", math.nan, "lonaTiltMax"),
    ("gate_lonaTiltMax", True, "lonaTiltMax"),
    ("policy_maxDrawdownPct", -1.0, "maxDrawdownPct"),
])
def test_a_bad_number_from_the_form_is_refused_by_the_service_naming_it_and_nothing_is_saved(runtime, key, value,
                                                                                          name):
    """The form's documents go through the same strict validation as the JSON (no coercion, no NaN/inf)."""
    documents = edited_documents(POLICY, GATE, _form(**{key: value, "gate_maxDriftPct": 3.0}))
    with pytest.raises(BadInput, match=rf"invalid (risk policy|gate limits): .*{name}.*nothing was changed"):
        runtime.orders.set_policy(*documents, ADMIN, "try")
    assert runtime.orders.policy()[1].maxDriftPct == 2.0 and not runtime.orders.audit(subject="risk-policy")
