"""Leases in the records database: one holder at a time for a named chore, shared by every replica.

A lease is a row (name, holder, expires_at). Taking it is one compare-and-set: free (expired) or already
ours. A holder that dies simply stops renewing, and the next taker after ``expires_at`` gets it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from services.core import clock
from services.core.records import leases

#: who this process is when it holds a lease
PROCESS_HOLDER = uuid.uuid4().hex


def take(engine: Engine, name: str, ttl_s: float, holder: str = PROCESS_HOLDER) -> bool:
    """Take or renew lease ``name`` for ``ttl_s`` seconds; False when another holder has it now."""
    now = clock.now()
    until = now + timedelta(seconds=ttl_s)
    with engine.begin() as connection:
        renewed = connection.execute(
            update(leases)
            .where(leases.c.name == name, (leases.c.holder == holder) | (leases.c.expires_at < now))
            .values(holder=holder, expires_at=until)
        ).rowcount
    if renewed:
        return True
    try:
        with engine.begin() as connection:
            connection.execute(insert(leases).values(name=name, holder=holder, expires_at=until))
    except IntegrityError:
        return False  # the row exists and is another holder's, unexpired
    return True
