"""Approvals page: the inbox of proposed orders; nothing reaches a venue unless a person approves it here.

A compact list (one line per order, grouped by run) beside one open order with its actions at the top. Every
button is an ``on_click`` callback with the terms drawn on the screen bound as its arguments, so the decision
binds to what the operator saw even though the inbox re-reads the orders on every refresh; its outcome stays on
screen until dismissed or replaced by the next action. A notification's link (``/approvals?order=<id>``) opens
that order, or says what became of it when it no longer waits.
"""

from __future__ import annotations

import streamlit as st

from components.context import console, current_actor, shows_errors
from components.inbox_state import (
    OPEN_KEY,
    BulkAsk,
    ask_bulk,
    bulk_ask,
    close_bulk,
    dismiss_outcome,
    navigation_is_stale,
    open_link,
    open_order,
    outcome,
    outcome_since,
    set_outcome,
    take_link,
)
from components.order_card import detail_body, detail_header
from components.views.inbox import line_label, sent_rows
from services.core.errors import NexusError
from services.trading.inbox import Inbox, InboxLine, RunGroup, read_inbox
from services.trading.orders import Orders, own_order
from services.trading.terms import Stale, Terms


def _dispatch(run_id: str) -> None:
    """Hand the run's approved orders to the worker (it sends them, exactly once)."""
    console().runtime.jobs.submit("execute", {"run_id": run_id}, current_actor().name, title=f"execute {run_id}")


def _decide_one(action: str, order_id: str, seen: Terms) -> tuple[str, int]:
    """Carry out one decision on the terms ``seen``; what happened, in words, and the order's version after it
    (raises NexusError)."""
    orders, actor = console().runtime.orders, current_actor()
    if action == "approve":
        done = orders.approve(order_id, actor, seen=seen)
        if done.status == "approved":
            return f"Approved, sending to {done.venue}: {seen.describe()}", done.version
        return (f"First approval recorded for {seen.describe()}; {done.approvals_needed} different approvers "
                "are needed"), done.version
    if action == "reject":
        reason = str(st.session_state.get(f"reason_{order_id}") or "")
        done = orders.reject(order_id, actor, reason, seen=seen)
        return f"Rejected {seen.describe()}: {reason.strip()}", done.version
    limit = st.session_state.get(f"limit_{order_id}")
    done = orders.edit(order_id, actor, quantity=st.session_state.get(f"qty_{order_id}"),
                       limit_price=limit or None, seen=seen, reason="edited in the inbox")
    return f"Edited: now {Terms.of(done).describe()}; it waits for approval again", done.version


def _decide(action: str, order_id: str, run_id: str, seen: Terms) -> None:
    """Button callback: decide on the terms bound when the button was drawn, keep the outcome on screen."""
    try:
        text, version = _decide_one(action, order_id, seen)
    except Stale as error:
        previous = outcome()
        if previous and previous.kind == "success" and previous.order_id == order_id and error.status != \
                "pending_approval":  # the second click of a double click: the first one decided it
            set_outcome("success", f"{previous.text} (a second click changed nothing: it is {error.status})",
                        order_id, previous.version)
        else:
            set_outcome("warning", f"{error}. You saw: {seen.describe()}.", order_id, error.current.version)
        return
    except NexusError as error:
        set_outcome("error", f"{seen.describe()}: {error}", order_id, seen.version)
        return
    if action != "edit":
        _dispatch(run_id)
    set_outcome("success", text, order_id, version)


def _actions(line: InboxLine) -> None:
    order, terms, can = line.order, line.terms, current_actor().can("approver")
    args = (order.id, order.run_id, terms)
    blocked = line.blocked or own_order(order, current_actor())
    approve, edit, reason, reject = st.columns([1, 1, 3, 1], vertical_alignment="bottom")
    approve.button("Approve", key=f"approve_{order.id}", type="primary", disabled=bool(blocked) or not can,
                   help=blocked or f"send {terms.describe()}", on_click=_decide, args=("approve", *args))
    with edit.popover("Edit", disabled=not can):
        st.number_input("Quantity (down only)", min_value=0.0, value=float(order.quantity), key=f"qty_{order.id}",
                        format="%.15g")
        st.number_input("Limit price (0 = keep)", min_value=0.0, value=float(order.limit_price or 0),
                        key=f"limit_{order.id}", format="%.15g")
        st.button("Save edit", key=f"save_{order.id}", on_click=_decide, args=("edit", *args))
    reason.text_input("Reason to reject", key=f"reason_{order.id}", placeholder="required")
    reject.button("Reject", key=f"reject_{order.id}", disabled=not can, on_click=_decide, args=("reject", *args))
    if blocked:
        st.caption(f"Approve is off: {blocked}.")


