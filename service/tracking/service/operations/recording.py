"""Recording a change of an execution: revision, stored message, event row and the
announcement to other replicas, in one transaction (in a group commit, the event row and
the announcement go in at its end)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tracking.service.domain.changes import Change
from tracking.service.domain.events import ExecutionEvent
from tracking.service.domain.execution_state import ExecutionState, JobState
from tracking.service.domain.live_parts import changes_shown
from tracking.service.store import executions as store
from tracking.service.store.database import Database
from tracking.service.store.driver import Row
from tracking.service.store.group import Batch
from tracking.service.store.models import ExecutionRow

# An execution's message without its live parts, serialized (api/stored_executions.py).
EncodeExecution = Callable[[ExecutionRow | ExecutionState], bytes]
# A stored message with a status change's JobStatus put in (the same bytes' meaning as
# encoding the changed row whole).
PatchExecution = Callable[[bytes, JobState], bytes]


class Recorder:
    """The one path by which a change of an execution is written. The caller owns the
    transaction: it commits, then publishes the events returned."""

    def __init__(self, db: Database, encode: EncodeExecution, patch: PatchExecution) -> None:
        self.db = db
        self.encode = encode
        self.patch = patch

    def store_message(self, row: ExecutionRow | ExecutionState | JobState) -> None:
        if isinstance(row, JobState):
            # A JobState is only changed while its message is current (store.lock_job's
            # callers check): only the JobStatus in it changes.
            assert row.message is not None
            row.message = self.patch(row.message, row)
        else:
            row.message = self.encode(row)
        row.message_revision = row.revision

    async def record(
        self,
        batch: Batch,
        changes: list[tuple[ExecutionRow, list[Change]]],
        now: datetime | None = None,
    ) -> list[ExecutionEvent]:
        """Bump each ORM row's revision, store its message and add its event to the batch
        (a deletion: its write asked for the batch's session)."""
        events = [store.bump(row, kinds, now) for row, kinds in changes]
        for row, kinds in changes:
            if Change.DELETED not in kinds:
                self.store_message(row)
        batch.session.add_all(row for row, _ in changes)
        await batch.session.flush()
        self._add(batch, events)
        return events

    async def save_new(
        self,
        batch: Batch,
        state: ExecutionState,
        request_id: str | None,
        fingerprint: str,
        now: datetime,
    ) -> ExecutionEvent:
        """Insert a new execution (revision 0 until this records its creation) with its
        message, and add its event."""
        event = store.bump(state, [Change.CREATED], now)
        self.store_message(state)
        await store.insert_new(batch.connection, state, request_id, fingerprint)
        self._add(batch, [event])
        return event

    async def save_change(
        self,
        batch: Batch,
        state: ExecutionState | JobState,
        before: Row,
        changes: list[Change],
        now: datetime,
    ) -> ExecutionEvent | None:
        """Write an execution locked with store.lock; with change kinds, bump its revision
        and add its event. A change with no kind (a renewed lease) keeps its revision, and
        its message unless it changed what one shows."""
        event = store.bump(state, changes, now) if changes else None
        changed = store.changed_columns(state, before)
        if event is not None or changes_shown(state.status, set(changed)):
            self.store_message(state)
            changed.update(message=state.message, message_revision=state.message_revision)
        await store.save(batch.connection, state.execution_id, changed)
        if event is not None:
            self._add(batch, [event])
        return event

    @staticmethod
    def _add(batch: Batch, events: list[ExecutionEvent]) -> None:
        batch.add_events(events)
        for event in events:
            batch.announce("event", event.execution_id, event.deployment_name, event)
