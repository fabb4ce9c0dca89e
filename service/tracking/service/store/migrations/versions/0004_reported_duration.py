"""times a platform reported for an execution: its duration and its creation time

Revision ID: 0004_reported_duration
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tracking.service.store.types

revision: str = "0004_reported_duration"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reported_duration_seconds", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "reported_create_time",
                tracking.service.store.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("reported_create_time")
        batch_op.drop_column("reported_duration_seconds")
