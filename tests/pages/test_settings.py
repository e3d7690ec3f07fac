"""AppTest of the Settings page: integrations, configuration without secrets, the risk policy editor."""

from __future__ import annotations

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from components.views.risk_policy import FIELDS
from services.core.auth import Actor


@pytest.fixture
def open_settings(page_app):
    """``open_settings()`` → the Settings page run once (as the local admin, or signed in as ``user``), without
    an exception; the runtime (``runtime`` or ``make_runtime(…)``) is built by the test first."""

    def run(user: str | None = None) -> AppTest:
        at = page_app("settings")
        if user is not None:
            at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
            at.user = {"is_logged_in": True, "email": user, "name": user.split("@")[0].title()}
        at.run()
        assert not at.exception
        return at

    return run


def _save(at: AppTest, reason: str | None) -> AppTest:
    """Click "Save risk policy" (with ``reason`` typed first unless None)."""
    if reason is not None:
        at.text_input(key="policy_reason").input(reason)
    return at.button(key="policy_save").click().run()


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def _saved(at: AppTest) -> bool:
    return not at.exception and any("saved" in s.value for s in at.success)


def _edit_json(at: AppTest, **limits: object) -> None:
    document = json.loads(at.text_area(key="policy_json").value)
    document["limits"].update(limits)
    at.text_area(key="policy_json").input(json.dumps(document))


def test_integrations_and_configuration_never_show_a_secret(make_runtime, open_settings):
    make_runtime(lona_agent_token="lona-token-abcdefghijklmnop", xai_api_key="xai-key-1234567890abcdef")
    at = open_settings()
    health = at.dataframe[0].value
    assert {"Blob storage", "Records database"} <= set(health["integration"]) or len(health) >= 8
    config = at.dataframe[1].value
    shown = " ".join(config["value"].astype(str))
    assert "lona-token-abcdefghijklmnop" not in shown and "xai-key-1234567890abcdef" not in shown
    assert set(config[config["name"] == "LONA_AGENT_TOKEN"]["value"]) == {"set"}


def test_admin_edits_the_policy_with_a_reason(runtime, open_settings):
    at = open_settings()
    _edit_json(at, maxNotionalUsd=500000.0)
    assert any("reason" in e for e in _errors(_save(at, None)))
    assert _saved(_save(at, "tighter limits for the quarter"))
    policy, _gate = runtime.orders.policy()
    assert policy.limits.maxNotionalUsd == 500000.0
    assert runtime.orders.audit(subject="risk-policy")[0].reason == "tighter limits for the quarter"


def test_invalid_policy_is_refused_with_the_reason(runtime, open_settings):
    at = open_settings()
    _edit_json(at, maxNotionalUsd="100")  # no coercion: a string is refused
    assert any("invalid risk policy" in e and "maxNotionalUsd" in e for e in _errors(_save(at, "typo")))
    assert not runtime.orders.audit(subject="risk-policy")


def test_risk_policy_changes_need_the_admin_role(runtime):
    from services.core.errors import PermissionDenied

    policy, gate = runtime.orders.policy()
    with pytest.raises(PermissionDenied, match="admin role"):
        runtime.orders.set_policy(policy.model_dump(exclude_none=True), gate.model_dump(),
                                  Actor("eve", frozenset({"viewer", "approver"})), "x")


def test_admin_turns_a_check_off_with_the_explicit_switch(runtime, open_settings):
    at = open_settings()
    at.multiselect(key="gate_checksOff").select("daily notional cap")
    assert _saved(_save(at, "cap enforced by the prime broker"))
    _policy, gate = runtime.orders.policy()
    assert gate.checksOff == ["daily notional cap"]
    assert runtime.orders.audit(subject="risk-policy")[0].details["after"]["gate"]["checksOff"] == gate.checksOff


def test_admin_issues_a_token_sees_the_secret_once_and_revokes_it(runtime, open_settings):
    at = open_settings()
    at.text_input(key="token_owner").input("Alice@Bank.com")
    at.multiselect(key="token_roles").select("approver")
    at.button(key="token_issue").click().run()
    assert not at.exception
    (token,) = runtime.tokens.list()
    (shown,) = [c.value for c in at.code]
    assert shown.startswith(f"tnx_{token.id}_") and runtime.tokens.authenticate(shown).owner == "alice@bank.com"
    assert token.roles == ("approver",) and token.expires_at is not None
    at.run()  # any later run: the secret is gone from the page, the token is listed without it
    assert not [c for c in at.code if c.value == shown]
    assert token.id in set(at.dataframe[-1].value["id"])
    at.button(key="token_revoke").click().run()
    assert any("say why" in e for e in _errors(at)) and runtime.tokens.get(token.id).revoked_at is None
    at.text_input(key="token_revoke_reason").input("laptop lost")
    at.button(key="token_revoke").click().run()
    assert any("revoked" in s.value for s in at.success)
    assert runtime.tokens.get(token.id).revoked_at is not None


