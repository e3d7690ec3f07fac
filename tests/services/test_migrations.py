"""The Alembic migrations are one chain and build exactly the tables that services.core.records declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from services.core.db import MIGRATIONS, _alembic_config, ensure_schema, make_engine
from services.core.records import metadata


def test_the_migrations_form_one_chain():
    script = ScriptDirectory.from_config(_alembic_config(None))
    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()} (re-chain down_revision)"
    assert len(list(script.walk_revisions())) == len(list((MIGRATIONS / "versions").glob("*.py")))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migrated_schema_is_the_declared_one(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/m.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    ensure_schema(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
        declared = set(metadata.tables)
        present = set(inspect(connection).get_table_names()) - {"alembic_version"}
    engine.dispose()
    # tables made by other libraries (checkpointers, vector indexes) may exist; every declared one must
    assert declared <= present, f"declared but not migrated: {declared - present}"
    missing = [change for change in diff if change[0] != "remove_table"]
    assert not missing, f"records.py and the migrations disagree: {missing}"
