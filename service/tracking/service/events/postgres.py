"""Tells this replica's hub what another replica committed (PostgreSQL LISTEN/NOTIFY).

Writers send NOTIFY inside their transaction (Database.announce), so an
announcement goes out exactly when the change commits. One that carries its
event hands it to the hub as a commit of this process would (the execution's
watchers send it without a query; the others are woken and read the tables);
any other wakes the watchers it concerns, which read the tables. A watcher
handed an event that does not follow what it sent reads the gap from the table.
If the listening connection drops, it is opened again and every watcher re-reads
the table, so nothing committed while it was down is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tracking.service.domain.announcement import CHANNEL, decode_announcement
from tracking.service.events.hub import EventHub

log = logging.getLogger("tracking.events.postgres")


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresBridge:
    def __init__(
        self, url: str, hub: EventHub, replica_id: str, retry_seconds: float = 1.0
    ) -> None:
        self.dsn = asyncpg_dsn(url)
        self.hub = hub
        self.replica_id = replica_id
        self.retry_seconds = retry_seconds
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._connection: Any = None

    async def start(self) -> None:
        """Listen; returns once the first connection listens."""
        self._task = asyncio.create_task(self._run(), name="tracking-postgres-bridge")
        await asyncio.wait_for(self.connected.wait(), 30)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        announcement = decode_announcement(payload)
        if announcement is None or announcement.replica_id == self.replica_id:
            return
        if announcement.kind == "logs":
            self.hub.publish_logs(
                announcement.execution_id, announcement.deployment_name, announcement.size
            )
        elif announcement.kind == "metrics":
            self.hub.publish_metrics(announcement.execution_id)
        elif announcement.kind == "deployment_deleted" and announcement.deployment_name:
            self.hub.deployment_deleted(announcement.deployment_name)
        elif announcement.event is not None:
            self.hub.publish([announcement.event])
        else:
            self.hub.changed_elsewhere(announcement.execution_id, announcement.deployment_name)

    def _on_termination(self, _connection: Any) -> None:
        self._lost.set()

    async def _run(self) -> None:
        while True:
            try:
                self._connection = await asyncpg.connect(self.dsn, timeout=10)
                self._connection.add_termination_listener(self._on_termination)
                await self._connection.add_listener(CHANNEL, self._on_notify)
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("cannot listen for changes of other replicas (%s); retrying", error)
                await asyncio.sleep(self.retry_seconds)
                continue
            if self.connected.is_set():
                self.reconnects += 1
                log.info("listening again for changes of other replicas")
            # Whatever committed while nobody listened is in the tables: look again.
            self.hub.wake_all()
            self.connected.set()
            self._lost.clear()
            await self._lost.wait()
            log.warning("lost the connection that listens for other replicas; reconnecting")
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=1)
