"""deployment log cursors as chains of saved positions

Each saved position holds the seqs that moved since its parent, or every seq at a chain's
root. Rows saved before are roots (no parent).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployment_log_cursors") as batch:
        batch.add_column(sa.Column("parent_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("root_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_deployment_log_cursors_root_id", ["root_id"])


def downgrade() -> None:
    # A link alone is not a position: only the roots stay.
    op.execute("DELETE FROM deployment_log_cursors WHERE parent_id IS NOT NULL")
    with op.batch_alter_table("deployment_log_cursors") as batch:
        batch.drop_index("ix_deployment_log_cursors_root_id")
        batch.drop_column("root_id")
        batch.drop_column("parent_id")
