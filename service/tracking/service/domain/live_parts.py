"""The parts of an execution that change with no recorded change (no revision, no event).

A worker's report renews the lease of a RUNNING or CANCEL_REQUESTED execution: its last
heartbeat and lease expiry move on every report. A started execution with no end and no
reported duration shows a duration that grows with the clock. Everything else an
execution shows changes only with a new revision.
"""

from __future__ import annotations

from datetime import datetime

from tracking.service.domain.leases import LEASED

LEASE_COLUMNS = frozenset({"last_heartbeat_time", "lease_expire_time"})
# Columns no Execution message shows.
UNSHOWN_COLUMNS = frozenset({"lapsed_from", "log_seq", "message", "message_revision"})


def lease_is_live(status: str) -> bool:
    return status in LEASED  # a RunningStatus is its value (StrEnum)


def duration_is_live(
    start_time: datetime | None, end_time: datetime | None, reported_seconds: float | None
) -> bool:
    return start_time is not None and end_time is None and reported_seconds is None


def changes_shown(status: str, changed_columns: set[str]) -> bool:
    """Whether changed columns (with no new revision) change what the stored message shows."""
    hidden = UNSHOWN_COLUMNS | LEASE_COLUMNS if lease_is_live(status) else UNSHOWN_COLUMNS
    return bool(changed_columns - hidden)
