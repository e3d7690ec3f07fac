"""The Settings risk-policy form without Streamlit: units, and which document a save sends."""

from __future__ import annotations

import json

import pytest

from components.views.risk_policy import FIELDS, PolicyForm, edited_documents
from services.core.errors import BadInput
from services.trading.risk import DEFAULT_POLICY, GateLimits, parse_policy

POLICY, GATE = parse_policy(DEFAULT_POLICY), GateLimits()


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
