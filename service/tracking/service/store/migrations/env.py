"""Alembic environment: always run on the connection the server hands in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import tracking.service.store.models  # noqa: F401  (registers the tables)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through tracking.service.store.migrations.upgrade()")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