def test_a_token_needs_a_role_or_a_scope(runtime, open_settings):
    at = open_settings()
    at.text_input(key="token_owner").input("bob@bank.com")
    at.button(key="token_issue").click().run()
    assert any("needs a role" in e for e in _errors(at)) and not runtime.tokens.list()


def test_only_admins_manage_tokens_on_the_page(make_runtime, open_settings):
    make_runtime(role_approvers="eve@x.io", role_admins="boss@x.io")
    at = open_settings(user="eve@x.io")
    assert any("Only an admin" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "token_issue"]


def test_notifications_tab_shows_each_channel_and_sends_a_test_message(make_runtime, open_settings):
    from tests.fakes.webhook import FakeWebhook

    with FakeWebhook() as webhook:
        make_runtime(notify_urls=webhook.apprise_url)
        at = open_settings()
        at.button(key="notify_test").click().run()
        assert not at.exception and any("delivered" in s.value for s in at.success)
        assert webhook.messages[-1]["title"] == "Trade Nexus test message"
        channels = next(d.value for d in at.dataframe if "channel" in d.value.columns)
        assert list(channels["channel"]) == ["JSON #1"] and channels["last delivery"].notna().all()
        shown = " ".join(str(d.value.to_dict()) for d in at.dataframe) + " ".join(m.value for m in at.markdown)
        assert webhook.apprise_url not in shown and str(webhook.url.rsplit(":", 1)[1]) not in shown


def test_admin_edits_the_policy_on_a_form_with_names_and_units(runtime, open_settings):
    at = open_settings()
    order_cap = at.number_input(key="policy_maxNotionalUsd")
    assert order_cap.label == "Max order notional (USD)" and order_cap.value == 1_000_000.0
    weight = at.number_input(key="gate_maxPositionWeight")
    assert weight.label == "Max position weight (% of equity)" and weight.value == 25.0
    at.number_input(key="policy_maxNotionalUsd").set_value(500_000.0)
    at.number_input(key="gate_maxPositionWeight").set_value(40.0)
    at.selectbox(key="policy_mode").select("advisory")
    assert _saved(_save(at, "quarterly review")), _errors(at)
    policy, gate = runtime.orders.policy()
    assert policy.limits.maxNotionalUsd == 500_000.0 and policy.mode == "advisory" and gate.maxPositionWeight == 0.4
    assert policy.limits.maxPositionNotionalUsd == 250_000.0 and gate.maxGrossExposure == 1.0  # untouched


def test_every_number_of_the_policy_and_the_gate_is_on_the_form_with_its_unit_and_range(runtime, open_settings):
    at = open_settings()
    shown = {n.key: n for n in at.number_input}
    for field in FIELDS:
        widget = shown.pop(field.key)
        assert widget.label == f"{field.label} ({field.unit})"
        assert widget.help.endswith(f"; allowed: {field.allowed} ({field.name})")
        assert (widget.min, widget.max) == field.bounds
    assert not [k for k in shown if k.startswith(("policy_", "gate_"))]
    shock = at.number_input(key="gate_sentimentShock")  # the one limit below zero: the form allows it
    assert shock.value == -0.5 and shock.min == -1
    assert at.number_input(key="gate_lonaMinTrades").value == 10 and "count" in at.number_input(
        key="gate_lonaMinTrades").label


def test_admin_sets_the_sentiment_and_lona_settings_on_the_form(runtime, open_settings):
    at = open_settings()
    assert at.number_input(key="gate_lonaTiltMax").label == "Lona signal tilt, at most (% of the weight)"
    at.number_input(key="gate_lonaTiltMax").set_value(20.0)
    at.number_input(key="gate_lonaMinSharpe").set_value(1.2)
    at.number_input(key="gate_lonaMaxDrawdownPct").set_value(15.0)
    at.number_input(key="gate_lonaMinTrades").set_value(25)
    at.number_input(key="gate_sentimentTiltMax").set_value(5.0)
    at.number_input(key="gate_sentimentShock").set_value(-0.3)
    at.number_input(key="gate_sentimentLookbackHours").set_value(24.0)
    assert _saved(_save(at, "stricter signals")), _errors(at)
    _policy, gate = runtime.orders.policy()
    assert (gate.lonaTiltMax, gate.lonaMinSharpe, gate.lonaMaxDrawdownPct, gate.lonaMinTrades) == (0.2, 1.2, 15.0, 25)
    assert type(gate.lonaMinTrades) is int
    assert (gate.sentimentTiltMax, gate.sentimentShock, gate.sentimentLookbackHours) == (0.05, -0.3, 24.0)


