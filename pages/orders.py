"""Orders & Portfolio page: order lifecycle and fills, the order ticket, cancel, positions and P&L with "close
position", the audit log, the kill switch.

The ticket, close and cancel buttons act in ``on_click`` callbacks bound to what was drawn (the ticket's id, the
order's terms), so a double click files one order and a refresh cannot swap what a click acts on. The outcome of the
last action stays on the page until dismissed or replaced by the next one.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import streamlit as st

from components.context import console, current_actor, needs_role, shows_errors
from components.tables import show_table
from components.views.orders import (
    audit_export,
    audit_frame,
    filed_text,
    orders_frame,
    origin_text,
    positions_frame,
    proposal_diff,
    ticket_symbols,
)
from services.core.errors import NexusError
from services.trading.execution.base import Account
from services.trading.manual import Ticket, close_position, enter_order
from services.trading.orders import TERMINAL, TRANSITIONS, Order
from services.trading.terms import Terms

OUTCOME_KEY = "orders_outcome"
TICKET_KEY = "orders_ticket_id"
VENUE_DEFAULT = "venue default"


def _ticket_id() -> str:
    """The id of the ticket on screen (a new one after each order filed)."""
    return st.session_state.setdefault(TICKET_KEY, uuid.uuid4().hex[:16])


def _act(action: Callable[[], Order], done: Callable[[Order], str]) -> None:
    """Run a click's action and keep its outcome; a filed ticket makes way for a fresh one."""
    try:
        order = action()
    except NexusError as error:
        st.session_state[OUTCOME_KEY] = ("error", str(error))
        return
    st.session_state[OUTCOME_KEY] = ("success", done(order))
    st.session_state.pop(TICKET_KEY, None)


def _outcome() -> None:
    shown = st.session_state.get(OUTCOME_KEY)
    if shown:
        kind, text = shown
        (st.error if kind == "error" else st.success)(text)
        st.button("Dismiss", key="orders_outcome_dismiss", on_click=st.session_state.pop, args=(OUTCOME_KEY, None))


def _enter(ticket_id: str) -> None:
    state, rt = st.session_state, console().runtime
    amount = state.get("ticket_amount", "")
    by_notional = state.get("ticket_size_by") != "quantity"
    tif = state.get("ticket_tif", VENUE_DEFAULT)
    ticket = Ticket(ticket_id, state.get("ticket_symbol") or "", state.get("ticket_side", "buy"),
                    quantity=None if by_notional else amount, notional=amount if by_notional else None,
                    order_type=state.get("ticket_type", "market"), limit_price=state.get("ticket_limit") or None,
                    time_in_force=None if tif == VENUE_DEFAULT else tif, reason=state.get("ticket_reason", ""))
    _act(lambda: enter_order(rt.orders, rt.prices, current_actor(), ticket), filed_text)


def _close(ticket_id: str) -> None:
    state, rt = st.session_state, console().runtime
    _act(lambda: close_position(rt.orders, rt.prices, current_actor(), state.get("close_symbol") or "", ticket_id,
                                quantity=state.get("close_quantity") or None, reason=state.get("close_reason", "")),
         filed_text)


def _cancel(order_id: str, seen: Terms) -> None:
    rt = console().runtime
    reason = st.session_state.get(f"cancel_reason_{order_id}", "")

    def cancel() -> Order:
        order = rt.orders.cancel(order_id, current_actor(), reason, seen=seen)
        rt.after_decisions(order.run_id)
        return order

    _act(cancel, lambda order: f"Order {order.id} cancelled ({Terms.of(order).describe()}, "
                               f"{order.filled_quantity:g} filled).")


def _account() -> Account | None:
    try:
        return console().runtime.venue.account()
    except NexusError as error:
        st.warning(f"The venue did not answer ({error}); its positions are not offered.")
        return None


def _ticket_tab() -> None:
    rt = console().runtime
    venue = rt.venue
    symbols = ticket_symbols([e.ref.symbol for e in rt.datasets.catalog()], _account())
    st.caption(f"A manual order is a proposal by you: it passes the risk gate and waits in Approvals for an approver "
               f"other than you. Venue: {venue.name}; quantities in its lots ("
               + ("fractions allowed" if venue.fractional else "whole units only") + ").")
    with st.form("ticket_form"):
        symbol, side, kind = st.columns(3)
        symbol.selectbox("Symbol", symbols, key="ticket_symbol", index=None, placeholder="from the catalog or held")
        side.radio("Side", ["buy", "sell"], horizontal=True, key="ticket_side")
        kind.radio("Type", ["market", "limit"], horizontal=True, key="ticket_type")
        size_by, amount, limit = st.columns(3)
        size_by.radio("Size by", ["quantity", "notional (USD)"], horizontal=True, key="ticket_size_by")
        amount.text_input("Quantity or notional", key="ticket_amount")
        limit.text_input("Limit price (limit orders)", key="ticket_limit")
        if venue.times_in_force:
            st.selectbox("Time in force", [VENUE_DEFAULT, *venue.times_in_force], key="ticket_tif")
        st.text_input("Reason (the approver reads it)", key="ticket_reason")
        st.form_submit_button("Enter order", key="ticket_enter", type="primary", on_click=_enter, args=(_ticket_id(),),
                              **needs_role("trader"))


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
    # the browser keeps a picker's drawn label while its key stays (a cancelled order would still read "submitted"
    # there): the key changes with the statuses, the query parameter keeps the choice
    key = "order_detail_" + hashlib.sha1(" ".join(f"{o.id}:{o.status}" for o in listed).encode()).hexdigest()[:12]
    chosen = st.selectbox("Order detail", ids, index=ids.index(wanted) if wanted in ids else 0, key=key,
                          format_func=lambda i: next(f"{o.symbol} {o.side} {o.quantity:g} · {o.status} · {i}"
                                                     for o in listed if o.id == i))
    st.query_params["order"] = chosen
    order = orders.get(chosen)
    st.write(f"**{order.side.upper()} {order.quantity:g} {order.symbol}**: {order.status}; client order id "
             f"`{order.client_order_id}`; venue {order.venue} `{order.venue_order_id or '-'}`; proposed by "
             f"{origin_text(order)}")
    if order.status not in TERMINAL:
        reason, button = st.columns([3, 1], vertical_alignment="bottom")
        reason.text_input("Why cancel (required)", key=f"cancel_reason_{order.id}")
        button.button("Cancel order", key=f"cancel_{order.id}", on_click=_cancel, args=(order.id, Terms.of(order)),
                      **needs_role("approver", f"cancel {Terms.of(order).describe()}"))
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
        return
    show_table(positions)
    with st.form("close_form"):
        symbol, quantity, reason = st.columns([1, 1, 2])
        symbol.selectbox("Close position", [p.symbol for p in account.positions], key="close_symbol")
        quantity.text_input("Quantity (empty: all)", key="close_quantity")
        reason.text_input("Reason", key="close_reason")
        st.form_submit_button("Close position", key="close_enter", on_click=_close, args=(_ticket_id(),),
                              **needs_role("trader", "a manual order: an approver other than you decides it"))


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
        _outcome()
        orders_tab, ticket_tab, portfolio_tab, audit_tab = st.tabs(["Orders", "New order", "Portfolio", "Audit log"])
        with orders_tab, shows_errors():
            _orders_tab()
        with ticket_tab, shows_errors():
            _ticket_tab()
        with portfolio_tab, shows_errors():
            _portfolio_tab()
        with audit_tab, shows_errors():
            _audit_tab()
