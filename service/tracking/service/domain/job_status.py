"""The JobStatus of an execution, as one value: read from its columns, kept in its events'
snapshots, and turned into the JobStatus message by the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class JobStatus:
    """Where a job stands (the JobStatus message's fields, as stored)."""

    status: str
    progress: float
    phase: str
    stop_message: str
    cancel_reason: str
    create_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    update_time: datetime
    revision: int
    reported_duration_seconds: float | None
    reported_create_time: datetime | None
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None


FIELDS = tuple(field.name for field in fields(JobStatus))
# The fields that hold times; snapshots keep them as ISO 8601 text.
_TIMES = frozenset(field.name for field in fields(JobStatus) if "datetime" in str(field.type))


def snapshot_of(job: Any) -> dict[str, Any]:
    """The JobStatus fields of anything that has them (a row), as an event keeps them."""
    snapshot: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(job, name)
        snapshot[name] = value.isoformat() if name in _TIMES and value else value
    return snapshot


def of_snapshot(snapshot: dict[str, Any]) -> JobStatus:
    """What snapshot_of kept. Events written before a field existed lack it: it reads as not
    set (their create_time already is the reported one)."""
    values: dict[str, Any] = {
        "progress": 0.0,
        "phase": "",
        "stop_message": "",
        "cancel_reason": "",
        "reported_duration_seconds": None,
    }
    for name in FIELDS:
        value = snapshot.get(name, values.get(name))
        if name in _TIMES:
            value = datetime.fromisoformat(value) if value else None
        values[name] = value
    return JobStatus(**values)
