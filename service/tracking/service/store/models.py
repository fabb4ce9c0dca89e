"""The tables. Enumerations are stored by name ("RUNNING"), times as aware UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Double, Index, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from tracking.service.store.types import JsonDocument, UtcDateTime


def _time(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JsonDocument, nullable=False))


class DeploymentRow(SQLModel, table=True):
    __tablename__ = "deployments"

    name: str = Field(primary_key=True, max_length=63)
    pipeline_name: str = Field(index=True, max_length=256)
    description: str = ""
    execution_rule: str = Field(index=True, max_length=16)
    mode: str = Field(index=True, max_length=16)
    schedule: str = Field(default="", max_length=256)
    inputs_mapping: list[dict[str, Any]] = _json(list)
    outputs_mapping: list[dict[str, Any]] = _json(list)
    status: str = Field(index=True, max_length=16)
    is_enabled: bool = Field(default=True, index=True)
    pods: list[dict[str, Any]] = _json(list)
    labels: dict[str, str] = _json(dict)
    endpoint_token: str = ""
    create_time: datetime = _time()
    created_by: str = ""
    update_time: datetime = _time()
    updated_by: str = ""
    last_execution_id: str = ""


class DeploymentLabelRow(SQLModel, table=True):
    """One label of a deployment, so label filters use an index."""

    __tablename__ = "deployment_labels"
    __table_args__ = (Index("ix_deployment_labels_key_value", "key", "value"),)

    deployment_name: str = Field(primary_key=True, foreign_key="deployments.name")
    key: str = Field(primary_key=True, max_length=63)
    value: str = Field(max_length=255)


class ExecutionRow(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_create_time_id", "create_time", "execution_id"),
        Index("ix_executions_deployment_create_time", "deployment_name", "create_time"),
        Index("ix_executions_status_create_time", "status", "create_time"),
    )

    execution_id: str = Field(primary_key=True, max_length=128)
    deployment_name: str | None = Field(default=None, foreign_key="deployments.name")
    pipeline_name: str = Field(default="", index=True, max_length=256)
    job_name: str = ""
    job_type: str = Field(default="UNSPECIFIED", index=True, max_length=24)
    experiment_name: str = Field(default="", index=True, max_length=256)
    model_run_id: str = Field(default="", index=True, max_length=256)
    status: str = Field(max_length=24)
    progress: float = 0.0
    phase: str = ""
    stop_message: str = ""
    cancel_reason: str = ""
    create_time: datetime = _time()
    start_time: datetime | None = _time(nullable=True)
    end_time: datetime | None = _time(nullable=True)
    # The duration the platform reported (UpdateJobStatus times); JobStatus shows it as is.
    reported_duration_seconds: float | None = None
    # The creation time a platform reported (shown); create_time stays the server's, the
    # key lists are ordered and paged by.
    reported_create_time: datetime | None = _time(nullable=True)
    update_time: datetime = _time()
    revision: int = Field(default=0, sa_type=BigInteger)
    log_seq: int = Field(default=0, sa_type=BigInteger)
    # Retention removed this execution's events up to this revision, and its lines up to this seq.
    pruned_revision: int = Field(default=0, sa_type=BigInteger)
    pruned_log_seq: int = Field(default=0, sa_type=BigInteger)
    # The seq of its last metric point, and how far retention removed them.
    metric_seq: int = Field(default=0, sa_type=BigInteger)
    pruned_metric_seq: int = Field(default=0, sa_type=BigInteger)
    steps: list[dict[str, Any]] = _json(list)
    inputs: list[dict[str, Any]] = _json(list)
    outputs: list[dict[str, Any]] = _json(list)
    result: dict[str, Any] = _json(dict)
    export_paths: dict[str, str] = _json(dict)
    source_views: dict[str, str] = _json(dict)
    labels: dict[str, str] = _json(dict)
    created_by: str = ""
    command: list[str] = _json(list)
    # The W3C traceparent its creator sent (or the server's span of its creation when
    # tracing): handed to `tracking run`'s command as TRACEPARENT, and to its events.
    trace_parent: str = Field(default="", max_length=55)
    # The lease (domain/leases.py): 0 means none; lapsed_from is the status an execution had
    # when the server marked it UNKNOWN, so that the worker's next report restores it.
    heartbeat_timeout_seconds: float = 0.0
    last_heartbeat_time: datetime | None = _time(nullable=True)
    lease_expire_time: datetime | None = _time(nullable=True, index=True)
    lapsed_from: str = Field(default="", max_length=24)
    request_id: str | None = Field(default=None, unique=True, max_length=128)
    request_fingerprint: str = ""
    # The Execution message as of revision `message_revision`, serialized
    # (api/stored_executions.py): reads answer from it without converting the columns. A row
    # whose revision moved on without it (written by an older version) is converted instead.
    # A change to what the message shows must clear this column in its migration, so that
    # finished executions, which never change again, are converted anew.
    message: bytes | None = Field(default=None, sa_type=LargeBinary)
    message_revision: int | None = Field(default=None, sa_type=BigInteger)


class ExecutionLabelRow(SQLModel, table=True):
    """One label of an execution, so label filters use an index."""

    __tablename__ = "execution_labels"
    __table_args__ = (Index("ix_execution_labels_key_value", "key", "value"),)

    execution_id: str = Field(primary_key=True, foreign_key="executions.execution_id")
    key: str = Field(primary_key=True, max_length=63)
    value: str = Field(max_length=255)


class ExecutionEventRow(SQLModel, table=True):
    """Every committed change of an execution: the log watchers resume from.

    `id` orders all events of the service (commit order: writers take a lock
    before inserting one); `revision` orders the events of one execution.
    """

    __tablename__ = "execution_events"
    __table_args__ = (
        UniqueConstraint("execution_id", "revision", name="uq_execution_events_revision"),
        Index("ix_execution_events_deployment_id", "deployment_name", "id"),
        Index("ix_execution_events_create_time", "create_time"),
        # ids are resume tokens: SQLite must never hand out a deleted id again
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    execution_id: str = Field(max_length=128)
    deployment_name: str | None = Field(default=None, max_length=63)
    revision: int = Field(sa_type=BigInteger)
    changes: str = Field(max_length=128)
    job_status: dict[str, Any] = _json(dict)
    create_time: datetime = _time()


class DeploymentEventRow(SQLModel, table=True):
    """Every committed creation, update and deletion of a deployment, for subscriptions.

    `id` orders them in commit order (writers take the event-order lock before inserting
    one, as for execution events)."""

    __tablename__ = "deployment_events"
    __table_args__ = (
        Index("ix_deployment_events_create_time", "create_time"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    deployment_name: str = Field(max_length=63)
    # CREATED, UPDATED or DELETED
    kind: str = Field(max_length=16)
    # What a payload shows of the deployment after the change.
    deployment: dict[str, Any] = _json(dict)
    create_time: datetime = _time()


class LogLineRow(SQLModel, table=True):
    __tablename__ = "log_lines"
    __table_args__ = (Index("ix_log_lines_execution_timestamp", "execution_id", "timestamp"),)

    execution_id: str = Field(primary_key=True, foreign_key="executions.execution_id")
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    timestamp: datetime = _time()
    stream: str = Field(max_length=8)
    message: str
    step_name: str = ""


class MetricPointRow(SQLModel, table=True):
    """One point of a metric series; append-only. `value` NULL stands for NaN, so the
    database's min and max skip it on both dialects."""

    __tablename__ = "metric_points"
    # Covers a history's reads: bucketing a series reads the index alone.
    __table_args__ = (
        Index("ix_metric_points_series", "execution_id", "name", "step", "seq", "value"),
    )

    execution_id: str = Field(primary_key=True, foreign_key="executions.execution_id")
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    name: str = Field(max_length=200)
    step: int = Field(sa_type=BigInteger)
    value: float | None = Field(default=None, sa_type=Double)
    time: datetime = _time()