@pytest.mark.parametrize(("key", "value", "name"), [
    ("gate_proposalTtlMinutes", 0.0, "proposalTtlMinutes"),  # the widget offers 0, the limit must be above it
    ("gate_sentimentShock", 0.0, "sentimentShock"),  # must be below 0
    ("gate_maxPositionWeight", 0.0, "maxPositionWeight"),
    ("gate_lonaMaxDrawdownPct", 0.0, "lonaMaxDrawdownPct"),
])
def test_a_bad_number_on_the_form_is_refused_naming_the_field_and_nothing_is_saved(runtime, open_settings, key,
                                                                                   value, name):
    at = open_settings()
    at.number_input(key="policy_maxDailyLossUsd").set_value(1.0)  # a good change beside it is not half-saved
    at.number_input(key=key).set_value(value)
    errors = _errors(_save(at, "try"))
    assert any("invalid gate limits" in e and name in e and "nothing was changed" in e for e in errors), errors
    assert not runtime.orders.audit(subject="risk-policy")
    assert runtime.orders.policy()[0].limits.maxDailyLossUsd == 100_000.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_the_form_never_holds_a_number_that_is_not_finite(runtime, open_settings, value):
    """Streamlit keeps the last good value instead (the service refuses NaN and infinity from anywhere: see
    tests/components/test_risk_policy_form.py)."""
    at = open_settings()
    at.number_input(key="gate_lonaMinSharpe").set_value(value).run()
    assert at.number_input(key="gate_lonaMinSharpe").value == 0.5
    assert _saved(_save(at, "nothing to change")) and runtime.orders.policy()[1].lonaMinSharpe == 0.5


def test_tightening_the_order_cap_below_the_position_cap_says_which_to_change_first(runtime, open_settings):
    at = open_settings()
    at.number_input(key="policy_maxNotionalUsd").set_value(200_000.0)
    assert any("lower the position cap (maxPositionNotionalUsd) to at most 200,000 USD first" in e
               for e in _errors(_save(at, "smaller orders")))
    assert not runtime.orders.audit(subject="risk-policy")
    at.number_input(key="policy_maxPositionNotionalUsd").set_value(200_000.0)
    assert _saved(_save(at, None))
    assert runtime.orders.policy()[0].limits.maxNotionalUsd == 200_000.0


def test_the_json_is_in_an_expander_and_cannot_be_edited_together_with_the_form(runtime, open_settings):
    at = open_settings()
    assert any(e.label == "Policy as JSON (risk-policy.v1)" for e in at.expander)
    _edit_json(at, maxDailyLossUsd=50_000.0)
    at.number_input(key="policy_maxDrawdownPct").set_value(10.0)
    assert any("both on the form and in the JSON" in e for e in _errors(_save(at, "both")))
    assert not runtime.orders.audit(subject="risk-policy")


def test_a_viewer_sees_the_policy_on_the_form_but_no_json_and_cannot_save(make_runtime, open_settings):
    make_runtime(role_approvers="eve@x.io", role_admins="boss@x.io")
    at = open_settings(user="eve@x.io")
    assert all(at.number_input(key=f.key).disabled for f in FIELDS)
    assert not [t for t in at.text_area if t.key == "policy_json"]
    assert at.button(key="policy_save").disabled


def test_a_form_filled_before_another_admins_change_is_refused_then_reloaded(runtime, open_settings):
    at = open_settings()
    policy, gate = runtime.orders.policy()
    theirs = policy.model_dump(exclude_none=True)
    theirs["limits"]["maxNotionalUsd"] = 400_000.0
    runtime.orders.set_policy(theirs, gate.model_dump(), Actor("alice", frozenset({"admin"})), "alice's change")
    _edit_json(at, maxDailyLossUsd=999.0)
    refused = _save(at, "mine")
    assert any("changed by alice" in e and "nothing was saved" in e for e in _errors(refused))
    assert any("changed since this form was filled" in w.value for w in refused.warning)
    assert runtime.orders.policy()[0].limits.maxDailyLossUsd != 999.0
    reloaded = refused.button(key="policy_reload").click().run()
    assert json.loads(reloaded.text_area(key="policy_json").value)["limits"]["maxNotionalUsd"] == 400_000.0
    _edit_json(reloaded, maxDailyLossUsd=999.0)
    assert _saved(_save(reloaded, "mine, on top of alice's"))
    again = reloaded.run()
    _edit_json(again, maxDailyLossUsd=998.0)
    assert _saved(_save(again, "a second save from the same form"))  # its own save does not make the form stale
    assert runtime.orders.policy()[0].limits.maxDailyLossUsd == 998.0
