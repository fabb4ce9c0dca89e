"""Execution, JobStatus and ExecutionEvent messages <-> stored executions and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.job_status import job_status_of_row
from tracking.service.api.values import from_json, seconds_or_none, to_json
from tracking.service.domain import job_status
from tracking.service.domain.changes import of_stored
from tracking.service.domain.events import ExecutionEvent
from tracking.service.domain.execution_state import ExecutionState
from tracking.service.domain.executions import NewExecution
from tracking.service.store.models import ExecutionRow
from tracking.v1 import execution_pb2, io_pb2, status_pb2


def new_execution(execution: execution_pb2.Execution, trace_parent: str = "") -> NewExecution:
    """The fields a creator may set (enums already checked), and the trace context it sent."""
    return NewExecution(
        execution_id=execution.execution_id,
        deployment_name=execution.deployment_name,
        pipeline_name=execution.pipeline_name,
        job_name=execution.job_name,
        job_type=enum_name(execution_pb2.JobType.DESCRIPTOR, execution.job_type),
        experiment_name=execution.experiment_name,
        model_run_id=execution.model_run_id,
        steps=[to_json(s, f"execution.steps[{i}]") for i, s in enumerate(execution.steps)],
        inputs=[to_json(x, f"execution.inputs[{i}]") for i, x in enumerate(execution.inputs)],
        labels=dict(execution.labels),
        command=list(execution.command),
        heartbeat_timeout_seconds=seconds_or_none(
            execution.heartbeat_timeout,
            execution.HasField("heartbeat_timeout"),
            "execution.heartbeat_timeout",
        ),
        trace_parent=trace_parent,
    )


def job_status_proto(snapshot: dict[str, Any]) -> status_pb2.JobStatus:
    """A JobStatus from the snapshot an event keeps: as the row stood at its update_time."""
    view = job_status.of_snapshot(snapshot)
    return job_status_of_row(view, view.update_time)


def execution_proto(row: ExecutionRow | ExecutionState, now: datetime) -> execution_pb2.Execution:
    execution = execution_pb2.Execution(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name or "",
        pipeline_name=row.pipeline_name,
        job_name=row.job_name,
        job_type=enum_number(execution_pb2.JobType.DESCRIPTOR, row.job_type),
        experiment_name=row.experiment_name,
        model_run_id=row.model_run_id,
        job_status=job_status_of_row(row, now),
        steps=[from_json(s, execution_pb2.Step()) for s in row.steps],
        inputs=[from_json(i, io_pb2.ExecutionInput()) for i in row.inputs],
        outputs=[from_json(o, io_pb2.ExecutionOutput()) for o in row.outputs],
        export_paths=row.export_paths,
        source_views=row.source_views,
        labels=row.labels,
        created_by=row.created_by,
        command=row.command,
        trace_parent=row.trace_parent,
    )
    execution.heartbeat_timeout.FromNanoseconds(round(row.heartbeat_timeout_seconds * 1e9))
    if row.result:
        execution.result.update(row.result)
    return execution


def event_proto(event: ExecutionEvent, resume_token: str = "") -> execution_pb2.ExecutionEvent:
    return execution_pb2.ExecutionEvent(
        execution_id=event.execution_id,
        deployment_name=event.deployment_name or "",
        revision=event.revision,
        job_status=job_status_proto(event.job_status),
        changes=[
            enum_number(execution_pb2.ChangeKind.DESCRIPTOR, c) for c in of_stored(event.changes)
        ],
        resume_token=resume_token,
    )


def snapshot_proto(
    row: ExecutionRow, now: datetime, resume_token: str = ""
) -> execution_pb2.ExecutionEvent:
    return execution_pb2.ExecutionEvent(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name or "",
        revision=row.revision,
        job_status=job_status_of_row(row, now),
        resume_token=resume_token,
        snapshot=True,
    )
