"""each execution keeps the W3C trace context (traceparent) its creator sent

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Executions made before have none: "" is what their stored messages already show, so
    # the stored messages stay as they are.
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trace_parent", sa.String(length=55), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("trace_parent")
