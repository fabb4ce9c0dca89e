"""subscriptions to the events (webhooks, NATS) and their delivery attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tracking.service.store.types import JsonDocument, UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("subscription_id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("signing_secret", sa.String(length=64), nullable=False),
        sa.Column("deployment_names", JsonDocument, nullable=False),
        sa.Column("kinds", JsonDocument, nullable=False),
        sa.Column("statuses", JsonDocument, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=False),
        sa.Column("last_error_time", UtcDateTime(), nullable=True),
        sa.Column("failing_since", UtcDateTime(), nullable=True),
        sa.Column("last_delivery_time", UtcDateTime(), nullable=True),
        sa.Column("create_time", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True, unique=True),
        sa.Column("lease_owner", sa.String(length=32), nullable=False),
        sa.Column("lease_expire_time", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "subscription_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("execution_id", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("attempt_time", UtcDateTime(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("latency_seconds", sa.Float(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_subscription_deliveries_subscription_id",
        "subscription_deliveries",
        ["subscription_id", "id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_subscription_deliveries_subscription_id", table_name="subscription_deliveries"
    )
    op.drop_table("subscription_deliveries")
    op.drop_table("subscriptions")
