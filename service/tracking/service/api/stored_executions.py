"""Executions read from their stored bytes.

Every recorded change stores the execution's Execution message with its row, so that
GetExecution and ListExecutions parse bytes instead of converting columns. The parts that
change with no recorded change (domain/live_parts.py) are left out of the stored message
and added as it is read, from the columns read with it.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer

from tracking.service.api.execution_messages import execution_proto
from tracking.service.api.job_status import job_status_of_row
from tracking.service.api.sizing import MAX_RESPONSE_BYTES
from tracking.service.api.values import span, stamp
from tracking.service.domain.execution_state import ExecutionState, JobState
from tracking.service.domain.live_parts import duration_is_live, lease_is_live
from tracking.service.store.executions import StoredExecution
from tracking.service.store.models import ExecutionRow
from tracking.v1 import execution_pb2, status_pb2


def stored_form(row: ExecutionRow | ExecutionState) -> bytes:
    """The Execution message of a row without its live parts, serialized."""
    execution = execution_proto(row, row.update_time)
    _without_live_parts(execution.job_status, row)
    return execution.SerializeToString()


def with_job_status(message: bytes, job: JobState) -> bytes:
    """A stored message (as stored_form made it) with the JobStatus and heartbeat timeout
    of `job` put in: what stored_form gives for the row after a status change, which
    touches nothing else the message shows. Parsing, replacing and serializing are
    protobuf's C code; the documents are neither read nor converted."""
    execution = execution_pb2.Execution.FromString(message)
    status = execution.job_status
    status.CopyFrom(job_status_of_row(job, job.update_time))
    _without_live_parts(status, job)
    execution.heartbeat_timeout.FromNanoseconds(round(job.heartbeat_timeout_seconds * 1e9))
    return execution.SerializeToString()


def _without_live_parts(
    status: status_pb2.JobStatus, row: ExecutionRow | ExecutionState | JobState
) -> None:
    if lease_is_live(row.status):
        status.ClearField("last_heartbeat_time")
        status.ClearField("lease_expire_time")
    if duration_is_live(row.start_time, row.end_time, row.reported_duration_seconds):
        status.ClearField("duration")


def _live_parts(stored: StoredExecution, now: datetime) -> bytes:
    """An Execution holding only the live parts, serialized: merged into the stored one.
    (The store reads their columns only where they are live.)"""
    live = (stored.growing_since, stored.last_heartbeat_time, stored.lease_expire_time)
    if live == (None, None, None):
        return b""
    status = status_pb2.JobStatus(
        last_heartbeat_time=stamp(stored.last_heartbeat_time),
        lease_expire_time=stamp(stored.lease_expire_time),
        duration=None if stored.growing_since is None else span(now - stored.growing_since),
    )
    return execution_pb2.Execution(job_status=status).SerializeToString()


def _message_of(stored: StoredExecution) -> bytes:
    assert stored.message is not None, "operations fill the message of every row they read"
    return stored.message


def execution_of(stored: StoredExecution, now: datetime) -> execution_pb2.Execution:
    return execution_pb2.Execution.FromString(_message_of(stored) + _live_parts(stored, now))


def add_page(
    target: RepeatedCompositeFieldContainer[execution_pb2.Execution],
    page: list[StoredExecution],
    now: datetime,
) -> int:
    """Add the executions of a page, in order, while the response stays under
    MAX_RESPONSE_BYTES (at least one); how many were added."""
    size = 0
    for count, stored in enumerate(page):
        message, live = _message_of(stored), _live_parts(stored, now)
        size += len(message) + len(live) + 8
        if count and size > MAX_RESPONSE_BYTES:
            return count
        added = target.add()
        added.MergeFromString(message)
        if live:
            added.MergeFromString(live)
    return len(page)
