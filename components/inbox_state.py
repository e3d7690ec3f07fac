"""What the inbox keeps in the browser session: the open order, the outcome of the last click, the nav count."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from components.views.inbox import since_text
from services.trading.inbox import Inbox, link_problem, pending_count, since_then
from services.trading.orders import Orders
from services.trading.terms import Terms

NAV_COUNT_KEY = "nav_pending_count"
OUTCOME_KEY = "inbox_outcome"
OPEN_KEY = "inbox_open_order"
LINK_KEY = "inbox_linked_order"
BULK_KEY = "inbox_bulk"


@dataclass(frozen=True)
class Outcome:
    """The visible result of the last decision: ``kind`` is success, warning or error; ``version`` is the order's
    version the outcome is about (what happened to it later is shown beside it)."""

    kind: str
    text: str
    order_id: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class BulkAsk:
    """A bulk action waiting for its confirmation: approve or reject exactly ``items`` (order id, terms seen)."""

    action: str
    run_id: str
    items: tuple[tuple[str, Terms], ...]


def approvals_title(orders: Orders) -> str:
    """The navigation entry of the inbox with the pending count, remembered to spot a stale navigation."""
    count = pending_count(orders)
    st.session_state[NAV_COUNT_KEY] = count
    return f"Approvals ({count})" if count else "Approvals"


def navigation_is_stale(orders: Orders) -> bool:
    """True when the navigation was drawn with another count than the one pending now."""
    drawn = st.session_state.get(NAV_COUNT_KEY)
    return drawn is not None and drawn != pending_count(orders)


def set_outcome(kind: str, text: str, order_id: str | None = None, version: int | None = None) -> None:
    """Keep the result of an action until it is dismissed or the next action replaces it."""
    st.session_state[OUTCOME_KEY] = Outcome(kind, text, order_id, version)


def dismiss_outcome() -> None:
    """Forget the last outcome (the Dismiss button)."""
    st.session_state.pop(OUTCOME_KEY, None)


def outcome() -> Outcome | None:
    """The outcome on show, if any."""
    return st.session_state.get(OUTCOME_KEY)


def outcome_since(orders: Orders) -> str:
    """What became of the order of the outcome on show since it ('' when nothing, or no order's outcome)."""
    shown = outcome()
    if shown is None or shown.order_id is None or shown.version is None:
        return ""
    since = since_then(orders, shown.order_id, shown.version)
    return since_text(since) if since else ""


def open_order(order_id: str) -> None:
    """Open ``order_id`` in the detail view."""
    st.session_state[OPEN_KEY] = order_id


def take_link() -> None:
    """Keep the order of a deep link (``?order=<id>``, as notifications send) for the inbox to open, once: the
    parameter leaves the address so a later click on another order is not undone by the next refresh."""
    order_id = st.query_params.get("order")
    if order_id:
        st.session_state[LINK_KEY] = order_id
        del st.query_params["order"]


def open_link(orders: Orders, inbox: Inbox) -> None:
    """Open the linked order in the detail view, or say what became of it when it no longer waits."""
    order_id = st.session_state.pop(LINK_KEY, None)
    if not order_id:
        return
    problem = link_problem(orders, inbox, order_id)
    if problem:
        set_outcome("warning", problem, order_id)
    else:
        open_order(order_id)


def ask_bulk(action: str, run_id: str, items: tuple[tuple[str, Terms], ...]) -> None:
    """Open the confirmation of a bulk action (the Approve all… / Reject all… buttons)."""
    st.session_state[BULK_KEY] = BulkAsk(action, run_id, items)


def close_bulk() -> None:
    """Close the confirmation (confirmed or dismissed)."""
    st.session_state.pop(BULK_KEY, None)


def bulk_ask() -> BulkAsk | None:
    """The bulk action waiting for confirmation, if any."""
    return st.session_state.get(BULK_KEY)
