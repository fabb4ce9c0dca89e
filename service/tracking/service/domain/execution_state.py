"""An execution as it stands, as one plain value: what a change reads under the row lock,
changes (state machine, leases, documents) and hands back to the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from tracking.service.domain.executions import NewExecution
from tracking.service.domain.status import RunningStatus


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


@dataclass(slots=True)
class JobState:
    """The fields of an execution that a status change (a worker's action, a cancel, a
    lapse) reads and writes: its JobStatus and lease, without its documents. Its stored
    message gets the new JobStatus put in, instead of being encoded again whole."""

    execution_id: str
    deployment_name: str | None
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
    heartbeat_timeout_seconds: float
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None
    lapsed_from: str
    message: bytes | None
    message_revision: int | None

    @property
    def message_is_current(self) -> bool:
        """Whether the stored message shows this revision (an older version may have left
        one behind it, or none)."""
        return self.message is not None and self.message_revision == self.revision


JOB_FIELDS = tuple(field.name for field in fields(JobState))
assert set(JOB_FIELDS) <= set(FIELDS)


def new_state(
    new: NewExecution,
    execution_id: str,
    pipeline_name: str,
    heartbeat_timeout_seconds: float,
    now: datetime,
) -> ExecutionState:
    """A new execution, WAITING, at revision 0 (its creation is recorded as revision 1)."""
    return ExecutionState(
        execution_id=execution_id,
        deployment_name=new.deployment_name or None,
        pipeline_name=pipeline_name,
        job_name=new.job_name,
        job_type=new.job_type,
        experiment_name=new.experiment_name,
        model_run_id=new.model_run_id,
        status=RunningStatus.WAITING.value,
        progress=0.0,
        phase="",
        stop_message="",
        cancel_reason="",
        create_time=now,
        start_time=None,
        end_time=None,
        reported_duration_seconds=None,
        reported_create_time=None,
        update_time=now,
        revision=0,
        steps=new.steps,
        inputs=new.inputs,
        outputs=[],
        result={},
        export_paths={},
        source_views={},
        labels=new.labels,
        created_by="",
        command=new.command,
        trace_parent=new.trace_parent,
        heartbeat_timeout_seconds=heartbeat_timeout_seconds,
        last_heartbeat_time=None,
        lease_expire_time=None,
        lapsed_from="",
        message=None,
        message_revision=None,
    )
