"""The lease sweep: marks UNKNOWN the running executions whose lease ran out.

The rules (renew, release, lapse) are domain/leases.py's, applied inside the transaction of
each change; `LeaseSweeper` looks for leases that ran out. Each lapse is marked under the execution's row lock, and only if it still
holds when the lock is granted, so of several replicas sweeping at once exactly one marks
it, and a report that renews the lease first wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import NotFound
from tracking.service.store import executions as store
from tracking.service.store.database import Database

log = logging.getLogger("tracking.leases")
SWEEP_BATCH = 500


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
