"""Notifications to approvers through apprise to a local webhook receiver: one message per event (several workers
too), the order's terms and a deep link, never a secret, retried with backoff, test message from Settings."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.core import clock
from services.core.auth import Actor, local_operator
from services.core.errors import PermissionDenied
from services.notifications.outbox import Notifier, backoff_s
from tests.fakes.webhook import FakeWebhook
from tests.support.orders import proposal, write_prices

ADMIN = local_operator("admin")
SECRET = "xai-dummy-SECRET-4242"


@pytest.fixture
def webhook():
    with FakeWebhook() as fake:
        yield fake


@pytest.fixture
def notified(make_runtime, webhook):
    runtime = make_runtime(notify_urls=webhook.apprise_url, console_url="https://console.example.com",
                           xai_api_key=SECRET)
    write_prices(runtime)
    return runtime


def test_waiting_proposals_give_one_message_with_terms_and_deep_links(notified, webhook):
    created = notified.orders.propose("run-1", [proposal("p1"), proposal("p2", quantity=3, side="sell")])
    assert notified.notifications.run_once() == {"queued": 1, "delivered": 1}
    assert notified.notifications.run_once() == {"queued": 0, "delivered": 0}
    [message] = webhook.messages
    assert message["title"] == "2 order(s) wait for approval"
    assert "BUY 10 TEST (market), notional $1,000.00" in message["message"]
    for order in created:
        assert f"https://console.example.com/approvals?order={order.id}" in message["message"]


def test_several_workers_send_each_event_once(notified, webhook):
    notified.orders.propose("run-2", [proposal("p1")])
    workers = [Notifier(notified.engine, notified.settings, notified.orders) for _ in range(4)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in workers:
        worker.run_once()
    assert len(webhook.messages) == 1


def test_about_to_expire_failed_and_kill_switch(make_runtime, webhook):
    runtime = make_runtime(notify_urls=webhook.apprise_url, notify_expiry_warning_minutes=10_000,
                           xai_api_key=SECRET)
    write_prices(runtime)
    [order] = runtime.orders.propose("run-3", [proposal("p1")])
    runtime.notifications.run_once()
    titles = [m["title"] for m in webhook.messages]
    assert "1 order(s) wait for approval" in titles
    assert any(t.startswith("Expires in") and "BUY 10 TEST" in t for t in titles)
    moved = runtime.orders._move(order, "cancelled", "system", "cancel", "test")
    assert moved.status == "cancelled"
    [other] = runtime.orders.propose("run-4", [proposal("p9")])
    approved = runtime.orders._move(other, "approved", "alice", "approve", "ok")
    sending = runtime.orders._move(approved, "submitting", "executor", "submit", "send")
    runtime.orders._move(sending, "failed", "executor", "fail", "venue refused: insufficient buying power")
    runtime.orders.set_kill_switch(True, ADMIN, f"halt now (key {SECRET})")
    webhook.messages.clear()
    runtime.notifications.run_once()
    titles = {m["title"] for m in webhook.messages}
    assert "Kill switch ON" in titles and any(t.startswith("Order failed: BUY 10 TEST") for t in titles)
    failed = next(m for m in webhook.messages if m["title"].startswith("Order failed"))
    assert "insufficient buying power" in failed["message"] and f"/orders?order={other.id}" in failed["message"]
    everything = repr(webhook.messages)
    assert SECRET not in everything and webhook.apprise_url not in everything and "***" in everything


def test_a_refused_message_is_retried_with_backoff(notified, webhook, monkeypatch):
    notified.orders.propose("run-5", [proposal("p1")])
    webhook.fail_next(1, status=500)
    assert notified.notifications.run_once() == {"queued": 1, "delivered": 0}
    [status] = notified.notifications.status()
    assert status.configured and status.last_delivery is None and status.waiting == 1
    assert "attempt 1" in status.last_error and webhook.apprise_url not in status.last_error
    assert notified.notifications.deliver() == 0  # not due before its backoff
    later = clock.now() + timedelta(seconds=backoff_s(1) + 1)
    monkeypatch.setattr("services.notifications.outbox.clock.now", lambda: later)
    assert notified.notifications.deliver() == 1
    [status] = notified.notifications.status()
    assert status.last_delivery == later and status.waiting == 0
    assert [backoff_s(n) for n in (1, 2, 3)] == [30, 60, 120] and backoff_s(30) == 3600


def test_a_down_channel_never_blocks_an_approval(make_runtime):
    runtime = make_runtime(notify_urls="json://127.0.0.1:9/hook")  # nothing listens on port 9
    write_prices(runtime)
    [order] = runtime.orders.propose("run-6", [proposal("p1")])
    assert runtime.notifications.run_once()["delivered"] == 0
    assert runtime.orders.approve(order.id, local_operator("alice")).status in ("approved", "filled", "submitted")


def test_send_a_test_message_from_settings(notified, webhook):
    with pytest.raises(PermissionDenied):
        notified.notifications.send_test(Actor("vera", frozenset({"viewer"})))
    [status] = notified.notifications.send_test(ADMIN)
    assert webhook.messages[-1]["title"] == "Trade Nexus test message"
    assert status.name.startswith("JSON") and status.last_delivery is not None and status.last_error is None


def test_no_channel_configured(runtime):
    assert runtime.notifications.status() == []
    assert runtime.notifications.run_once() == {"queued": 0, "delivered": 0}
    with pytest.raises(Exception, match="NOTIFY_URLS"):
        runtime.notifications.send_test(ADMIN)


def test_an_invalid_url_is_shown_as_not_configured(make_runtime):
    runtime = make_runtime(notify_urls="nonsense://x")
    [status] = runtime.notifications.status()
    assert not status.configured and "NOTIFY_URLS" in status.last_error


def test_an_error_is_history_once_a_later_message_is_delivered(notified, webhook):
    notified.orders.propose("run-7", [proposal("p1")])
    webhook.fail_next(1, status=500)
    notified.notifications.run_once()
    assert notified.notifications.status()[0].last_error
    [status] = notified.notifications.send_test(ADMIN)
    assert status.last_error is None and status.waiting == 1  # the refused one still waits for its retry