def _bulk_decide(action: str, items: tuple[tuple[str, Terms], ...], reason: str) -> None:
    """Decide every listed order on the terms listed; the outcome names exactly what was done and what not."""
    orders, actor, done, problems = console().runtime.orders, current_actor(), [], []
    for order_id, seen in items:
        try:
            if action == "approve":
                orders.approve(order_id, actor, reason, seen=seen)
            else:
                orders.reject(order_id, actor, reason, seen=seen)
            done.append(seen.describe())
        except NexusError as error:
            problems.append(f"{seen.describe()}: {error}")
    verb = "Approved and sent" if action == "approve" else "Rejected"
    text = f"{verb} exactly {len(done)}: " + "; ".join(done) if done else f"Nothing was {verb.lower()}."
    if problems:
        text += " — not done: " + " | ".join(problems)
    set_outcome("warning" if problems else "success", text)


@st.dialog("Confirm", width="large", on_dismiss=close_bulk)
def _confirm_bulk(ask: BulkAsk) -> None:
    action, run_id, items = ask.action, ask.run_id, ask.items
    verb = "approve and send" if action == "approve" else "reject"
    st.write(f"You are about to **{verb}** exactly these {len(items)} order(s) of run {run_id}:")
    st.dataframe(sent_rows([seen for _id, seen in items]), hide_index=True, width="stretch")
    reason = st.text_input("Reason" + (" (required)" if action == "reject" else ""), key=f"bulk_reason_{action}")
    if st.button(f"Confirm: {verb} {len(items)}", type="primary", key=f"bulk_confirm_{action}"):
        _bulk_decide(action, items, reason)
        _dispatch(run_id)
        close_bulk()
        st.rerun()


def _group(group: RunGroup, open_id: str) -> None:
    can = current_actor().can("approver")
    items = tuple((line.order.id, line.terms) for line in group.lines)
    with st.container(border=True):
        st.subheader(f"Run {group.run_id}")
        st.caption(f"{len(group.lines)} proposal(s), proposed {group.proposed_at:%Y-%m-%d %H:%M:%S} UTC")
        for line in group.lines:
            st.button(line_label(line), key=f"open_{line.order.id}", width="stretch",
                      type="primary" if line.order.id == open_id else "secondary",
                      on_click=open_order, args=(line.order.id,))
        approve_all, reject_all = st.columns(2)
        approve_all.button("Approve all…", key=f"bulk_approve_{group.run_id}", width="stretch",
                           disabled=bool(group.bulk_blocked) or not can, help=group.bulk_blocked or None,
                           on_click=ask_bulk, args=("approve", group.run_id, items))
        reject_all.button("Reject all…", key=f"bulk_reject_{group.run_id}", width="stretch", disabled=not can,
                          on_click=ask_bulk, args=("reject", group.run_id, items))
        if group.bulk_blocked:
            st.caption(group.bulk_blocked)
        if group.rationale:
            with st.expander("Run rationale (written when the run proposed)"):
                st.text(group.rationale)  # LLM text: plain text, never HTML/markdown
    ask = bulk_ask()
    if ask and ask.run_id == group.run_id:  # stays open until confirmed or dismissed
        _confirm_bulk(ask)


def _show_outcome(orders: Orders) -> None:
    shown = outcome()
    if shown is None:
        return
    text, dismiss = st.columns([7, 1], vertical_alignment="center")
    getattr(text, shown.kind)(shown.text)
    since = outcome_since(orders)
    if since:  # the order moved on after the outcome: the newer fact beside it, so it does not read as current
        text.info(since, icon=":material/update:")
    dismiss.button("Dismiss", key="dismiss_outcome", on_click=dismiss_outcome)


def _inbox() -> None:
    orders = console().runtime.orders
    inbox = read_inbox(orders)
    open_link(orders, inbox)
    _show_outcome(orders)
    if inbox.kill_switch:
        st.error("Kill switch is ON: nothing can be approved or sent until an admin re-arms it.",
                 icon=":material/dangerous:")
    if inbox.book_problem:
        st.warning(inbox.book_problem)
    if not inbox.groups:
        st.success("Nothing waits for a decision. New proposals appear here within seconds.")
    else:
        _lines_and_detail(inbox)
    if navigation_is_stale(orders):
        st.rerun()  # the whole app, so the navigation shows the count now (after the outcome is on screen)


def _lines_and_detail(inbox: Inbox) -> None:
    line = inbox.line(st.session_state.get(OPEN_KEY)) or inbox.groups[0].lines[0]
    listing, detail = st.columns([2, 3])
    with listing:
        for group in inbox.groups:
            _group(group, line.order.id)
    with detail, st.container(border=True, key="inbox_detail"):
        detail_header(line)
        _actions(line)
        detail_body(line, inbox.drift_bound)


def render() -> None:
    """Draw the page."""
    st.title("Approvals")
    st.caption("Every order the agents propose waits here. Approve, edit (quantity down, limit price) or reject "
               "with a reason; every decision is recorded with who and why.")
    take_link()
    with shows_errors():
        st.fragment(_inbox, run_every=console().runtime.settings.inbox_refresh_seconds)()