class MetricRollupRow(SQLModel, table=True):
    """The points of one series whose step falls in one bucket of 2**level steps (bucket =
    step >> level), summarized as they are written, so a history of a long series reads a
    few thousand of these instead of every point. `max_seq` tells a read that stops at an
    earlier seq that the row holds later points (it then reads that bucket's points)."""

    __tablename__ = "metric_rollups"
    # On SQLite the rows live in their key's order: a history reads neighbouring rows.
    __table_args__ = ({"sqlite_with_rowid": False},)

    execution_id: str = Field(primary_key=True, foreign_key="executions.execution_id")
    name: str = Field(primary_key=True, max_length=200)
    level: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True, sa_type=BigInteger)
    count: int = Field(sa_type=BigInteger)
    first_step: int = Field(sa_type=BigInteger)
    min_value: float | None = Field(default=None, sa_type=Double)
    max_value: float | None = Field(default=None, sa_type=Double)
    last_step: int = Field(sa_type=BigInteger)
    last_seq: int = Field(sa_type=BigInteger)
    last_value: float | None = Field(default=None, sa_type=Double)
    last_time: datetime = _time()
    max_seq: int = Field(sa_type=BigInteger)


class DeploymentLogCursorRow(SQLModel, table=True):
    """Where a deployment-wide log stream stood, the position its resume tokens build on
    (so that a token carries only the executions that moved since): a link of a chain,
    whose [execution_id, seq] pairs are those that moved since its parent, or, without a
    parent, every seq (the chain's root). Kept for DEPLOYMENT_LOG_CURSOR_DAYS
    (store/deployment_logs.py), and as long as any link that builds on it."""

    __tablename__ = "deployment_log_cursors"
    # ids are named by tokens: SQLite must never hand out a deleted id again
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    seqs: list[Any] = _json(list)
    parent_id: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    # The chain's root (None: this link is one), whose sweep takes the chain with it.
    root_id: int | None = Field(
        default=None, sa_column=Column(BigInteger(), nullable=True, index=True)
    )
    create_time: datetime = _time(index=True)


