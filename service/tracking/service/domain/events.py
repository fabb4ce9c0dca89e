"""An execution's event: one committed change, as the hub hands it to watchers, an
announcement carries it to other replicas and the store keeps it (execution_events)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True, eq=False)
class ExecutionEvent:
    """`changes` is the stored, comma-joined form (domain/changes.py); `job_status` the
    snapshot of the JobStatus as the change left it (domain/job_status.snapshot_of); `id`
    orders every event of the service, set once the event is inserted."""

    execution_id: str
    deployment_name: str | None
    revision: int
    changes: str
    job_status: dict[str, Any]
    create_time: datetime
    id: int | None = None
