"""deployment events: deployments' creations, updates and deletions; subscriptions' cursors

Each subscription keeps a cursor into them beside its cursor into execution events.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracking.service.store.types import JsonDocument, UtcDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("deployment_name", sa.String(length=63), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("deployment", JsonDocument, nullable=False),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_deployment_events_create_time", "deployment_events", ["create_time"])
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(
            sa.Column("deployment_cursor", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("deployment_cursor")
    op.drop_index("ix_deployment_events_create_time", table_name="deployment_events")
    op.drop_table("deployment_events")
