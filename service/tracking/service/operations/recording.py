"""Recording a change of an execution: revision, stored message, event row and the
announcement to other replicas, in one transaction (in a group commit, the event row and
the announcement go in at its end)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.live_parts import changes_shown
from tracking.service.store import executions as store
from tracking.service.store.database import Database
from tracking.service.store.models import ExecutionEventRow, ExecutionRow

# A row's Execution message without its live parts, serialized (api/stored_executions.py).
EncodeExecution = Callable[[ExecutionRow], bytes]


class Recorder:
    """The one path by which a change of an execution is written. The caller owns the
    transaction: it commits, then publishes the events returned."""

    def __init__(self, db: Database, encode: EncodeExecution) -> None:
        self.db = db
        self.encode = encode

    def store_message(self, row: ExecutionRow) -> None:
        row.message = self.encode(row)
        row.message_revision = row.revision

    async def record(
        self,
        session: AsyncSession,
        changes: list[tuple[ExecutionRow, list[str]]],
        now: datetime | None = None,
    ) -> list[ExecutionEventRow]:
        """Bump each row's revision, store its message and add its event (ORM rows)."""
        events = [store.bump(row, kinds, now) for row, kinds in changes]
        for row, kinds in changes:
            if "DELETED" not in kinds:
                self.store_message(row)
        session.add_all(row for row, _ in changes)
        await session.flush()
        await self._add(session, events)
        return events

    async def save_change(
        self,
        session: AsyncSession,
        row: ExecutionRow,
        before: dict[str, Any],
        changes: list[str],
        now: datetime,
    ) -> ExecutionEventRow | None:
        """Write a row locked with store.lock; with change kinds, bump its revision and add
        its event (Core statements: the hot write path). A change with no kind (a renewed
        lease) keeps its revision, and its message unless it changed what one shows."""
        event = store.bump(row, changes, now) if changes else None
        changed = store.changed_columns(row, before)
        if event is not None or changes_shown(row.status, set(changed)):
            self.store_message(row)
            changed.update(message=row.message, message_revision=row.message_revision)
        await store.save(session, row.execution_id, changed)
        if event is not None:
            await self._add(session, [event])
        return event

    async def _add(self, session: AsyncSession, events: list[ExecutionEventRow]) -> None:
        await self.db.add_events(session, events)
        for event in events:
            await self.db.announce(
                session, "event", event.execution_id, event.deployment_name, event
            )
