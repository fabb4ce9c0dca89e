"""An execution as it stands, as one plain value: what a change reads under the row lock,
changes (state machine, leases, documents) and hands back to the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class ExecutionState:
    """Every field of an execution that a change reads or writes."""

    execution_id: str
    deployment_name: str | None
    pipeline_name: str
    job_name: str
    job_type: str
    experiment_name: str
    model_run_id: str
    status: str
    progress: float
    phase: str
    stop_message: str
    cancel_reason: str
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    reported_duration_seconds: float | None
    reported_create_time: datetime | None
    update_time: datetime
    revision: int
    steps: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    result: dict[str, Any]
    export_paths: dict[str, str]
    source_views: dict[str, str]
    labels: dict[str, str]
    created_by: str
    command: list[str]
    trace_parent: str
    heartbeat_timeout_seconds: float
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None
    lapsed_from: str
    message: bytes | None
    message_revision: int | None


FIELDS = tuple(field.name for field in fields(ExecutionState))
