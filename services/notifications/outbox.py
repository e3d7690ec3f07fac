"""The notification outbox: events found in the audit log become one row per event and channel (a unique key, so
several workers add each once), and each row is claimed by compare-and-set before it is sent, so one message
goes out per event. Failed sends are retried with exponential backoff; none of it blocks an approval.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import apprise
from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from services.core import clock
from services.core.auth import Actor
from services.core.config import Settings
from services.core.errors import BadInput
from services.core.records import audit_log, notification_cursor, notification_outbox, orders
from services.core.redaction import redact, redactor
from services.trading.orders import Order, Orders

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 30.0
MAX_BACKOFF_S = 3600.0
#: a claim older than this belongs to a worker that died mid-send: the row may be claimed again
STALE_CLAIM_S = 300.0
#: failures and kill-switch changes older than this are history, not news (a first start does not replay them)
RECENT = timedelta(hours=24)
_SPLIT = re.compile(r"[\s,]+")

Send = Callable[[str, str, str], bool]  # (url, title, body) -> delivered


@dataclass(frozen=True)
class Channel:
    """A configured destination. ``id`` is stable (a hash of the URL); the URL itself is never shown."""

    id: str
    name: str
    url: str
    valid: bool


@dataclass(frozen=True)
class ChannelStatus:
    """What Settings shows of a channel."""

    id: str
    name: str
    configured: bool
    last_delivery: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    waiting: int


def channels_from(settings: Settings) -> list[Channel]:
    """The channels NOTIFY_URLS lists (apprise URLs: slack://, msteams://, tgram://, mailto://, json://, …)."""
    text = settings.notify_urls.get_secret_value() if settings.notify_urls else ""
    found = []
    for index, url in enumerate((u for u in _SPLIT.split(text) if u), 1):
        plugin = apprise.Apprise.instantiate(url)
        name = f"{getattr(plugin, 'service_name', None) or 'unknown'} #{index}" if plugin else f"invalid URL #{index}"
        digest = uuid.uuid5(uuid.NAMESPACE_URL, url).hex[:16]
        found.append(Channel(digest, name, url, plugin is not None))
    return found


def apprise_send(url: str, title: str, body: str) -> bool:
    """Deliver one message through apprise; False when the channel refused it or did not answer."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return False
    return bool(sender.notify(title=title, body=body))


def backoff_s(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 30 s doubling, at most an hour."""
    return min(BASE_BACKOFF_S * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S)


def _terms(order: Order) -> str:
    price = f" limit {order.limit_price:g}" if order.limit_price else ""
    return (f"{order.side.upper()} {order.quantity:g} {order.symbol} ({order.order_type}{price}), "
            f"notional ${order.notional:,.2f}, source {order.source}")


class Notifier:
    """Finds events, keeps the outbox and delivers it."""

    def __init__(self, engine: Engine, settings: Settings, orders_book: Orders, send: Send = apprise_send):
        self.engine = engine
        self.settings = settings
        self.orders = orders_book
        self.send = send
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self._redact = redactor(settings)
        self._lock = threading.Lock()

    # --- channels -------------------------------------------------------------------------------------------
    def channels(self) -> list[Channel]:
        """The configured channels."""
        return channels_from(self.settings)

    def _link(self, page: str, order_id: str | None = None) -> str:
        base = self.settings.console_url.rstrip("/")
        return f"{base}/{page}" + (f"?order={order_id}" if order_id else "")

    def _clean(self, text: str) -> str:
        """No secret leaves in a message: the settings' secrets and every channel URL are blanked."""
        return redact(self._redact(text), [c.url for c in self.channels()])

    # --- events -> outbox -----------------------------------------------------------------------------------
    def collect(self) -> int:
        """Turn new audit rows and soon-expiring proposals into outbox rows; return how many rows were added."""
        channels = [c for c in self.channels() if c.valid]
        if not channels:
            return 0
        with self.engine.connect() as connection:
            cursor = connection.execute(select(notification_cursor.c.last_audit_id).where(
                notification_cursor.c.id == 1)).scalar() or 0
            rows = list(connection.execute(select(audit_log).where(audit_log.c.id > cursor).order_by(
                audit_log.c.id).limit(2000)))
        events = self._events(rows) + self._expiring()
        added = sum(self._add(event_key, kind, title, body, channels) for event_key, kind, title, body in events)
        if rows:
            self._advance(cursor, rows[-1].id)
        return added

    def _events(self, rows: list) -> list[tuple[str, str, str, str]]:
        recent = clock.now() - RECENT
        events, waiting_runs = [], []
        for row in rows:
            if row.action == "proposed" and row.run_id not in waiting_runs:
                waiting_runs.append(row.run_id)
            elif row.to_status == "failed" and row.at >= recent:
                order = self.orders.get(row.subject)
                events.append((f"failed:{order.id}", "failed", f"Order failed: {_terms(order)}",
                               f"{_terms(order)}\nWhy: {row.reason or order.last_error or 'see the audit trail'}\n"
                               f"Open it: {self._link('orders', order.id)}"))
            elif row.subject == "risk-policy" and row.action == "policy_change" and row.at >= recent:
                before = (row.details or {}).get("before", {}).get("policy", {}).get("killSwitch", {})
                after = (row.details or {}).get("after", {}).get("policy", {}).get("killSwitch", {})
                if bool(before.get("triggered")) != bool(after.get("triggered")):
                    state = "ON: every submission is halted" if after.get("triggered") else "OFF: submissions resume"
                    events.append((f"killswitch:{row.id}", "kill_switch", f"Kill switch {state.split(':')[0]}",
                                   f"Kill switch {state}.\nBy {row.actor}: {row.reason}\n"
                                   f"Open: {self._link('orders')}"))
        for run_id in waiting_runs:
            pending = self.orders.list(status="pending_approval", run_id=run_id)
            if pending:
                lines = "\n".join(f"- {_terms(o)}; checks {'pass' if o.checks_pass else 'FAIL'}; expires "
                                  f"{o.expires_at:%Y-%m-%d %H:%M} UTC; {self._link('approvals', o.id)}"
                                  for o in reversed(pending))
                events.append((f"waiting:{run_id}", "waiting", f"{len(pending)} order(s) wait for approval",
                               f"Run {run_id} proposed {len(pending)} order(s):\n{lines}"))
        return events

    def _expiring(self) -> list[tuple[str, str, str, str]]:
        now = clock.now()
        soon = now + timedelta(minutes=self.settings.notify_expiry_warning_minutes)
        with self.engine.connect() as connection:
            ids = [r.id for r in connection.execute(select(orders.c.id).where(
                orders.c.status == "pending_approval", orders.c.expires_at > now, orders.c.expires_at <= soon))]
        events = []
        for order in (self.orders.get(i) for i in ids):
            minutes = max(order.seconds_left, 0) / 60
            events.append((f"expiring:{order.id}", "expiring", f"Expires in {minutes:.0f} min: {_terms(order)}",
                           f"{_terms(order)} expires at {order.expires_at:%H:%M} UTC without a decision.\n"
                           f"Decide: {self._link('approvals', order.id)}"))
        return events

    def _insert_ignoring_duplicates(self, values: list[dict]) -> int:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(notification_outbox).values(values).on_conflict_do_nothing(
            index_elements=["event_key", "channel"])
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount or 0

    def _add(self, event_key: str, kind: str, title: str, body: str, channels: list[Channel]) -> int:
        now = clock.now()
        return self._insert_ignoring_duplicates([{
            "event_key": event_key[:200], "channel": c.id, "kind": kind, "title": self._clean(title)[:250],
            "body": self._clean(body), "status": "pending", "attempts": 0, "next_attempt_at": now,
            "created_at": now} for c in channels])

    def _advance(self, seen: int, last: int) -> None:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as connection:
            connection.execute(dialect.insert(notification_cursor).values(id=1, last_audit_id=0)
                               .on_conflict_do_nothing(index_elements=["id"]))
            connection.execute(update(notification_cursor).where(
                notification_cursor.c.id == 1, notification_cursor.c.last_audit_id < last).values(last_audit_id=last))

    # --- delivery -------------------------------------------------------------------------------------------
    def deliver(self, limit: int = 100, only: set[int] | None = None) -> int:
        """Claim due rows (compare-and-set) and send them; return how many were delivered."""
        now = clock.now()
        by_id = {c.id: c for c in self.channels()}
        due = select(notification_outbox).where(or_(
            and_(notification_outbox.c.status == "pending", notification_outbox.c.next_attempt_at <= now),
            and_(notification_outbox.c.status == "sending",
                 notification_outbox.c.claimed_at < now - timedelta(seconds=STALE_CLAIM_S)),
        )).order_by(notification_outbox.c.id).limit(limit)
        if only is not None:
            due = due.where(notification_outbox.c.id.in_(only))
        with self.engine.connect() as connection:
            rows = list(connection.execute(due))
        delivered = 0
        for row in rows:
            channel = by_id.get(row.channel)
            if not self._claim(row):
                continue  # another worker has it
            if channel is None:
                self._finish(row, ok=False, error="the channel is no longer configured", final=True)
                continue
            try:
                ok = self.send(channel.url, row.title, row.body)
            except Exception:  # a channel must never stop the others
                log.exception("notification to %s failed", channel.name)
                ok = False
            self._finish(row, ok, None if ok else "the channel refused the message or did not answer")
            delivered += ok
        return delivered

    def _claim(self, row) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(update(notification_outbox).where(
                notification_outbox.c.id == row.id, notification_outbox.c.status == row.status,
                notification_outbox.c.attempts == row.attempts).values(
                status="sending", attempts=row.attempts + 1, claimed_by=self.worker,
                claimed_at=clock.now())).rowcount == 1

    def _finish(self, row, ok: bool, error: str | None, final: bool = False) -> None:
        attempts = row.attempts + 1
        now = clock.now()
        if ok:
            values = {"status": "sent", "sent_at": now, "last_error": None}
        elif final or attempts >= MAX_ATTEMPTS:
            values = {"status": "dead", "last_error": f"{error}; gave up after {attempts} attempt(s)"}
        else:
            retry = now + timedelta(seconds=backoff_s(attempts))
            values = {"status": "pending", "next_attempt_at": retry,
                      "last_error": f"{error} (attempt {attempts}; next try {retry:%H:%M:%S} UTC)"}
        with self.engine.begin() as connection:
            connection.execute(update(notification_outbox).where(
                notification_outbox.c.id == row.id, notification_outbox.c.claimed_by == self.worker).values(**values))

    def run_once(self) -> dict:
        """The worker's upkeep step: collect new events, then deliver what is due."""
        with self._lock:
            return {"queued": self.collect(), "delivered": self.deliver()}

    # --- Settings -------------------------------------------------------------------------------------------
    def status(self) -> list[ChannelStatus]:
        """Each channel: configured, last delivery, last error and how many messages wait."""
        out = []
        with self.engine.connect() as connection:
            for channel in self.channels():
                c = notification_outbox.c
                last_sent = connection.execute(select(func.max(c.sent_at)).where(
                    c.channel == channel.id, c.status == "sent")).scalar()
                failing = connection.execute(select(c.last_error, c.claimed_at).where(
                    c.channel == channel.id, c.last_error.is_not(None)).order_by(c.claimed_at.desc()).limit(1)).first()
                if failing is not None and last_sent is not None and last_sent > failing.claimed_at:
                    failing = None  # a delivery since: the error is history
                waiting = connection.execute(select(func.count()).where(
                    c.channel == channel.id, c.status.in_(["pending", "sending"]))).scalar()
                error = failing.last_error if failing else None
                if not channel.valid:
                    error = "apprise does not recognise this URL: check NOTIFY_URLS"
                out.append(ChannelStatus(channel.id, channel.name, channel.valid, last_sent, error,
                                         failing.claimed_at if failing else None, waiting or 0))
        return out

    def send_test(self, actor: Actor) -> list[ChannelStatus]:
        """Send a test message to every channel now (admins); the outcome shows in ``status``."""
        actor.require("admin", "send test notifications")
        channels = [c for c in self.channels() if c.valid]
        if not channels:
            raise BadInput("no notification channel is configured: set NOTIFY_URLS (apprise URLs)")
        key = f"test:{uuid.uuid4().hex[:12]}"
        self._add(key, "test", "Trade Nexus test message",
                  f"A test message sent by {actor.name} from Settings. The inbox: {self._link('approvals')}",
                  channels)
        with self.engine.connect() as connection:
            ids = {r.id for r in connection.execute(select(notification_outbox.c.id).where(
                notification_outbox.c.event_key == key))}
        self.deliver(only=ids)
        return self.status()
