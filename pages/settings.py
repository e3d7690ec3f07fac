"""Settings page: each integration's configuration and reachability, every setting (secrets as set/not set),
the risk policy, editable by admins with every change audited, the personal access tokens admins issue and
the notification channels."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import streamlit as st

from components.context import ERROR_ICON, console, current_actor, shows_errors
from components.views.orders import audit_frame
from components.views.risk_policy import CHOICES, FIELDS, NOT_ON_FORM, PolicyForm, edited_documents
from services.core import clock
from services.core.auth import ROLES
from services.core.errors import NexusError
from services.core.tokens import SCOPES, AccessToken
from services.ops.health import configuration_view, health_report
from services.trading.risk import ACTIONS, SWITCHABLE_CHECKS


def _integrations() -> None:
    refresh = st.button("Check again", key="health_refresh")
    report = health_report(console().runtime, max_age_s=0 if refresh else 5)
    st.caption(f"Overall: **{report.status}** · checked {report.checked_at:%Y-%m-%d %H:%M:%S} UTC")
    st.dataframe(pd.DataFrame([{
        "integration": c.title, "required": c.required, "configured": c.configured,
        "reachable": {True: "yes", False: "NO", None: "-"}[c.ok], "detail": c.detail,
        "latency ms": None if c.latency_ms is None else round(c.latency_ms, 1),
        "since": c.since, } for c in report.checks]), hide_index=True, width="stretch",
        column_config={"since": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


def _configuration() -> None:
    rows = pd.DataFrame([row.as_dict() for row in configuration_view(console().runtime.settings)])
    groups = sorted(rows["integration"].unique())
    chosen = st.multiselect("Integration", groups, key="config_groups")
    if chosen:
        rows = rows[rows["integration"].isin(chosen)]
    st.dataframe(rows.rename(columns={"from_environment": "set here"}), hide_index=True, width="stretch",
                 height=360)


def _policy_numbers(group: str, stored: dict, editable: bool) -> None:
    st.write(f"**{group}**")
    fields = [f for f in FIELDS if f.group == group]
    columns = st.columns(3)
    for index, f in enumerate(fields):
        low, high = f.bounds
        columns[index % 3].number_input(
            f.title, min_value=low, max_value=high, value=f.shown(stored[f.where][f.name]), key=f.key,
            disabled=not editable, format="%d" if f.integer else "%g", step=1 if f.integer else None,
            help=f.help_text)


SEEN_KEY = "policy_seen"
#: the session keys of the risk policy form's widgets (dropped to fill the form again from the rules in force)
FORM_KEYS = ("policy_mode", "policy_kill_enabled", "policy_actions", "gate_checksOff", "policy_json",
             *(f.key for f in FIELDS))


OUTCOME_KEY = "policy_outcome"


def _reload_policy_form() -> None:
    for key in (SEEN_KEY, *FORM_KEYS):
        st.session_state.pop(key, None)


def _save_policy() -> None:
    """The Save button's callback (it runs before the page is drawn again): the form's edits, read against the
    rules it was filled from, saved at their revision; then the form is filled again from what was saved."""
    state, orders = st.session_state, console().runtime.orders
    policy, gate, seen = state[SEEN_KEY]
    form = PolicyForm({f.key: state[f.key] for f in FIELDS}, state["policy_mode"], state["policy_actions"],
                      state["policy_kill_enabled"], state["gate_checksOff"])
    try:
        orders.set_policy(*edited_documents(policy, gate, form, state.get("policy_json")), current_actor(),
                          state.get("policy_reason", ""), seen_revision=seen)
    except NexusError as error:
        state[OUTCOME_KEY] = ("error", str(error))
        return
    _reload_policy_form()
    state[OUTCOME_KEY] = ("success", "Risk policy saved and audited.")


def _risk_policy() -> None:
    orders, actor = console().runtime.orders, current_actor()
    current = orders.policy_with_revision()
    # the rules (and their revision) the form's widgets were filled from: edits are read against these
    policy, gate, seen = st.session_state.setdefault(SEEN_KEY, current)
    if seen != current[2]:
        st.warning("The risk policy changed since this form was filled: saving it would be refused. Reload the "
                   "form to see the change (your unsaved edits are dropped).", icon=":material/sync_problem:")
        st.button("Reload the risk policy", key="policy_reload", on_click=_reload_policy_form)
    admin, stored = actor.can("admin"), {"limits": policy.limits.model_dump(), "gate": gate.model_dump()}
    st.caption("Risk policy (risk-policy.v1, validated strictly) and the console's gate limits. Not here: "
               + "; ".join(dict.fromkeys(NOT_ON_FORM.values())) + ".")
    left, right = st.columns(2)
    left.selectbox(CHOICES["mode"].label, ["enforced", "advisory"], key="policy_mode", disabled=not admin,
                          index=["enforced", "advisory"].index(policy.mode), help=CHOICES["mode"].help)
    right.toggle(CHOICES["killSwitch.enabled"].label, value=policy.killSwitch.enabled,
                 key="policy_kill_enabled", disabled=not admin,
                 help=f"{CHOICES['killSwitch.enabled'].help}; currently "
                      + ("ON: every submission halted" if current[0].killSwitch.triggered else "off"))
    groups = list(dict.fromkeys(f.group for f in FIELDS))
    _policy_numbers(groups[0], stored, admin)
    st.multiselect(CHOICES["actionsOnBreach"].label, list(ACTIONS), default=policy.actionsOnBreach,
                   key="policy_actions", disabled=not admin, help=CHOICES["actionsOnBreach"].help)
    for group in groups[1:]:
        _policy_numbers(group, stored, admin)
    st.multiselect(CHOICES["gate.checksOff"].label, SWITCHABLE_CHECKS, default=gate.checksOff,
                   key="gate_checksOff", disabled=not admin, help=CHOICES["gate.checksOff"].help)
    if admin:
        with st.expander("Policy as JSON (risk-policy.v1)"):
            st.text_area("Policy (JSON)", json.dumps(policy.model_dump(exclude_none=True), indent=2), height=300,
                         key="policy_json",
                         help="edit the policy here or on the form, not both; the gate limits stay on the form")
    st.text_input("Reason for the change (required)", key="policy_reason", disabled=not admin)
    st.button("Save risk policy", type="primary", key="policy_save", disabled=not admin,
              help=None if admin else "admin role needed", on_click=_save_policy)
    outcome = st.session_state.pop(OUTCOME_KEY, None)
    if outcome is not None:
        kind, text = outcome
        st.error(text, icon=ERROR_ICON) if kind == "error" else st.success(text)
    st.write("**Changes**")
    st.dataframe(audit_frame(orders.audit(subject="risk-policy", limit=50)), hide_index=True, width="stretch")


def _token_row(token: AccessToken) -> dict:
    return {"id": token.id, "for": token.owner, "roles": ", ".join(token.roles), "scopes": ", ".join(token.scopes),
            "label": token.label, "state": "active" if token.active else ("revoked" if token.revoked_at else "expired"),
            "issued by": token.created_by, "issued": token.created_at, "expires": token.expires_at,
            "last used": token.last_used_at}


def _access_tokens() -> None:
    tokens, actor = console().runtime.tokens, current_actor()
    if not actor.can("admin"):
        st.info("Only an admin issues and revokes access tokens (the CLI's credential in production).")
        return
    st.write("**Issue a token** for a person: the CLI acts as them with the roles given (set the secret as "
             "`NEXUS_TOKEN`); scopes are for the HTTP API. The secret is shown once, here, and only its hash is kept.")
    left, right = st.columns(2)
    owner = left.text_input("For (e-mail)", key="token_owner")
    label = right.text_input("Label (what it is for)", key="token_label")
    roles = left.multiselect("Roles", ROLES, key="token_roles")
    scopes = right.multiselect("API scopes", SCOPES, key="token_scopes")
    days = left.number_input("Valid for (days, 0 = until revoked)", min_value=0, max_value=3650, value=90, step=1,
                             key="token_days")
    if st.button("Issue token", type="primary", key="token_issue"):
        with shows_errors():
            expires = clock.now() + timedelta(days=int(days)) if days else None
            token, secret = tokens.issue(actor, owner, roles=roles, scopes=scopes, label=label, expires_at=expires)
            st.success(f"Token {token.id} issued for {token.owner}. Copy the secret now: it is not shown again.")
            st.code(secret, language=None)
    listed = tokens.listing(actor)
    st.write("**Tokens**")
    st.dataframe(pd.DataFrame([_token_row(t) for t in listed]), hide_index=True, width="stretch")
    active = [t.id for t in listed if t.active]
    if active:
        left, right = st.columns(2)
        chosen = left.selectbox("Revoke token", active, key="token_revoke_id",
                                format_func=lambda i: next(f"{i} · {t.owner}" for t in listed if t.id == i))
        reason = right.text_input("Reason (required)", key="token_revoke_reason")
        if st.button("Revoke", key="token_revoke"):
            with shows_errors():
                tokens.revoke(actor, chosen, reason)
                st.success(f"Token {chosen} revoked: its next use is refused.")


def _notifications() -> None:
    notifier, actor = console().runtime.notifications, current_actor()
    st.caption("Messages to approvers when proposals wait, one is about to expire, an order fails or the kill "
               "switch changes; channels are apprise URLs in NOTIFY_URLS (never shown), delivered by the worker.")
    if not notifier.channels():
        st.info("No channel configured: set NOTIFY_URLS (e.g. slack://…, msteams://…, tgram://…, mailto://…, "
                "json://host/path).")
        return
    if st.button("Send a test message", key="notify_test", disabled=not actor.can("admin"),
                 help=None if actor.can("admin") else "admin role needed"):
        with shows_errors():
            failed = [c.name for c in notifier.send_test(actor) if c.configured and c.last_error]
            if failed:
                st.warning(f"Not delivered to {', '.join(failed)}; see the last error.")
            else:
                st.success("Test message delivered to every channel.")
    st.dataframe(pd.DataFrame([{
        "channel": c.name, "configured": c.configured, "last delivery": c.last_delivery, "waiting": c.waiting,
        "last error": c.last_error or "", } for c in notifier.status()]), hide_index=True, width="stretch",
        column_config={"last delivery": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


def render() -> None:
    """Draw the page."""
    st.title("Settings")
    with shows_errors():
        integrations, configuration, risk, access, notifications = st.tabs(
            ["Integrations", "Configuration", "Risk policy", "Access tokens", "Notifications"])
        with integrations:
            _integrations()
        with configuration:
            _configuration()
        with risk:
            _risk_policy()
        with access:
            _access_tokens()
        with notifications:
            _notifications()
