"""each execution's Execution message, stored as bytes with the revision it shows

Revision ID: 0005
Revises: 0004_reported_duration
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004_reported_duration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before have no message: they are converted from their columns when read.
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("message_revision", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("message_revision")
        batch_op.drop_column("message")
