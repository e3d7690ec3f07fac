"""Alembic environment: migrates the connection handed over by services.core.db.ensure_schema."""

from alembic import context

import services.core.records  # noqa: F401  (registers the tables)
from services.core.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    from services.core.config import get_settings
    from services.core.db import make_engine

    connection = make_engine(get_settings().records_url).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
