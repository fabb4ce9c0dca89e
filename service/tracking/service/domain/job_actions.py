"""What a worker's action and a cancel change on an execution, beside its status.

The state machine (status.py) says where a job may go; these functions also set what goes
with the move: start and end times, phase, stop message, progress. Leases are the
caller's: it renews or releases them once it knows the job's new status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from tracking.service.domain import status, times
from tracking.service.domain.changes import Change
from tracking.service.domain.executions import (
    Heartbeat,
    Move,
    Progress,
    Report,
    Resume,
    Start,
    Stop,
    Suspend,
    Times,
)
from tracking.service.domain.status import RunningStatus


class JobFields(Protocol):
    """The fields of an execution the actions read and change."""

    status: str
    progress: float
    phase: str
    stop_message: str
    cancel_reason: str
    create_time: datetime
    reported_create_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    reported_duration_seconds: float | None
    heartbeat_timeout_seconds: float
    lapsed_from: str


def report(job: JobFields, action: Report, now: datetime) -> list[Change]:
    """Apply times, progress or a heartbeat; the kinds of change it made."""
    match action:
        case Times():
            return [Change.TIMES] if _apply_times(job, action, now) else []
        case Heartbeat():
            status.progress(RunningStatus(job.status), "heartbeat")
            return []
        case Progress(progress=progress, phase=phase):
            status.progress(RunningStatus(job.status), "progress")
            job.progress = progress
            job.phase = phase or job.phase
            return [Change.PROGRESS]


def rejoin(job: JobFields, action: Start) -> None:
    """A start from a worker whose job had lapsed and was just restored: it runs on as it
    was, with the phase and heartbeat timeout the start gives."""
    job.phase = action.phase or job.phase
    if action.heartbeat_timeout_seconds is not None:
        job.heartbeat_timeout_seconds = action.heartbeat_timeout_seconds


def transition(job: JobFields, action: Move, now: datetime) -> RunningStatus:
    """Move the job by a start, suspend, resume or stop; its new status."""
    current = RunningStatus(job.status)
    match action:
        case Start():
            target = status.start(current)
            job.start_time = job.start_time or times.start_time(_times_of(job).create_time, now)
            job.stop_message = ""
            rejoin(job, action)
        case Suspend(reason=reason):
            target = status.suspend(current)
            job.phase = reason or job.phase
        case Resume():
            target = status.resume(current)
        case Stop(cause=cause, message=message):
            target = status.stop(current, cause)
            job.stop_message = message
            if target.is_terminal:
                job.end_time = _end_time(job, now)
            if target is RunningStatus.SUCCESS:
                # A success has no stop message: what the worker said becomes the phase.
                job.progress = 1.0
                job.phase = message or job.phase
                job.stop_message = ""
    job.status = target.value
    return target


def cancel(job: JobFields, reason: str, now: datetime) -> list[Change]:
    """End a job that is not running, or ask a running one to stop; the kinds of change."""
    current = RunningStatus(job.status)
    # Nobody is left to stop a job whose worker went silent: it ends at once.
    target = RunningStatus.CANCELED if job.lapsed_from else status.cancel(current)
    if target is current:
        return []
    job.cancel_reason = reason
    job.status = target.value
    job.lapsed_from = ""
    if target.is_terminal:
        job.end_time = _end_time(job, now)
        job.stop_message = reason or "canceled"
    return [Change.STATUS, Change.CANCEL_REQUEST]


def _times_of(job: JobFields) -> times.JobTimes:
    seconds = job.reported_duration_seconds
    duration = None if seconds is None else timedelta(seconds=seconds)
    created = job.reported_create_time or job.create_time
    return times.JobTimes(created, job.start_time, job.end_time, duration)


def _end_time(job: JobFields, now: datetime) -> datetime:
    return times.end_time(job.start_time, _times_of(job).duration, now)


def _apply_times(job: JobFields, action: Times, now: datetime) -> bool:
    """Set the times a platform measured; whether any changed."""
    after = times.reported(
        _times_of(job), action.create_time, action.start_time, action.duration, now
    )
    shown = (job.reported_create_time, job.start_time, job.end_time, job.reported_duration_seconds)
    # The creation time the platform reports is shown; the one the server recorded stays
    # the key lists are ordered and paged by (a cursor never sees an execution move).
    if action.create_time is not None:
        job.reported_create_time = after.create_time
    job.start_time = after.start_time
    job.end_time = after.end_time
    if action.duration is not None:
        job.reported_duration_seconds = action.duration.total_seconds()
    return shown != (
        job.reported_create_time,
        job.start_time,
        job.end_time,
        job.reported_duration_seconds,
    )
