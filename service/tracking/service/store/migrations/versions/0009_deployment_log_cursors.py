"""where deployment-wide log streams stood, for resume tokens of a bounded size

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import tracking.service.store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployment_log_cursors",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "seqs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "create_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("deployment_log_cursors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_log_cursors_create_time"), ["create_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deployment_log_cursors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_log_cursors_create_time"))
    op.drop_table("deployment_log_cursors")
