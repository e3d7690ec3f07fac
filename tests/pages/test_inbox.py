"""AppTest of the inbox: decisions bind to the drawn terms, every outcome stays on screen, one line per order."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from services.core import clock
from services.core.records import orders as orders_table
from services.trading.inbox import pending_count
from services.trading.orders import Proposal
from services.trading.risk import Check
from services.trading.terms import STALE, Terms
from tests.support.orders import ALICE, BOB, write_prices


def ibm(pid: str = "ibm", quantity: float = 23.1315, price: float = 806.19, checks=None) -> Proposal:
    return Proposal(pid, "IBM", "buy", quantity, price, dataset_ref="sample/IBM/1d",
                    checks=checks or [Check("max order notional", True, 26710.28, 1e6)],
                    context={"weights": {"current": 0.0, "target": 0.2}, "rationale":
                             "The optimizer favours IBM.\n\nMSFT stays flat.", "forecast": {"expected_return": 0.01}})


@pytest.fixture
def inbox(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    (order,) = runtime.orders.propose("run-a", [ibm()])
    at = page_app("approvals")
    at.run()
    assert not at.exception
    return runtime, order, at


def texts(at, kind: str) -> str:
    return " | ".join(e.value for e in getattr(at, kind))


def test_approve_on_a_card_someone_else_edited_is_refused_with_the_new_terms(inbox):
    runtime, order, at = inbox  # the card shows BUY 23.1315 IBM
    runtime.orders.edit(order.id, ALICE, quantity=10, seen=Terms.of(order))  # another operator, meanwhile
    at.button(key=f"approve_{order.id}").click().run()
    assert STALE in texts(at, "warning") and "now BUY 10 IBM market on paper" in texts(at, "warning")
    assert any("BUY 10 IBM" in m.value for m in at.markdown)  # the detail view draws the new terms
    assert runtime.orders.get(order.id).status == "pending_approval"
    at.run()  # the 5-second refresh keeps it
    assert STALE in texts(at, "warning")
    at.button(key="dismiss_outcome").click().run()
    assert STALE not in texts(at, "warning")


def test_a_click_on_an_order_already_decided_says_so_and_stays(inbox):
    runtime, order, at = inbox
    runtime.orders.approve(order.id, BOB, seen=Terms.of(order))
    at.button(key=f"approve_{order.id}").click().run()
    assert "now approved: BUY 23.1315 IBM" in texts(at, "warning")
    at.run()
    assert "now approved" in texts(at, "warning")


def test_an_edit_error_stays_until_the_next_action(inbox):
    runtime, order, at = inbox
    at.number_input(key=f"qty_{order.id}").set_value(50.0)
    at.button(key=f"save_{order.id}").click().run()
    assert "can only go down" in texts(at, "error")
    at.run()
    assert "can only go down" in texts(at, "error")
    at.number_input(key=f"qty_{order.id}").set_value(11.56575)
    at.button(key=f"save_{order.id}").click().run()
    assert "can only go down" not in texts(at, "error")
    assert "Edited: now BUY 11.56575 IBM" in texts(at, "success")
    assert any("Weight: 0.0% → **10.0%**" in m.value for m in at.markdown)  # the weight follows the edit
    assert runtime.orders.get(order.id).quantity == 11.56575


def test_an_outcome_about_an_order_that_moved_on_says_what_happened_since(inbox):
    runtime, order, at = inbox  # operator A edits; operator B then approves and the venue fills it
    at.number_input(key=f"qty_{order.id}").set_value(10.0)
    at.button(key=f"save_{order.id}").click().run()
    assert "waits for approval again" in texts(at, "success") and "Since then" not in texts(at, "info")
    at.run()  # nothing happened meanwhile: no note
    assert "Since then" not in texts(at, "info")
    edited = runtime.orders.get(order.id)
    runtime.orders.approve(order.id, BOB, seen=Terms.of(edited))
    runtime.orders.submit_approved()
    at.run()  # the 5-second refresh
    assert "waits for approval again" in texts(at, "success")  # kept until dismissed (issue 13)
    note = texts(at, "info")
    assert note.startswith("Since then: approved by bob")
    assert "now filled 10 of 10 at 806.59" in note  # the paper venue's fill slips from the close
    at.button(key="dismiss_outcome").click().run()
    assert "Since then" not in texts(at, "info")


def test_one_line_per_order_with_numbers_as_stored_and_run_text_once(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    runtime.orders.propose("run-a", [ibm("a"), ibm("b", quantity=30)])
    at = page_app("approvals")
    at.run()
    labels = sorted(b.label for b in at.button if b.key and b.key.startswith("open_"))
    assert len(labels) == 2
    assert labels[0].startswith("BUY 23.1315 IBM · 18,648.38 USD · drift +0.00%")
    assert labels[1].startswith("BUY 30 IBM · 24,185.7 USD") and "checks 10/10 ✓" in labels[1]
    assert not any("e+" in label for label in labels)
    assert len(at.expander) == 1 and at.expander[0].label.startswith("Run rationale")
    assert "reference 806.19" in " ".join(c.value for c in at.caption)


def test_failing_check_and_kill_switch_disable_bulk_approve_with_the_reason(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    failing = [Check("anomaly gate", False, "critical anomaly", "no critical anomaly")]
    (bad,) = runtime.orders.propose("run-b", [ibm("x", quantity=1, checks=failing)])
    at = page_app("approvals")
    at.run()
    assert at.button(key="bulk_approve_run-b").disabled
    assert "a check fails for IBM" in texts(at, "caption")
    assert "checks FAIL: anomaly gate" in texts(at, "error")  # the summary says what the table says
    runtime.orders.reject(bad.id, ALICE, "no")
    runtime.orders.propose("run-c", [ibm("y", quantity=1)])
    runtime.orders.set_kill_switch(True, ALICE, "halt")
    at.run()
    assert at.button(key="bulk_approve_run-c").disabled
    assert "kill switch is on" in texts(at, "caption")


def test_bulk_approve_confirms_exactly_what_was_sent(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    runtime.orders.propose("run-a", [ibm("a", quantity=1), ibm("b", quantity=2)])
    at = page_app("approvals")
    at.run()
    at.button(key="bulk_approve_run-a").click().run()
    at.button(key="bulk_confirm_approve").click().run()
    assert not at.exception
    done = texts(at, "success")
    assert "Approved and sent exactly 2: " in done
    assert "BUY 2 IBM market on paper" in done and "BUY 1 IBM market on paper" in done
    assert {o.status for o in runtime.orders.list()} == {"filled"}


def test_the_navigation_count_leaves_out_expired_proposals(runtime):
    write_prices(runtime, "IBM", close=806.19)
    first, _second = runtime.orders.propose("run-a", [ibm("a"), ibm("b")])
    assert pending_count(runtime.orders) == 2
    with runtime.engine.begin() as connection:
        connection.execute(update(orders_table).where(orders_table.c.id == first.id).values(expires_at=clock.now()))
    assert pending_count(runtime.orders) == 1



def _double_click() -> None:
    """Both clicks of a double click reach the callback with the terms the button was drawn with."""
    import streamlit as st

    from components.context import console
    from components.inbox_state import outcome
    from pages.approvals import _decide
    from services.trading.terms import Terms

    (order,) = console().runtime.orders.list(status="pending_approval")
    seen = Terms.of(order)
    _decide("approve", order.id, order.run_id, seen)
    _decide("approve", order.id, order.run_id, seen)
    st.write(f"{outcome().kind}: {outcome().text}")


def test_the_second_click_of_a_double_click_keeps_the_first_outcome(runtime):
    from streamlit.testing.v1 import AppTest

    write_prices(runtime, "IBM", close=806.19)
    (order,) = runtime.orders.propose("run-a", [ibm()])
    at = AppTest.from_function(_double_click, default_timeout=30)
    at.run()
    assert not at.exception
    shown = at.markdown[0].value
    assert shown.startswith("success: Approved, sending to paper: BUY 23.1315 IBM market on paper")
    assert "a second click changed nothing" in shown
    assert [a.action for a in runtime.orders.audit(subject=order.id)].count("approve") == 1


def _with_navigation() -> None:
    """The page under a navigation title drawn as app/main.py draws it."""
    import streamlit as st

    from components.context import console
    from components.inbox_state import approvals_title
    from pages import approvals

    st.sidebar.write(approvals_title(console().runtime.orders))
    approvals.render()


def test_the_navigation_count_follows_a_decision(runtime):
    from streamlit.testing.v1 import AppTest

    write_prices(runtime, "IBM", close=806.19)
    (order,) = runtime.orders.propose("run-a", [ibm()])
    at = AppTest.from_function(_with_navigation, default_timeout=30)
    at.run()
    assert at.sidebar.markdown[0].value == "Approvals (1)"
    at.button(key=f"approve_{order.id}").click().run()
    assert at.sidebar.markdown[0].value == "Approvals"
    runtime.orders.propose("run-b", [ibm("late")])  # a new proposal while the inbox is open: the next refresh
    at.run()
    assert at.sidebar.markdown[0].value == "Approvals (1)"


def _drift_check_off(runtime) -> None:
    policy, gate = runtime.orders.policy()
    runtime.orders.set_policy(policy.model_dump(exclude_none=True), {**gate.model_dump(), "checksOff": ["price drift"]},
                              ALICE, "drift is expected today")


def test_approve_follows_the_drift_switch_of_the_gate(runtime, page_app):
    write_prices(runtime, "IBM", close=900.0)  # the re-quote is 11.6% above the proposal's 806.19
    (order,) = runtime.orders.propose("run-d", [ibm(quantity=1)])
    at = page_app("approvals")
    at.run()
    assert at.button(key=f"approve_{order.id}").disabled
    assert "price drifted" in texts(at, "caption")
    _drift_check_off(runtime)  # an admin lists "price drift" in checksOff
    at.run()
    assert not at.button(key=f"approve_{order.id}").disabled
    assert not at.button(key="bulk_approve_run-d").disabled
    at.button(key=f"approve_{order.id}").click().run()
    assert not at.exception
    assert runtime.orders.get(order.id).status == "filled"


def _open(at) -> str:
    """The heading of the order open in the detail view."""
    return " | ".join(m.value for m in at.markdown if m.value.startswith("### "))


def test_a_notification_link_opens_its_order_in_the_detail_view(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    (linked,) = runtime.orders.propose("run-a", [ibm("a", quantity=1)])
    (newest,) = runtime.orders.propose("run-b", [ibm("b", quantity=2)])  # the inbox opens the newest by default
    at = page_app("approvals")
    at.query_params["order"] = linked.id
    at.run()
    assert not at.exception
    assert _open(at) == "### BUY 1 IBM"
    assert at.button(key=f"approve_{linked.id}")  # its actions are the ones on screen
    at.run()  # the refresh keeps it open
    assert _open(at) == "### BUY 1 IBM"
    at.button(key=f"open_{newest.id}").click().run()  # the link does not pin the view
    assert _open(at) == "### BUY 2 IBM"


def test_a_link_to_an_order_no_longer_pending_says_what_became_of_it(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    (decided,) = runtime.orders.propose("run-a", [ibm("a", quantity=1)])
    runtime.orders.reject(decided.id, ALICE, "too late")
    runtime.orders.propose("run-b", [ibm("b", quantity=2)])
    at = page_app("approvals")
    at.query_params["order"] = decided.id
    at.run()
    assert not at.exception
    shown = texts(at, "warning")
    assert "no longer pending: it is rejected" in shown and "BUY 1 IBM market on paper" in shown
    assert _open(at) == "### BUY 2 IBM"  # what still waits is shown as usual
    at.run()
    assert "no longer pending: it is rejected" in texts(at, "warning")  # stays until dismissed


def test_a_link_to_an_unknown_order_says_so(inbox):
    _runtime, _order, at = inbox
    at.query_params["order"] = "no-such-order"
    at.run()
    assert not at.exception
    assert "no order no-such-order" in texts(at, "warning")
    assert _open(at) == "### BUY 23.1315 IBM"


def test_the_detail_view_reads_the_orders_context_typed(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    context = {"forecast": {"expected_return": 0.012, "lower": -0.01, "upper": 0.03, "horizon": 5,
                            "beats_naive": False},
               "anomalies": [{"time": "2026-01-02", "kind": "jump", "severity": "warning", "score": 4.2,
                              "detail": "close jumped"}],
               "weights": {"current": 0.05, "target": 0.1}, "rationale": "IBM looks cheap.\n\nMSFT stays flat."}
    runtime.orders.propose("run-a", [Proposal("c", "IBM", "buy", 1, 806.19, dataset_ref="sample/IBM/1d",
                                              checks=[Check("max order notional", True, 806.19, 1e6)],
                                              context=context)])
    at = page_app("approvals")
    at.run()
    assert not at.exception
    shown = " | ".join(m.value for m in at.markdown)
    assert "Forecast: expected return **+1.20%** over 5 bars, 90% interval [-1.00%, +3.00%]" in shown
    assert "does not beat the naive forecast" in shown and "Weight: 5.0% → **10.0%**" in shown
    assert any(list(frame.value["kind"]) == ["jump"] for frame in at.dataframe if "kind" in frame.value)
    assert "IBM looks cheap." in [t.value for t in at.text]  # this order's paragraph of the run's rationale


NEWS = {"count": 3, "mean": -0.42, "shock": False, "lookback_hours": 48.0, "as_of": "2024-03-01T00:00:00+00:00",
        "most_negative": {"title": "IBM cuts its outlook <b>sharply</b>", "score": -0.8},
        "most_positive": {"title": "IBM keeps its dividend", "score": 0.1},
        "matches": [{"kind": "lesson", "id": "l1", "title": "Rejected IBM buy after an outlook cut", "score": 0.7}]}


def test_the_detail_view_shows_the_news_line_the_lessons_and_the_tilt(runtime, page_app):
    write_prices(runtime, "IBM", close=806.19)
    order = ibm()
    context = {**order.context, "news": NEWS,
               "weights": {"current": 0.0, "target": 0.1916, "before_tilt": 0.2, "sentiment_tilt": -0.042}}
    (stored,) = runtime.orders.propose("run-a", [Proposal(**{**order.__dict__, "context": context})])
    at = page_app("approvals")
    at.run()
    at.button(key=f"open_{stored.id}").click().run()
    assert not at.exception
    shown = [t.value for t in at.text]
    assert "News: 3 news items in 48 h, sentiment -0.42: IBM cuts its outlook <b>sharply</b>" in shown  # as text
    assert "Matched lesson: Rejected IBM buy after an outlook cut" in shown
    assert "Sentiment tilt -4.2%: target weight 20.0% → 19.2%" in shown


def test_an_order_from_before_the_context_step_shows_no_news_section(inbox):
    _runtime, order, at = inbox
    at.button(key=f"open_{order.id}").click().run()
    assert not any(t.value.startswith(("News:", "Sentiment")) for t in at.text)
