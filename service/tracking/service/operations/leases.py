"""Leases on running executions: renewed by every report, marked UNKNOWN when they run out.

`renew` is called inside the transaction of each report; `LeaseSweeper` looks for leases
that ran out. Each lapse is marked under the execution's row lock, and only if it still
holds when the lock is granted, so of several replicas sweeping at once exactly one marks
it, and a report that renews the lease first wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from tracking.service.domain import leases
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import NotFound
from tracking.service.domain.status import RunningStatus
from tracking.service.store import executions as store
from tracking.service.store.database import Database
from tracking.service.store.models import ExecutionRow

log = logging.getLogger("tracking.leases")
SWEEP_BATCH = 500


def renew(row: ExecutionRow, now: datetime) -> list[str]:
    """Record a report of the worker: renew the lease, and bring back an execution that
    was marked UNKNOWN when its lease ran out. Returns ["STATUS"] if the status changed."""
    changes: list[str] = []
    if row.lapsed_from and row.status == RunningStatus.UNKNOWN:
        row.status = row.lapsed_from
        row.stop_message = ""
        changes.append("STATUS")
    row.lapsed_from = ""
    if RunningStatus(row.status) in leases.LEASED:
        for column, value in renewed_columns(now, row.heartbeat_timeout_seconds).items():
            setattr(row, column, value)
    return changes


def renewed_columns(now: datetime, timeout_seconds: float) -> dict[str, datetime | None]:
    """The lease columns of a report made now, for a running execution."""
    return {
        "last_heartbeat_time": now,
        "lease_expire_time": leases.expiry(now, timeout_seconds),
    }


def release(row: ExecutionRow) -> None:
    """The execution no longer holds a lease (suspended, stopped, ended)."""
    row.lease_expire_time = None
    row.lapsed_from = ""


def lapse(row: ExecutionRow, now: datetime) -> list[str]:
    """Mark the execution UNKNOWN if its lease has run out (checked under the row lock)."""
    expires = row.lease_expire_time
    if RunningStatus(row.status) not in leases.LEASED:
        release(row)  # no lease outside RUNNING and CANCEL_REQUESTED
        return []
    if expires is None or expires > now:
        return []
    row.lapsed_from = row.status
    row.status = RunningStatus.UNKNOWN.value
    row.stop_message = leases.lapse_message(row.last_heartbeat_time, row.heartbeat_timeout_seconds)
    row.lease_expire_time = None
    return ["STATUS"]


MarkLapsed = Callable[[str, datetime], Awaitable[bool]]


class LeaseSweeper:
    """Finds leases that ran out and has each one marked (by Executions.mark_lapsed)."""

    def __init__(self, db: Database, mark_lapsed: MarkLapsed) -> None:
        self.db = db
        self.mark_lapsed = mark_lapsed

    async def sweep(self, now: datetime | None = None) -> int:
        """Mark every lease that ran out before `now`; returns how many this call marked."""
        now = now or utcnow()
        marked = 0
        while True:
            due = await store.lapsed_ids(self.db.driver, now, SWEEP_BATCH)
            for execution_id in due:
                with contextlib.suppress(NotFound):  # deleted since
                    marked += await self.mark_lapsed(execution_id, now)
            if len(due) < SWEEP_BATCH:
                return marked

    async def run_forever(self, every_seconds: float) -> None:
        while True:
            try:
                if marked := await self.sweep():
                    log.info("marked %d executions UNKNOWN: their leases ran out", marked)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease sweep failed; trying again later")
            await asyncio.sleep(every_seconds)
