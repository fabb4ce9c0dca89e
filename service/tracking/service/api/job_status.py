"""The JobStatus: its RPCs (read, the worker's actions, cancel) and its message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from tracking.service.api.context import Context
from tracking.service.api.enum_names import enum_name, enum_number
from tracking.service.api.values import (
    seconds_or_none,
    span,
    stamp,
    time_or_none,
    timedelta_or_none,
)
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import InvalidArgument, ValidationCollector
from tracking.service.domain.job_actions import (
    Heartbeat,
    Progress,
    Resume,
    Start,
    StatusAction,
    Stop,
    Suspend,
    Times,
)
from tracking.service.domain.status import RunningStatus
from tracking.service.operations.executions import Executions
from tracking.v1 import status_pb2
from tracking.v1 import tracking_service_pb2 as pb


class JobStatusApi:
    executions: Executions

    async def GetJobStatus(
        self, request: pb.GetJobStatusRequest, context: Context
    ) -> pb.GetJobStatusResponse:
        row = await self.executions.job_status(request.execution_id)
        return pb.GetJobStatusResponse(job_status=job_status_of_row(row, utcnow()))

    async def UpdateJobStatus(
        self, request: pb.UpdateJobStatusRequest, context: Context
    ) -> pb.UpdateJobStatusResponse:
        expected = request.expected_revision if request.HasField("expected_revision") else None
        row = await self.executions.update_status(request.execution_id, _action(request), expected)
        return pb.UpdateJobStatusResponse(job_status=job_status_of_row(row, utcnow()))

    async def CancelExecution(
        self, request: pb.CancelExecutionRequest, context: Context
    ) -> pb.CancelExecutionResponse:
        row = await self.executions.cancel(request.execution_id, request.reason)
        return pb.CancelExecutionResponse(job_status=job_status_of_row(row, utcnow()))


class JobStatusSource(Protocol):
    """What a JobStatus is made from: a status change's JobState, a whole execution's
    ExecutionState, an event's snapshot (domain.job_status.JobStatus) or a row."""

    status: str
    progress: float
    phase: str
    stop_message: str
    cancel_reason: str
    create_time: datetime
    reported_create_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    update_time: datetime
    revision: int
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None
    reported_duration_seconds: float | None


def job_status_of_row(row: JobStatusSource, now: datetime) -> status_pb2.JobStatus:
    """The JobStatus of a row as it stands now (a running execution's duration grows)."""
    if row.reported_duration_seconds is not None:
        duration = span(timedelta(seconds=row.reported_duration_seconds))
    elif row.start_time is not None:
        duration = span((row.end_time or now) - row.start_time)
    else:
        duration = None
    return status_pb2.JobStatus(
        status=enum_number(status_pb2.RunningStatus.DESCRIPTOR, row.status),
        progress=row.progress,
        phase=row.phase,
        stop_message=row.stop_message,
        cancel_reason=row.cancel_reason,
        create_time=stamp(row.reported_create_time or row.create_time),
        start_time=stamp(row.start_time),
        end_time=stamp(row.end_time),
        duration=duration,
        update_time=stamp(row.update_time),
        revision=row.revision,
        last_heartbeat_time=stamp(row.last_heartbeat_time),
        lease_expire_time=stamp(row.lease_expire_time),
    )


def _action(request: pb.UpdateJobStatusRequest) -> StatusAction:
    match request.WhichOneof("action"):
        case "start":
            timeout = request.start.heartbeat_timeout
            return Start(
                phase=request.start.phase,
                heartbeat_timeout_seconds=seconds_or_none(
                    timeout, request.start.HasField("heartbeat_timeout"), "start.heartbeat_timeout"
                ),
            )
        case "progress":
            return Progress(progress=request.progress.progress, phase=request.progress.phase)
        case "heartbeat":
            return Heartbeat()
        case "suspend":
            return Suspend(reason=request.suspend.reason)
        case "resume":
            return Resume()
        case "stop":
            return _stop(request.stop)
        case "times":
            return _times(request.times)
    raise InvalidArgument.of(
        "action", "choose one of start, progress, heartbeat, suspend, resume, stop, times"
    )


def _stop(stop: pb.StopAction) -> Stop:
    if stop.cause == status_pb2.RUNNING_STATUS_UNSPECIFIED:
        raise InvalidArgument.of("stop.cause", "is required: SUCCESS, ERROR, CANCELED or UNKNOWN")
    cause = RunningStatus(enum_name(status_pb2.RunningStatus.DESCRIPTOR, stop.cause))
    return Stop(cause=cause, message=stop.message)


def _times(times: pb.TimesAction) -> Times:
    """The times of a TimesAction, each checked as a valid Timestamp or Duration."""
    errors = ValidationCollector()

    def parse(to_value: Callable[[Any, bool, str], Any], name: str) -> Any:
        try:
            return to_value(getattr(times, name), times.HasField(name), f"times.{name}")
        except InvalidArgument as error:
            errors.violations.extend(error.violations)
            return None

    action = Times(
        create_time=parse(time_or_none, "create_time"),
        start_time=parse(time_or_none, "start_time"),
        duration=parse(timedelta_or_none, "duration"),
    )
    errors.raise_if_any()
    return action
