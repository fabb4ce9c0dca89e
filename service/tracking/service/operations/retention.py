"""Retention: finished executions keep their events, log lines and metric points for a set
time.

After that, a sweep removes them and leaves marks (pruned_revision,
pruned_log_seq, pruned_metric_seq, and the service-wide pruned_event_id) so a cursor that points
into what was removed is refused with FAILED_PRECONDITION instead of silently
skipping.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracking.service.domain.clock import utcnow
from tracking.service.domain.status import TERMINAL_VALUES
from tracking.service.store import meta
from tracking.service.store import retention as retention_store
from tracking.service.store import subscriptions as subscription_store
from tracking.service.store.database import Database
from tracking.service.store.inline_sqlite import offloaded

log = logging.getLogger("tracking.retention")
SWEEP_BATCH = 200


@dataclass(frozen=True)
class SweepResult:
    executions: int
    events: int
    lines: int
    points: int = 0


class Retention:
    def __init__(self, db: Database, keep: timedelta) -> None:
        self.db = db
        self.keep = keep

    async def sweep(self, now: datetime | None = None) -> SweepResult:
        """Remove what is older than the retention time; safe on several replicas at once."""
        cutoff = (now or utcnow()) - self.keep
        # Deleting many lines and events is long work: on SQLite it leaves the event loop.
        with offloaded():
            return await self._sweep(cutoff)

    async def _sweep(self, cutoff: datetime) -> SweepResult:
        executions = events = lines = points = 0
        while True:
            async with self.db.writing() as session:
                largest_removed = 0
                # Events a subscription has not delivered yet are kept (docs/events.md).
                keep_after = await subscription_store.lowest_cursor(session)
                rows = await retention_store.lock_expired(
                    session, sorted(TERMINAL_VALUES), cutoff, SWEEP_BATCH, keep_after
                )
                for row in rows:
                    count, largest = await retention_store.delete_events_of(
                        session, row.execution_id
                    )
                    events += count
                    largest_removed = max(largest_removed, largest)
                    lines += await retention_store.delete_lines_of(session, row.execution_id)
                    points += await retention_store.delete_points_of(session, row.execution_id)
                    row.pruned_revision = row.revision
                    row.pruned_log_seq = row.log_seq
                    row.pruned_metric_seq = row.metric_seq
                    session.add(row)
                executions += len(rows)
                # Events of deleted executions (their row is gone) age out the same way.
                count, largest = await retention_store.delete_orphaned_events(
                    session, cutoff, keep_after
                )
                events += count
                largest_removed = max(largest_removed, largest)
                current = int(await meta.get(session, meta.PRUNED_EVENT_ID) or 0)
                if largest_removed > current:
                    await meta.put(session, meta.PRUNED_EVENT_ID, str(largest_removed))
            if len(rows) < SWEEP_BATCH:
                break
        async with self.db.writing() as session:
            # Deployments' events age out the same way, but never one a subscription has
            # not delivered yet.
            await retention_store.delete_deployment_events(
                session, cutoff, await subscription_store.lowest_deployment_cursor(session)
            )
        if executions or events:
            log.info(
                "retention removed %d events, %d lines and %d metric points of %d executions",
                events,
                lines,
                points,
                executions,
            )
        return SweepResult(executions, events, lines, points)

    async def run_forever(self, every_seconds: float) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention sweep failed; trying again later")
            await asyncio.sleep(every_seconds)
