"""Orders & Portfolio page: order lifecycle and fills, positions and P&L, the audit log, the kill switch."""

from __future__ import annotations

import streamlit as st

from components.context import console, current_actor, shows_errors
from components.tables import show_table
from components.views.orders import audit_export, audit_frame, orders_frame, positions_frame, proposal_diff
from services.trading.orders import TRANSITIONS


def _orders_tab() -> None:
    orders = console().runtime.orders
    left, middle, right = st.columns([2, 1, 1])
    statuses = left.multiselect("Status", list(TRANSITIONS), key="orders_status")
    symbol = middle.text_input("Symbol", key="orders_symbol").strip().upper() or None
    run_id = right.text_input("Run id", key="orders_run").strip() or None
    listed = orders.list(status=statuses or None, symbol=symbol, run_id=run_id)
    if not listed:
        st.info("No orders match.")
        return
    show_table(orders_frame(listed), height=320)
    ids = [o.id for o in listed]
    wanted = st.query_params.get("order")
    chosen = st.selectbox("Order detail", ids, index=ids.index(wanted) if wanted in ids else 0, key="order_detail",
                          format_func=lambda i: next(f"{o.symbol} {o.side} {o.quantity:g} · {o.status} · {i}"
                                                     for o in listed if o.id == i))
    st.query_params["order"] = chosen
    order = orders.get(chosen)
    st.write(f"**{order.side.upper()} {order.quantity:g} {order.symbol}**: {order.status}; client order id "
             f"`{order.client_order_id}`; venue {order.venue} `{order.venue_order_id or '-'}`")
    if order.status == "unknown":
        st.warning(f"{order.venue} has not said whether it holds this order (the console stopped sending after "
                   f"{order.submit_attempts} attempts); reconciliation keeps asking, and the order is not final "
                   "until the venue answers.")
    if order.last_error:
        st.warning(order.last_error)
    st.write("Proposal vs sent")
    show_table(proposal_diff(order))
    st.write("Audit trail")
    show_table(audit_frame(orders.audit(subject=order.id)))


def _portfolio_tab() -> None:
    venue = console().runtime.venue
    account = venue.account()
    a, b, c, d = st.columns(4)
    a.metric("Mode", f"{account.mode} · {account.venue}")
    b.metric("Cash", f"{account.cash:,.2f}")
    c.metric("Equity", f"{account.equity:,.2f}")
    d.metric("P&L", f"{account.pnl_total:,.2f}")
    positions = positions_frame(account)
    if positions.empty:
        st.info("No open positions.")
    else:
        show_table(positions)


def _audit_tab() -> None:
    orders = console().runtime.orders
    left, middle, right = st.columns(3)
    actor = left.text_input("Actor", key="audit_actor").strip() or None
    action = middle.text_input("Action", key="audit_action", placeholder="approve, reject, …").strip() or None
    subject = right.text_input("Subject (order id, risk-policy)", key="audit_subject").strip() or None
    entries = orders.audit(subject=subject, actor=actor, action=action)
    show_table(audit_frame(entries), height=360)
    csv, js = st.columns(2)
    csv.download_button("Download CSV", audit_export(entries, "csv"), "audit-log.csv", "text/csv", key="audit_csv")
    js.download_button("Download JSON", audit_export(entries, "json"), "audit-log.json", "application/json",
                       key="audit_json")


def _kill_switch() -> None:
    orders, actor = console().runtime.orders, current_actor()
    on = orders.kill_switch_on()
    with st.expander("Kill switch" + (" (ON)" if on else ""), expanded=on):
        st.write("Halts every submission at once. Approved orders stay approved and are sent when it is re-armed.")
        reason = st.text_input("Reason (required)", key="kill_reason")
        label = "Re-arm (turn OFF)" if on else "Halt all submission (turn ON)"
        if st.button(label, type="primary", disabled=not actor.can("admin"), key="kill_toggle",
                     help=None if actor.can("admin") else "admin role needed"):
            with shows_errors():
                orders.set_kill_switch(not on, actor, reason)
                st.rerun()


def render() -> None:
    """Draw the page."""
    st.title("Orders & Portfolio")
    with shows_errors():
        _kill_switch()
        orders_tab, portfolio_tab, audit_tab = st.tabs(["Orders", "Portfolio", "Audit log"])
        with orders_tab, shows_errors():
            _orders_tab()
        with portfolio_tab, shows_errors():
            _portfolio_tab()
        with audit_tab, shows_errors():
            _audit_tab()
