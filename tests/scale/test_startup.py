"""Replicas starting together on one empty PostgreSQL database: migrations and checkpoint tables set up once."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.support.replicas import start_together


def test_replicas_starting_together_on_an_empty_database_all_come_up(pg_url):
    finished = start_together([["migrate", pg_url]] * 4)

    assert [f.code for f in finished] == [0] * 4, "\n".join(f.output[-1500:] for f in finished if f.code)
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        tables = connection.execute(text("SELECT count(*) FROM pg_tables WHERE tablename = 'graph_runs'")).scalar()
    engine.dispose()
    assert len(versions) == 1 and tables == 1


def test_workers_opening_their_first_checkpointer_together_all_succeed(pg_url):
    finished = start_together([["checkpointer", pg_url]] * 4)

    assert [f.code for f in finished] == [0] * 4, "\n".join(f.output[-1500:] for f in finished if f.code)
    engine = create_engine(pg_url)
    with engine.connect() as connection:
        migrations = connection.execute(text("SELECT count(DISTINCT v) FROM checkpoint_migrations")).scalar()
    engine.dispose()
    assert migrations > 0
