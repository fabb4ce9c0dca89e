"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 09:26:17.597475
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import tracking.service.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("pipeline_name", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("execution_rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("schedule", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column(
            "inputs_mapping",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "outputs_mapping",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "pods",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("endpoint_token", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "create_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "update_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("last_execution_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployments_execution_rule"), ["execution_rule"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deployments_is_enabled"), ["is_enabled"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployments_mode"), ["mode"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deployments_pipeline_name"), ["pipeline_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_deployments_status"), ["status"], unique=False)

    op.create_table(
        "execution_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("execution_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("deployment_name", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("changes", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "job_status",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "create_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("execution_id", "revision", name="uq_execution_events_revision"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("execution_events", schema=None) as batch_op:
        batch_op.create_index("ix_execution_events_create_time", ["create_time"], unique=False)
        batch_op.create_index(
            "ix_execution_events_deployment_id", ["deployment_name", "id"], unique=False
        )

    op.create_table(
        "service_meta",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "deployment_labels",
        sa.Column("deployment_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_name"],
            ["deployments.name"],
        ),
        sa.PrimaryKeyConstraint("deployment_name", "key"),
    )
    with op.batch_alter_table("deployment_labels", schema=None) as batch_op:
        batch_op.create_index("ix_deployment_labels_key_value", ["key", "value"], unique=False)

    op.create_table(
        "executions",
        sa.Column("execution_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("deployment_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("pipeline_name", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("job_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("job_type", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("experiment_name", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("model_run_id", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stop_message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "create_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "start_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "end_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "update_time", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("log_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "export_paths",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "source_views",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("request_fingerprint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_name"],
            ["deployments.name"],
        ),
        sa.PrimaryKeyConstraint("execution_id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_executions_create_time_id", ["create_time", "execution_id"], unique=False
        )
        batch_op.create_index(
            "ix_executions_deployment_create_time", ["deployment_name", "create_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_executions_experiment_name"), ["experiment_name"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_executions_job_type"), ["job_type"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_executions_model_run_id"), ["model_run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_executions_pipeline_name"), ["pipeline_name"], unique=False
        )
        batch_op.create_index(
            "ix_executions_status_create_time", ["status", "create_time"], unique=False
        )

    op.create_table(
        "execution_labels",
        sa.Column("execution_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.execution_id"],
        ),
        sa.PrimaryKeyConstraint("execution_id", "key"),
    )
    with op.batch_alter_table("execution_labels", schema=None) as batch_op:
        batch_op.create_index("ix_execution_labels_key_value", ["key", "value"], unique=False)

    op.create_table(
        "log_lines",
        sa.Column("execution_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "timestamp", tracking.service.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("stream", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("step_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.execution_id"],
        ),
        sa.PrimaryKeyConstraint("execution_id", "seq"),
    )
    with op.batch_alter_table("log_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_log_lines_execution_timestamp", ["execution_id", "timestamp"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("log_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_log_lines_execution_timestamp")

    op.drop_table("log_lines")
    with op.batch_alter_table("execution_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_labels_key_value")

    op.drop_table("execution_labels")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_status_create_time")
        batch_op.drop_index(batch_op.f("ix_executions_pipeline_name"))
        batch_op.drop_index(batch_op.f("ix_executions_model_run_id"))
        batch_op.drop_index(batch_op.f("ix_executions_job_type"))
        batch_op.drop_index(batch_op.f("ix_executions_experiment_name"))
        batch_op.drop_index("ix_executions_deployment_create_time")
        batch_op.drop_index("ix_executions_create_time_id")

    op.drop_table("executions")
    with op.batch_alter_table("deployment_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_labels_key_value")

    op.drop_table("deployment_labels")
    op.drop_table("service_meta")
    with op.batch_alter_table("execution_events", schema=None) as batch_op:
        batch_op.drop_index("ix_execution_events_deployment_id")
        batch_op.drop_index("ix_execution_events_create_time")

    op.drop_table("execution_events")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_status"))
        batch_op.drop_index(batch_op.f("ix_deployments_pipeline_name"))
        batch_op.drop_index(batch_op.f("ix_deployments_mode"))
        batch_op.drop_index(batch_op.f("ix_deployments_is_enabled"))
        batch_op.drop_index(batch_op.f("ix_deployments_execution_rule"))

    op.drop_table("deployments")