class ServiceMetaRow(SQLModel, table=True):
    """Values the service keeps for itself (the page-token key)."""

    __tablename__ = "service_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str


class ApiTokenRow(SQLModel, table=True):
    """A bearer token: only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"

    token_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    secret_sha256: str = Field(max_length=64)
    create_time: datetime = _time()
    created_by: str = ""
    revoke_time: datetime | None = _time(nullable=True)


class SubscriptionRow(SQLModel, table=True):
    """A durable subscription to the events: its target, filter and cursor, and the lease
    of the replica that dispatches it."""

    __tablename__ = "subscriptions"

    subscription_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=128)
    target: str = Field(max_length=16)
    url: str = Field(default="", max_length=2048)
    subject: str = Field(default="", max_length=128)
    # The webhook's signing secret: it must be kept whole to sign; no RPC returns it after
    # creation.
    signing_secret: str = Field(default="", max_length=64)
    deployment_names: list[str] = _json(list)
    kinds: list[str] = _json(list)
    statuses: list[str] = _json(list)
    state: str = Field(max_length=16)
    # Every event with an id up to this one was delivered or did not match.
    cursor: int = Field(default=0, sa_type=BigInteger)
    # The same, in the deployments' events.
    deployment_cursor: int = Field(default=0, sa_type=BigInteger)
    last_error: str = ""
    last_error_time: datetime | None = _time(nullable=True)
    failing_since: datetime | None = _time(nullable=True)
    last_delivery_time: datetime | None = _time(nullable=True)
    create_time: datetime = _time()
    created_by: str = ""
    request_id: str | None = Field(default=None, unique=True, max_length=128)
    lease_owner: str = Field(default="", max_length=32)
    lease_expire_time: datetime | None = _time(nullable=True)


class DeliveryRow(SQLModel, table=True):
    """One attempt to deliver one event to one subscription (the last ones are kept)."""

    __tablename__ = "subscription_deliveries"
    __table_args__ = (
        Index("ix_subscription_deliveries_subscription_id", "subscription_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    subscription_id: str = Field(max_length=32)
    event_id: str = Field(max_length=64)
    execution_id: str = Field(default="", max_length=128)
    revision: int = Field(default=0, sa_type=BigInteger)
    attempt_time: datetime = _time()
    attempt: int = 1
    http_status: int = 0
    latency_seconds: float = 0.0
    succeeded: bool = False
    error: str = ""
