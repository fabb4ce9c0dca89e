"""The two live streams: status events and log lines.

Each stream subscribes to the hub first, then reads the table from its cursor,
then sends what the hub hands it; whenever the hub's event does not follow the
cursor directly, the gap is read from the table. So nothing is missed or sent
twice, and the table stays the only truth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.errors import (
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    ValidationCollector,
)
from tracking.service.domain.limits import Limits
from tracking.service.domain.names import check_deployment_name, check_execution_id
from tracking.service.domain.page_tokens import PageTokenCodec
from tracking.service.domain.status import RunningStatus
from tracking.service.events.hub import EventHub, HubClosed, Subscription, Topic, WatcherOverflow
from tracking.service.operations.executions import check_id
from tracking.service.store import deployments as deployment_store
from tracking.service.store import executions as execution_store
from tracking.service.store import logs as log_store
from tracking.service.store.database import Database
from tracking.service.store.models import ExecutionEventRow, ExecutionRow, LogLineRow

READ_BATCH = 500
TERMINAL = frozenset(s.value for s in RunningStatus if s.is_terminal)


@dataclass(frozen=True)
class StatusItem:
    """One message of WatchStatus: an event, a snapshot (event is None) or a heartbeat."""

    event: ExecutionEventRow | None = None
    snapshot: ExecutionRow | None = None
    resume_token: str = ""


HEARTBEAT = StatusItem()


def ends_watch(event: ExecutionEventRow) -> bool:
    return event.job_status.get("status") in TERMINAL or "DELETED" in event.changes.split(",")


class Streams:
    def __init__(
        self, db: Database, hub: EventHub, limits: Limits, heartbeat_seconds: float
    ) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.heartbeat = heartbeat_seconds

    def _codec(self) -> PageTokenCodec:
        return PageTokenCodec(self.db.page_token_secret)

    async def _next(
        self, subscription: Subscription, cursor: str
    ) -> ExecutionEventRow | Literal[False] | None:
        """The hub's next item; False on an idle interval (time for a heartbeat)."""
        try:
            return await subscription.next(self.heartbeat)
        except TimeoutError:
            return False
        except WatcherOverflow:
            raise ResourceExhausted(
                f"this watcher fell too far behind and was closed: resume from {cursor}"
            ) from None
        except HubClosed:
            raise Unavailable(f"the server is shutting down: resume from {cursor}") from None

    async def watch_execution(
        self, execution_id: str, after_revision: int
    ) -> AsyncIterator[StatusItem]:
        check_id(execution_id)
        if after_revision < 0:
            raise InvalidArgument.of(
                "after_revision", f"must not be negative, got {after_revision}"
            )
        with self.hub.subscribe(Topic("execution", execution_id)) as subscription:
            async with self.db.reading() as session:
                row = await execution_store.find(session, execution_id)
                if row is None:
                    pending = await execution_store.events_after_revision(
                        session, execution_id, after_revision, READ_BATCH
                    )
                    if not pending:
                        raise NotFound("execution", execution_id)
            cursor = after_revision
            if row is not None:
                if after_revision > row.revision:
                    raise InvalidArgument.of(
                        "after_revision",
                        f"{after_revision} is ahead of the execution's revision {row.revision}",
                    )
                if after_revision == 0:
                    yield StatusItem(snapshot=row)
                    cursor = row.revision
                    if row.status in TERMINAL:
                        return
                elif after_revision == row.revision and row.status in TERMINAL:
                    return
            while True:
                # Catch up from the table.
                async with self.db.reading() as session:
                    rows = await execution_store.events_after_revision(
                        session, execution_id, cursor, READ_BATCH
                    )
                for event in rows:
                    yield StatusItem(event=event)
                    cursor = event.revision
                    if ends_watch(event):
                        return
                if len(rows) == READ_BATCH:
                    continue
                # Follow the hub until it hands us something that is not next in line.
                while True:
                    item = await self._next(subscription, f"after_revision={cursor}")
                    if item is False:
                        yield HEARTBEAT
                        continue
                    if item is None:
                        break
                    if item.revision <= cursor:
                        continue
                    if item.revision != cursor + 1:
                        break
                    yield StatusItem(event=item)
                    cursor = item.revision
                    if ends_watch(item):
                        return

    async def watch_many(
        self, deployment_name: str, resume_token: str
    ) -> AsyncIterator[StatusItem]:
        """Every execution of a deployment (or of the service when deployment_name is empty)."""
        if deployment_name:
            errors = ValidationCollector()
            check_deployment_name(errors, "deployment_name", deployment_name)
            errors.raise_if_any()
        scope = deployment_name or None
        query = f"watch:{deployment_name}"
        codec = self._codec()
        topic = Topic("deployment", deployment_name) if scope else Topic("all")
        with self.hub.subscribe(topic) as subscription:
            seen: dict[str, int] = {}
            if resume_token:
                position = codec.decode(resume_token, query, "resume_token")
                cursor = position.get("id")
                if not isinstance(cursor, int) or cursor < 0:
                    raise InvalidArgument.of("resume_token", "is not a token this service issued")
            else:
                async with self.db.reading() as session:
                    cursor = await execution_store.last_event_id(session)
                    if scope:
                        await deployment_store.get(session, scope)
                    snapshots = await self._open_executions(session, scope)
                token = codec.encode(query, {"id": cursor})
                for row in snapshots:
                    seen[row.execution_id] = row.revision
                    yield StatusItem(snapshot=row, resume_token=token)
            while True:
                async with self.db.reading() as session:
                    rows = await execution_store.events_after_id(session, scope, cursor, READ_BATCH)
                for event in rows:
                    assert event.id is not None
                    cursor = event.id
                    if event.revision <= seen.get(event.execution_id, 0):
                        continue
                    yield StatusItem(event=event, resume_token=codec.encode(query, {"id": cursor}))
                if len(rows) == READ_BATCH:
                    continue
                while await self._next(subscription, "the last event's resume_token") is False:
                    yield HEARTBEAT

    @staticmethod
    async def _open_executions(session: AsyncSession, scope: str | None) -> list[ExecutionRow]:
        return await execution_store.unfinished(session, scope, TERMINAL)

    async def follow_logs(
        self,
        execution_id: str,
        *,
        after_seq: int,
        since: datetime | None,
        tail: int,
        stream: str | None,
        follow: bool,
    ) -> AsyncIterator[list[LogLineRow] | None]:
        """Batches of lines; None stands for a heartbeat."""
        errors = ValidationCollector()
        check_execution_id(errors, "execution_id", execution_id)
        if after_seq < 0:
            errors.add("after_seq", f"must not be negative, got {after_seq}")
        if not 0 <= tail <= self.limits.max_tail:
            errors.add("tail", f"must be between 0 and {self.limits.max_tail}, got {tail}")
        errors.raise_if_any()
        with self.hub.subscribe(Topic("logs", execution_id)) as subscription:
            async with self.db.reading() as session:
                row = await execution_store.get(session, execution_id)
                if after_seq > row.log_seq:
                    raise InvalidArgument.of(
                        "after_seq",
                        f"{after_seq} is ahead of the execution's last seq {row.log_seq}",
                    )
                cursor = after_seq
                if tail:
                    newest = await log_store.query(
                        session,
                        execution_id,
                        after_seq=after_seq,
                        from_time=since,
                        stream=stream,
                        limit=tail,
                        newest_first=True,
                    )
                    if newest:
                        cursor = newest[-1].seq - 1
            while True:
                async with self.db.reading() as session:
                    # Read the status first: lines committed before a terminal status are
                    # all visible to the read that follows it.
                    current = await execution_store.find(session, execution_id)
                    ended = current is None or current.status in TERMINAL
                    while True:
                        batch = await log_store.query(
                            session,
                            execution_id,
                            after_seq=cursor,
                            from_time=since,
                            stream=stream,
                            limit=READ_BATCH,
                        )
                        if not batch:
                            break
                        cursor = batch[-1].seq
                        yield batch
                if not follow or ended:
                    return
                while await self._next(subscription, f"after_seq={cursor}") is False:
                    yield None
