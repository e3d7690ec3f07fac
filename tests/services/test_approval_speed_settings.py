"""What keeps approve → submitted fast: SQLite commits without fsync under WAL, one venue account read per second."""

from __future__ import annotations

from sqlalchemy import text

from services.core.db import make_engine
from services.trading.book import RecentAccount


class CountingVenue:
    """Answers account() and counts the reads."""

    def __init__(self):
        self.reads = 0

    def account(self) -> str:
        self.reads += 1
        return f"account {self.reads}"


def test_sqlite_runs_wal_with_synchronous_normal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    engine.dispose()


def test_the_account_is_read_once_per_period_and_again_after_it():
    venue = CountingVenue()
    recent = RecentAccount(venue, ttl_s=3600)
    assert recent() == recent() == "account 1" and venue.reads == 1
    always = RecentAccount(venue, ttl_s=0)
    assert always() == "account 2" and always() == "account 3"
