"""AppTest of the Settings page: integrations, configuration without secrets, the risk policy editor."""

from __future__ import annotations

import json

from services.core.auth import Actor


def test_integrations_and_configuration_never_show_a_secret(make_runtime, page_app):
    make_runtime(lona_agent_token="lona-token-abcdefghijklmnop", xai_api_key="xai-key-1234567890abcdef")
    at = page_app("settings")
    at.run()
    assert not at.exception
    health = at.dataframe[0].value
    assert {"Blob storage", "Records database"} <= set(health["integration"]) or len(health) >= 8
    config = at.dataframe[1].value
    shown = " ".join(config["value"].astype(str))
    assert "lona-token-abcdefghijklmnop" not in shown and "xai-key-1234567890abcdef" not in shown
    assert set(config[config["name"] == "LONA_AGENT_TOKEN"]["value"]) == {"set"}


def test_admin_edits_the_policy_with_a_reason(runtime, page_app):
    at = page_app("settings")
    at.run()
    document = json.loads(at.text_area(key="policy_json").value)
    document["limits"]["maxNotionalUsd"] = 500000.0
    at.text_area(key="policy_json").input(json.dumps(document))
    at.button(key="policy_save").click().run()
    assert any("reason" in e.value for e in at.error)
    at.text_input(key="policy_reason").input("tighter limits for the quarter")
    at.button(key="policy_save").click().run()
    assert any("saved" in s.value for s in at.success)
    policy, _gate = runtime.orders.policy()
    assert policy.limits.maxNotionalUsd == 500000.0
    assert runtime.orders.audit(subject="risk-policy")[0].reason == "tighter limits for the quarter"


def test_invalid_policy_is_refused_with_the_reason(runtime, page_app):
    at = page_app("settings")
    at.run()
    document = json.loads(at.text_area(key="policy_json").value)
    document["limits"]["maxNotionalUsd"] = "100"  # no coercion: a string is refused
    at.text_area(key="policy_json").input(json.dumps(document))
    at.text_input(key="policy_reason").input("typo")
    at.button(key="policy_save").click().run()
    assert any("invalid risk policy" in e.value and "maxNotionalUsd" in e.value for e in at.error)
    assert not runtime.orders.audit(subject="risk-policy")


def test_risk_policy_changes_need_the_admin_role(runtime):
    import pytest

    from services.core.errors import PermissionDenied

    policy, gate = runtime.orders.policy()
    with pytest.raises(PermissionDenied, match="admin role"):
        runtime.orders.set_policy(policy.model_dump(exclude_none=True), gate.model_dump(),
                                  Actor("eve", frozenset({"viewer", "approver"})), "x")


def test_admin_turns_a_check_off_with_the_explicit_switch(runtime, page_app):
    at = page_app("settings")
    at.run()
    at.multiselect(key="gate_checksOff").select("daily notional cap")
    at.text_input(key="policy_reason").input("cap enforced by the prime broker")
    at.button(key="policy_save").click().run()
    assert any("saved" in s.value for s in at.success)
    _policy, gate = runtime.orders.policy()
    assert gate.checksOff == ["daily notional cap"]
    assert runtime.orders.audit(subject="risk-policy")[0].details["after"]["gate"]["checksOff"] == gate.checksOff


def test_admin_issues_a_token_sees_the_secret_once_and_revokes_it(runtime, page_app):
    at = page_app("settings")
    at.run()
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
    assert any("say why" in e.value for e in at.error) and runtime.tokens.get(token.id).revoked_at is None
    at.text_input(key="token_revoke_reason").input("laptop lost")
    at.button(key="token_revoke").click().run()
    assert any("revoked" in s.value for s in at.success)
    assert runtime.tokens.get(token.id).revoked_at is not None


def test_a_token_needs_a_role_or_a_scope(runtime, page_app):
    at = page_app("settings")
    at.run()
    at.text_input(key="token_owner").input("bob@bank.com")
    at.button(key="token_issue").click().run()
    assert any("needs a role" in e.value for e in at.error) and not runtime.tokens.list()


def test_only_admins_manage_tokens_on_the_page(make_runtime, page_app):
    make_runtime(role_approvers="eve@x.io", role_admins="boss@x.io")
    at = page_app("settings")
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": True, "email": "eve@x.io", "name": "Eve"}
    at.run()
    assert not at.exception
    assert any("Only an admin" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "token_issue"]


