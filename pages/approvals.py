"""Approvals page: the inbox of proposed orders; nothing reaches a venue unless a person approves it here."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.context import console, current_actor, shows_errors
from components.order_card import order_card
from services.core.errors import NexusError
from services.trading.orders import Order

REFRESH_S = 5


def _dispatch(run_id: str) -> None:
    """Hand the run's approved orders to the worker (it sends them, exactly once)."""
    console().runtime.jobs.submit("execute", {"run_id": run_id}, current_actor().name, title=f"execute {run_id}")


def _blocked_reason(order: Order, checks: list[dict], drift: float | None, bound: float) -> str:
    failing = [c["name"] for c in checks if not c["passed"]]
    if failing:
        return "a risk check fails: " + ", ".join(failing)
    if drift is not None and abs(drift) > bound:
        return f"price drifted {drift:+.2f}% (bound ±{bound}%)"
    return ""


def _actions(order: Order, blocked: str) -> None:
    orders, actor = console().runtime.orders, current_actor()
    approve, edit, reject = st.columns([1, 1, 2])
    if approve.button("Approve", key=f"approve_{order.id}", type="primary", disabled=bool(blocked) or
                      not actor.can("approver"), help=blocked or f"send {order.side} {order.quantity:g} "
                      f"{order.symbol} to {order.venue}"):
        with shows_errors():
            done = orders.approve(order.id, actor, expected_version=order.version)
            if done.status == "approved":
                _dispatch(order.run_id)
                st.toast(f"Approved {order.symbol}: sending to {order.venue}")
            else:
                st.toast(f"First approval recorded; {order.approvals_needed} different approvers are needed")
    with edit.popover("Edit", disabled=not actor.can("approver")):
        quantity = st.number_input("Quantity (down only)", min_value=0.0, max_value=float(order.quantity),
                                   value=float(order.quantity), key=f"qty_{order.id}", format="%g")
        limit = st.number_input("Limit price (0 = keep market)", min_value=0.0, value=float(order.limit_price or 0),
                                key=f"limit_{order.id}", format="%g")
        if st.button("Save edit", key=f"save_{order.id}"):
            with shows_errors():
                orders.edit(order.id, actor, quantity=quantity, limit_price=limit or None,
                            expected_version=order.version, reason="edited in the inbox")
                st.rerun()
    reason = reject.text_input("Reason to reject", key=f"reason_{order.id}", placeholder="required")
    if reject.button("Reject", key=f"reject_{order.id}", disabled=not actor.can("approver")):
        with shows_errors():
            orders.reject(order.id, actor, reason, expected_version=order.version)
            _dispatch(order.run_id)
            st.rerun()


def _close_bulk() -> None:
    st.session_state.pop("bulk", None)


@st.dialog("Confirm", width="large", on_dismiss=_close_bulk)
def _confirm_bulk(action: str, pending: list[Order]) -> None:
    verb = "approve and send" if action == "approve" else "reject"
    st.write(f"You are about to **{verb}** exactly these {len(pending)} order(s):")
    st.dataframe(pd.DataFrame([{"symbol": o.symbol, "side": o.side, "quantity": o.quantity, "type": o.order_type,
                                "limit": o.limit_price, "notional": o.notional, "venue": o.venue} for o in pending]),
                 hide_index=True, width="stretch")
    reason = st.text_input("Reason" + (" (required)" if action == "reject" else ""), key=f"bulk_reason_{action}")
    if st.button(f"Confirm: {verb} {len(pending)}", type="primary", key=f"bulk_confirm_{action}"):
        orders, actor, problems = console().runtime.orders, current_actor(), []
        for order in pending:
            try:
                if action == "approve":
                    orders.approve(order.id, actor, reason, expected_version=order.version)
                else:
                    orders.reject(order.id, actor, reason, expected_version=order.version)
            except NexusError as error:
                problems.append(f"{order.symbol}: {error}")
        for run_id in sorted({o.run_id for o in pending}):
            _dispatch(run_id)
        st.session_state["bulk_problems"] = problems
        _close_bulk()
        st.rerun()


@st.fragment(run_every=REFRESH_S)
def _inbox() -> None:
    orders = console().runtime.orders
    orders.expire_due()
    pending = orders.list(status="pending_approval")
    rules = _policy, gate = orders.policy()
    if orders.kill_switch_on():
        st.error("Kill switch is ON: nothing can be approved or sent until an admin re-arms it.", icon="🛑")
    for problem in st.session_state.pop("bulk_problems", []):
        st.warning(problem)
    if not pending:
        st.success("Nothing waits for a decision. New proposals appear here within seconds.")
        return
    try:
        book = orders.book()  # one venue read per refresh, not one per order
    except NexusError:
        book = None  # each card then says what the venue answered
    runs: dict[str, list[Order]] = {}
    for order in pending:  # newest first
        runs.setdefault(order.run_id, []).append(order)
    for run_id, group in runs.items():
        with st.container(border=True):
            head, approve_all, reject_all = st.columns([4, 1, 1])
            head.subheader(f"Run {run_id}")
            head.caption(f"{len(group)} proposal(s), proposed {group[-1].created_at:%Y-%m-%d %H:%M:%S} UTC")
            if approve_all.button("Approve all…", key=f"bulk_approve_{run_id}"):
                st.session_state["bulk"] = ("approve", run_id)
            if reject_all.button("Reject all…", key=f"bulk_reject_{run_id}"):
                st.session_state["bulk"] = ("reject", run_id)
            if st.session_state.get("bulk", (None, None))[1] == run_id:  # stays open until confirmed or dismissed
                _confirm_bulk(st.session_state["bulk"][0], group)
            for order in group:
                with st.container(border=True), shows_errors():
                    checks = [c.as_dict() for c in orders.recheck(order, rules=rules, book=book)]
                    drift = orders.drift_pct(order)
                    order_card(order, drift, checks, gate.maxDriftPct)
                    _actions(order, _blocked_reason(order, checks, drift, gate.maxDriftPct))


def render() -> None:
    """Draw the page."""
    st.title("Approvals")
    st.caption("Every order the agents propose waits here. Approve, edit (quantity down, limit price) or reject "
               "with a reason; every decision is recorded with who and why.")
    with shows_errors():
        _inbox()
