"""Reads of the event log that deployment-wide and service-wide watchers share.

A change wakes every watcher of its deployment, and each would read the events after the
same cursor. Here the first reader's read serves the others: a read is kept until the hub
says the table changed (its `table_version`), which it says before it wakes anyone. A read
that started before a change may miss it; the watchers that change wakes find a new
version, and read again. The events come as SharedEvents, so that the watchers that share
a read also share each event's encoding.
"""

from __future__ import annotations

import asyncio

from tracking.service.events.hub import EventHub, SharedEvent
from tracking.service.store import executions as execution_store
from tracking.service.store.database import Database

# Reads kept at once: watchers behind the others each have a cursor of their own.
MAX_KEPT = 256

Key = tuple[str | None, int, int]


class SharedEventReads:
    def __init__(self, db: Database, hub: EventHub) -> None:
        self._db = db
        self._hub = hub
        self._version = -1
        self._kept: dict[Key, asyncio.Future[list[SharedEvent]]] = {}

    async def events_after(self, scope: str | None, event_id: int, limit: int) -> list[SharedEvent]:
        """The events of a deployment (every event, when scope is None) after `event_id`,
        in id order, at most `limit`."""
        if self._hub.table_version != self._version:
            self._kept.clear()
            self._version = self._hub.table_version
        key = (scope, event_id, limit)
        read = self._kept.get(key)
        if read is None:
            if len(self._kept) >= MAX_KEPT:
                self._kept.clear()
            read = asyncio.ensure_future(self._read(scope, event_id, limit))
            read.add_done_callback(lambda done: self._forget_failed(key, done))
            self._kept[key] = read
        # A watcher that goes away leaves the read to the others.
        return await asyncio.shield(read)

    async def _read(self, scope: str | None, event_id: int, limit: int) -> list[SharedEvent]:
        rows = await self._db.read(execution_store.events_after_id, scope, event_id, limit)
        return [SharedEvent(row) for row in rows]

    def _forget_failed(self, key: Key, read: asyncio.Future[list[SharedEvent]]) -> None:
        failed = read.cancelled() or read.exception() is not None
        if failed and self._kept.get(key) is read:
            del self._kept[key]