def test_notifications_tab_shows_each_channel_and_sends_a_test_message(make_runtime, page_app):
    from tests.fakes.webhook import FakeWebhook

    with FakeWebhook() as webhook:
        make_runtime(notify_urls=webhook.apprise_url)
        at = page_app("settings")
        at.run()
        at.button(key="notify_test").click().run()
        assert not at.exception and any("delivered" in s.value for s in at.success)
        assert webhook.messages[-1]["title"] == "Trade Nexus test message"
        channels = next(d.value for d in at.dataframe if "channel" in d.value.columns)
        assert list(channels["channel"]) == ["JSON #1"] and channels["last delivery"].notna().all()
        shown = " ".join(str(d.value.to_dict()) for d in at.dataframe) + " ".join(m.value for m in at.markdown)
        assert webhook.apprise_url not in shown and str(webhook.url.rsplit(":", 1)[1]) not in shown


def test_admin_edits_the_policy_on_a_form_with_names_and_units(runtime, page_app):
    at = page_app("settings")
    at.run()
    order_cap = at.number_input(key="policy_maxNotionalUsd")
    assert order_cap.label == "Max order notional (USD)" and order_cap.value == 1_000_000.0
    weight = at.number_input(key="gate_maxPositionWeight")
    assert weight.label == "Max position weight (% of equity)" and weight.value == 25.0
    at.number_input(key="policy_maxNotionalUsd").set_value(500_000.0)
    at.number_input(key="gate_maxPositionWeight").set_value(40.0)
    at.selectbox(key="policy_mode").select("advisory")
    at.text_input(key="policy_reason").input("quarterly review")
    at.button(key="policy_save").click().run()
    assert not at.exception and any("saved" in s.value for s in at.success), [e.value for e in at.error]
    policy, gate = runtime.orders.policy()
    assert policy.limits.maxNotionalUsd == 500_000.0 and policy.mode == "advisory" and gate.maxPositionWeight == 0.4
    assert policy.limits.maxPositionNotionalUsd == 250_000.0 and gate.maxGrossExposure == 1.0  # untouched


def test_tightening_the_order_cap_below_the_position_cap_says_which_to_change_first(runtime, page_app):
    at = page_app("settings")
    at.run()
    at.number_input(key="policy_maxNotionalUsd").set_value(200_000.0)
    at.text_input(key="policy_reason").input("smaller orders")
    at.button(key="policy_save").click().run()
    assert any("lower the position cap (maxPositionNotionalUsd) to at most 200,000 USD first" in e.value
               for e in at.error)
    assert not runtime.orders.audit(subject="risk-policy")
    at.number_input(key="policy_maxPositionNotionalUsd").set_value(200_000.0)
    at.button(key="policy_save").click().run()
    assert any("saved" in s.value for s in at.success)
    assert runtime.orders.policy()[0].limits.maxNotionalUsd == 200_000.0


def test_the_json_is_in_an_expander_and_cannot_be_edited_together_with_the_form(runtime, page_app):
    at = page_app("settings")
    at.run()
    assert any(e.label == "Policy as JSON (risk-policy.v1)" for e in at.expander)
    document = json.loads(at.text_area(key="policy_json").value)
    document["limits"]["maxDailyLossUsd"] = 50_000.0
    at.text_area(key="policy_json").input(json.dumps(document))
    at.number_input(key="policy_maxDrawdownPct").set_value(10.0)
    at.text_input(key="policy_reason").input("both")
    at.button(key="policy_save").click().run()
    assert any("both on the form and in the JSON" in e.value for e in at.error)
    assert not runtime.orders.audit(subject="risk-policy")


def test_a_viewer_sees_the_policy_on_the_form_but_no_json_and_cannot_save(make_runtime, page_app):
    make_runtime(role_approvers="eve@x.io", role_admins="boss@x.io")
    at = page_app("settings")
    at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x"}
    at.user = {"is_logged_in": True, "email": "eve@x.io", "name": "Eve"}
    at.run()
    assert not at.exception
    assert at.number_input(key="policy_maxNotionalUsd").disabled
    assert not [t for t in at.text_area if t.key == "policy_json"]
    assert at.button(key="policy_save").disabled
