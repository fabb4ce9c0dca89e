"""metric rollups: each series summarized per bucket of 16, 256, 4096 and 65536 steps

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import tracking.service.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_rollups",
        sa.Column("execution_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("min_value", sa.Double(), nullable=True),
        sa.Column("max_value", sa.Double(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=True),
        sa.Column(
            "last_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["executions.execution_id"]),
        sa.PrimaryKeyConstraint("execution_id", "name", "level", "bucket"),
        sqlite_with_rowid=False,
    )
    # Series written before this version: summarized from their points, level by level.
    for level in (4, 8, 12, 16):
        op.execute(
            f"""
            INSERT INTO metric_rollups (execution_id, name, level, bucket, count, first_step,
                min_value, max_value, last_step, last_seq, last_value, last_time, max_seq)
            SELECT g.execution_id, g.name, {level}, g.bucket, g.count, g.first_step,
                g.min_value, g.max_value, p.step, p.seq, p.value, p.time, g.max_seq
            FROM (
                SELECT execution_id, name, step / {1 << level} AS bucket, count(*) AS count,
                    min(step) AS first_step, min(value) AS min_value, max(value) AS max_value,
                    max(seq) AS max_seq
                FROM metric_points GROUP BY execution_id, name, step / {1 << level}
            ) g JOIN metric_points p ON p.execution_id = g.execution_id AND p.seq = (
                SELECT q.seq FROM metric_points q
                WHERE q.execution_id = g.execution_id AND q.name = g.name
                  AND q.step / {1 << level} = g.bucket
                ORDER BY q.step DESC, q.seq DESC LIMIT 1)
            """
        )


def downgrade() -> None:
    op.drop_table("metric_rollups")
