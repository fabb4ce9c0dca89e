"""Leases: how long a running job's worker may stay silent before the job is UNKNOWN.

A lease exists while an execution is RUNNING or CANCEL_REQUESTED and its heartbeat timeout
is above zero. Every report of the worker renews it. When it runs out, the server marks
the execution UNKNOWN and remembers the status it had, so that the worker's next report
brings it back. SUSPENDED holds no lease: the platform halted the job and nobody is
expected to report until it resumes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from tracking.service.domain.errors import ValidationCollector
from tracking.service.domain.status import RunningStatus

LEASED = frozenset({RunningStatus.RUNNING, RunningStatus.CANCEL_REQUESTED})
MAX_HEARTBEAT_TIMEOUT_SECONDS = 7 * 24 * 3600.0


MIN_HEARTBEAT_TIMEOUT_SECONDS = 1.0


def check_heartbeat_timeout(errors: ValidationCollector, field: str, seconds: float) -> None:
    # Below a second, every report would find the lease run out and bring it back: an
    # event pair per heartbeat.
    if (
        seconds != 0
        and not MIN_HEARTBEAT_TIMEOUT_SECONDS <= seconds <= MAX_HEARTBEAT_TIMEOUT_SECONDS
    ):
        errors.add(field, f"must be 0 (no lease) or between 1 s and 7 days, got {seconds:g} s")


def expiry(now: datetime, timeout_seconds: float) -> datetime | None:
    """When a lease renewed now runs out; None without a lease."""
    return now + timedelta(seconds=timeout_seconds) if timeout_seconds > 0 else None


def lapse_message(last_heard: datetime | None, timeout_seconds: float) -> str:
    since = f"since {last_heard:%Y-%m-%d %H:%M:%S} UTC" if last_heard else "since its start"
    return (
        f"no report from the worker {since} (heartbeat timeout {timeout_seconds:g} s): "
        "it may have died, or lost its connection"
    )


class Leased(Protocol):
    """The fields of an execution the lease rules read and change."""

    status: str
    stop_message: str
    lapsed_from: str
    heartbeat_timeout_seconds: float
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None


def renewed_columns(now: datetime, timeout_seconds: float) -> dict[str, datetime | None]:
    """The lease columns of a report made now, for a running execution."""
    return {"last_heartbeat_time": now, "lease_expire_time": expiry(now, timeout_seconds)}


def renew(job: Leased, now: datetime) -> bool:
    """Record a report of the worker: renew the lease, and bring back an execution that was
    marked UNKNOWN when its lease ran out. Whether its status changed."""
    restored = bool(job.lapsed_from) and job.status == RunningStatus.UNKNOWN
    if restored:
        job.status = job.lapsed_from
        job.stop_message = ""
    job.lapsed_from = ""
    if job.status in LEASED:
        job.last_heartbeat_time = now
        job.lease_expire_time = expiry(now, job.heartbeat_timeout_seconds)
    return restored


def release(job: Leased) -> None:
    """The execution no longer holds a lease (suspended, stopped, ended)."""
    job.lease_expire_time = None
    job.lapsed_from = ""


def lapse(job: Leased, now: datetime) -> bool:
    """Mark the execution UNKNOWN if its lease has run out (checked under the row lock);
    whether it was."""
    expires = job.lease_expire_time
    if RunningStatus(job.status) not in LEASED:
        release(job)  # no lease outside RUNNING and CANCEL_REQUESTED
        return False
    if expires is None or expires > now:
        return False
    job.lapsed_from = job.status
    job.status = RunningStatus.UNKNOWN.value
    job.stop_message = lapse_message(job.last_heartbeat_time, job.heartbeat_timeout_seconds)
    job.lease_expire_time = None
    return True
