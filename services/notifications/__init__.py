"""Notifications to approvers: proposals waiting, one about to expire, an order failed, the kill switch changed.

Events are read from the audit log (and the pending orders) by the worker, written to an outbox once per event
and channel, and delivered through apprise with retries; nothing here runs inside a decision.
"""
