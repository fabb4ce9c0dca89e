"""The actions a worker may take (one typed value each), and what they and a cancel change
on an execution beside its status.

The state machine (status.py) says where a job may go; these functions also set what goes
with the move: start and end times, phase, stop message, progress. `act`, `cancel_job` and
`reported` also apply the lease rules (leases.py) that go with each: a worker's report
renews the lease (and brings back a job that had lapsed), a move out of RUNNING releases it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from tracking.service.domain import leases, status, times
from tracking.service.domain.changes import Change
from tracking.service.domain.errors import Aborted, ValidationCollector
from tracking.service.domain.leases import check_heartbeat_timeout
from tracking.service.domain.names import check_text
from tracking.service.domain.status import RunningStatus

# The worker's actions of UpdateJobStatus: one typed value each.


@dataclass(frozen=True, slots=True)
class Start:
    phase: str = ""
    # Replaces the execution's heartbeat timeout when not None.
    heartbeat_timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    progress: float
    phase: str = ""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class Suspend:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Resume:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    cause: RunningStatus
    message: str = ""


@dataclass(frozen=True, slots=True)
class Times:
    """What the platform measured; None leaves the stored value as it is."""

    create_time: datetime | None = None
    start_time: datetime | None = None
    duration: timedelta | None = None


StatusAction = Start | Progress | Heartbeat | Suspend | Resume | Stop | Times
# The actions that report on a job and leave its status as it is.
Report = Times | Progress | Heartbeat
# The actions that move a job.
Move = Start | Suspend | Resume | Stop


def check_action(errors: ValidationCollector, action: StatusAction) -> None:
    """The fields of a worker's action, named as in UpdateJobStatusRequest."""
    match action:
        case Progress(progress=progress, phase=phase):
            check_progress(errors, "progress.progress", progress)
            check_text(errors, "progress.phase", phase)
        case Start(phase=phase, heartbeat_timeout_seconds=timeout):
            if timeout is not None:
                check_heartbeat_timeout(errors, "start.heartbeat_timeout", timeout)
            check_text(errors, "start.phase", phase)
        case Suspend(reason=reason):
            check_text(errors, "suspend.reason", reason)
        case Stop(message=message):
            check_text(errors, "stop.message", message)


def check_progress(errors: ValidationCollector, field: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        errors.add(field, f"must be between 0 and 1, got {value}")


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
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None


class Revised(JobFields, Protocol):
    """A job with its identity and revision (what a conditional action checks)."""

    execution_id: str
    revision: int


def act(
    job: Revised, action: StatusAction, expected_revision: int | None, now: datetime
) -> list[Change]:
    """Apply a worker's action (UpdateJobStatus), with its lease; the kinds of change.

    Every action but a stop is a report of the worker: it brings a job whose lease ran out
    back to where it was, before the action applies."""
    if expected_revision is not None and job.revision != expected_revision:
        raise Aborted(
            f"execution {job.execution_id!r} is at revision {job.revision}, "
            f"not {expected_revision}: read it again and retry"
        )
    restored = [Change.STATUS] if not isinstance(action, Stop) and leases.renew(job, now) else []
    match action:
        case Times() | Progress() | Heartbeat():
            return [*restored, *report(job, action, now)]
        case Start() if restored:
            rejoin(job, action)
            leases.renew(job, now)  # under the heartbeat timeout the start may set
            return restored
        case Start() | Suspend() | Resume() | Stop():
            if transition(job, action, now) is RunningStatus.RUNNING:
                leases.renew(job, now)
            else:
                leases.release(job)
            return [Change.STATUS]  # a restored status changed again: one event says both


def reported(job: JobFields, now: datetime) -> list[Change]:
    """A report of the worker that is not a status action (outputs, a step, log lines):
    it renews the lease; [STATUS] if that brought back a job that had lapsed."""
    return [Change.STATUS] if leases.renew(job, now) else []


def cancel_job(job: JobFields, reason: str, now: datetime) -> list[Change]:
    """A cancel (CancelExecution), with its lease: an ended job holds none."""
    changes = cancel(job, reason, now)
    if job.status in status.TERMINAL_VALUES:
        leases.release(job)
    return changes


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
