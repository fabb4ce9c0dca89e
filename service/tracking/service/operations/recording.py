"""Recording a change: revision, event row and the announcement to other replicas, in one
transaction (in a group commit, the event row and the announcement go in at its end)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store import executions as store
from tracking.service.store.database import Database
from tracking.service.store.models import ExecutionEventRow, ExecutionRow


async def record(
    db: Database,
    session: AsyncSession,
    changes: list[tuple[ExecutionRow, list[str]]],
    now: datetime | None = None,
) -> list[ExecutionEventRow]:
    """Bump each row's revision and add its event; the caller commits, then publishes."""
    events = [store.bump(row, kinds, now) for row, kinds in changes]
    session.add_all(row for row, _ in changes)
    await session.flush()
    await db.add_events(session, events)
    for event in events:
        await db.announce(session, "event", event.execution_id, event.deployment_name, event)
    return events


async def save_change(
    db: Database,
    session: AsyncSession,
    row: ExecutionRow,
    before: dict[str, Any],
    changes: list[str],
    now: datetime,
) -> ExecutionEventRow | None:
    """Write a row locked with store.lock; with change kinds, bump its revision and add its
    event (Core statements: the hot write path). The caller commits, then publishes."""
    event = None
    if changes:
        event = store.bump(row, changes, now)
    await store.save(session, row, before)
    if event is not None:
        await db.add_events(session, [event])
        await db.announce(session, "event", event.execution_id, event.deployment_name, event)
    return event
