"""The two live streams: status events and log lines.

Each stream subscribes to the hub first, then reads the table from its cursor,
then sends what the hub hands it; whenever the hub's event does not follow the
cursor directly, the gap is read from the table. So nothing is missed or sent
twice, and the table stays the only truth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from tracking.service.domain.changes import Change, of_stored
from tracking.service.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    ValidationCollector,
)
from tracking.service.domain.events import ExecutionEvent
from tracking.service.domain.limits import Limits
from tracking.service.domain.log_filters import NO_FILTER, LineFilter
from tracking.service.domain.names import check_deployment_name, check_execution_id
from tracking.service.domain.page_tokens import PageTokenCodec
from tracking.service.domain.status import TERMINAL_VALUES
from tracking.service.events.hub import (
    IDLE,
    EventHub,
    HubClosed,
    SharedEvent,
    Subscription,
    TooManyWatchers,
    Topic,
    WatcherOverflow,
)
from tracking.service.operations import deployment_logs, line_matching
from tracking.service.operations.executions import check_id
from tracking.service.operations.log_reads import BATCH_CHARS, LINE_BATCH, LineReader, tail_start
from tracking.service.operations.shared_reads import SharedEventReads
from tracking.service.store import deployment_logs as deployment_log_store
from tracking.service.store import deployments as deployment_store
from tracking.service.store import executions as execution_store
from tracking.service.store import meta
from tracking.service.store.database import Database
from tracking.service.store.models import ExecutionRow, LogLineRow

# SharedEvent too: WatchStatus sends the hub's event as it was handed over.
__all__ = ["SharedEvent", "StatusItem", "Streams", "overflow_listener"]

READ_BATCH = 500

# Set by the transport: called when the stream's watcher overflows, with the message that
# says where to resume, to close the stream at once, even while it waits to send to a
# reader that stopped reading.
overflow_listener: ContextVar[Callable[[str], None] | None] = ContextVar(
    "overflow_listener", default=None
)


def behind_message(resume_from: str) -> str:
    return f"this watcher fell too far behind and was closed: resume from {resume_from}"


@dataclass(frozen=True)
class StatusItem:
    """One message of WatchStatus read from the table: an event, a snapshot, or (all None)
    a heartbeat. An event the hub handed over is sent as the SharedEvent itself."""

    event: ExecutionEvent | None = None
    snapshot: ExecutionRow | None = None
    resume_token: str = ""
    # Where the watchers that share the event's read leave its encodings for each other.
    encoded: dict[str, bytes] | None = None


HEARTBEAT = StatusItem()


class Nudge(Enum):
    """What the hub hands a watcher when it is not an event."""

    IDLE = "idle"  # nothing for a heartbeat interval: send a heartbeat
    LOOK = "look"  # a change the hub did not hand over (or a shutdown): read the table


def ends_watch(event: ExecutionEvent) -> bool:
    return event.job_status.get("status") in TERMINAL_VALUES or Change.DELETED in of_stored(
        event.changes
    )


def retention_gone(what: str, through: int, resume: str) -> FailedPrecondition:
    return FailedPrecondition(f"{what} up to {through} were removed by retention: {resume}")


class Streams:
    def __init__(self, db: Database, hub: EventHub, limits: Limits) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.lines = LineReader(db, limits.max_concurrent_log_reads)
        self.events = SharedEventReads(db, hub)

    @contextmanager
    def subscribe(self, topic: Topic, principal: str) -> Iterator[Subscription]:
        try:
            subscription = self.hub.subscribe(topic, principal)
        except TooManyWatchers:
            raise ResourceExhausted(
                f"{principal or 'this caller'} already has {self.hub.max_watchers_per_principal} "
                "open streams: close one first"
            ) from None
        except HubClosed:
            raise Unavailable("the server is shutting down: connect to another replica") from None
        listener = overflow_listener.get()
        if listener is not None:
            subscription.on_overflow = lambda: listener(behind_message(subscription.resume_from))
        with subscription:
            yield subscription

    async def has_ended(self, execution_id: str) -> bool:
        """Whether the execution ended or is gone: its status alone is read (not its row,
        which may hold megabytes of outputs)."""
        states = await self.db.read(deployment_log_store.log_states, [execution_id])
        state = states.get(execution_id)
        return state is None or state[0] in TERMINAL_VALUES

    @staticmethod
    async def next_item(subscription: Subscription) -> SharedEvent | Nudge:
        """The hub's next event, or a Nudge: IDLE (time for a heartbeat) or LOOK (read the
        table: a change came that the hub did not hand over). A watcher that is closed
        resumes from `subscription.resume_from`."""
        try:
            item = await subscription.next()
        except WatcherOverflow:
            raise ResourceExhausted(behind_message(subscription.resume_from)) from None
        except HubClosed:
            raise Unavailable(
                f"the server is shutting down: resume from {subscription.resume_from}"
            ) from None
        if isinstance(item, SharedEvent):
            return item
        return Nudge.IDLE if item is IDLE else Nudge.LOOK

    async def heartbeats_until_change(
        self, subscription: Subscription, cursor: str
    ) -> AsyncIterator[None]:
        """One None per idle interval, until anything happens (then the table is read).
        `cursor` names where a watcher that is closed resumes."""
        subscription.resume_from = cursor
        while await self.next_item(subscription) is Nudge.IDLE:
            yield None

    async def watch_execution(
        self, execution_id: str, after_revision: int, principal: str = ""
    ) -> AsyncIterator[StatusItem | SharedEvent]:
        check_id(execution_id)
        if after_revision < 0:
            raise InvalidArgument.of(
                "after_revision", f"must not be negative, got {after_revision}"
            )
        with self.subscribe(Topic("execution", execution_id), principal) as subscription:
            row = await self.db.read(execution_store.find, execution_id)
            if row is None:
                pending = await self.db.read(
                    execution_store.events_after_revision, execution_id, after_revision, 1
                )
                if not pending:
                    if after_revision and await self.db.read(
                        execution_store.was_deleted_at, execution_id, after_revision
                    ):
                        return  # the watcher already saw the end: the deletion
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
                    if row.status in TERMINAL_VALUES:
                        return
                elif after_revision == row.revision and row.status in TERMINAL_VALUES:
                    return
                elif after_revision < row.pruned_revision:
                    raise retention_gone(
                        f"events of {execution_id}",
                        row.pruned_revision,
                        "watch again without after_revision to start from a fresh snapshot",
                    )
            # A watch may wait for hours: its frame keeps nothing it no longer needs.
            del row
            while True:
                rows = await self.db.read(
                    execution_store.events_after_revision, execution_id, cursor, READ_BATCH
                )
                for event in rows:
                    subscription.resume_from = f"after_revision={event.revision}"
                    yield StatusItem(event=event)
                    cursor = event.revision
                    if ends_watch(event):
                        return
                if len(rows) == READ_BATCH:
                    continue
                rows = []
                # Follow the hub until it hands over something that is not next in line.
                # This runs once per change per watcher: what is the same for every watcher
                # (the event's end, its bytes) was worked out once, by the hub and the first.
                subscription.resume_from = f"after_revision={cursor}"
                while True:
                    item = await self.next_item(subscription)
                    if item is Nudge.IDLE:
                        yield HEARTBEAT
                        continue
                    if item is Nudge.LOOK:
                        break
                    assert isinstance(item, SharedEvent)
                    revision = item.row.revision
                    if revision <= cursor:
                        continue
                    if revision != cursor + 1:
                        break
                    cursor = revision
                    subscription.resume_from = f"after_revision={revision}"
                    yield item
                    if item.ends:
                        return

    async def watch_many(
        self, deployment_name: str, resume_token: str, principal: str = ""
    ) -> AsyncIterator[StatusItem]:
        """Every execution of a deployment (or of the service when deployment_name is empty)."""
        if deployment_name:
            errors = ValidationCollector()
            check_deployment_name(errors, "deployment_name", deployment_name)
            errors.raise_if_any()
        scope = deployment_name or None
        query = f"watch:{deployment_name}"
        codec = PageTokenCodec(self.db.page_token_secret)
        topic = Topic("deployment", deployment_name) if scope else Topic("all")
        with self.subscribe(topic, principal) as subscription:
            seen: dict[str, int] = {}
            snapshot_after: tuple[datetime, str] | None = None
            cursor: int
            if resume_token:
                position = codec.decode(resume_token, query, "resume_token")
                given = position.get("id")
                if not isinstance(given, int) or given < 0:
                    raise InvalidArgument.of("resume_token", "is not a token this service issued")
                cursor = given
                snapshotting = "snap" in position
                if snapshotting and position["snap"]:
                    time_text, last_id = position["snap"]
                    snapshot_after = (datetime.fromisoformat(time_text), last_id)
                pruned = int(await self.db.read(meta.get, meta.PRUNED_EVENT_ID) or 0)
                if cursor < pruned:
                    raise retention_gone(
                        "events",
                        pruned,
                        "watch again without resume_token to start from fresh snapshots",
                    )
            else:
                snapshotting = True
                if scope:
                    await self.db.read(deployment_store.get, scope)
                cursor = await self.db.read(execution_store.last_event_id)
            # Snapshots of every execution that can still change, each with a token that
            # resumes right after it (a watch cut off among them gets the rest).
            while snapshotting:
                rows_left = await self.db.read(
                    execution_store.unfinished, scope, TERMINAL_VALUES, snapshot_after, READ_BATCH
                )
                for row in rows_left:
                    seen[row.execution_id] = row.revision
                    snapshot_after = (row.create_time, row.execution_id)
                    token = codec.encode(
                        query,
                        {"id": cursor, "snap": [row.create_time.isoformat(), row.execution_id]},
                    )
                    yield StatusItem(snapshot=row, resume_token=token)
                snapshotting = len(rows_left) == READ_BATCH
            rows_left = []
            while True:
                rows = await self.events.events_after(scope, cursor, READ_BATCH)
                for shared in rows:
                    event = shared.row
                    assert event.id is not None
                    cursor = event.id
                    if event.revision <= seen.get(event.execution_id, 0):
                        continue
                    yield StatusItem(
                        event=event,
                        resume_token=codec.encode(query, {"id": cursor}),
                        encoded=shared.encoded,
                    )
                if len(rows) == READ_BATCH:
                    continue
                rows = []
                async for _ in self.heartbeats_until_change(
                    subscription, "the last event's resume_token"
                ):
                    yield HEARTBEAT

    async def follow_logs(
        self,
        execution_id: str,
        *,
        after_seq: int,
        since: datetime | None,
        tail: int,
        stream: str | None,
        follow: bool,
        keep: LineFilter = NO_FILTER,
        principal: str = "",
    ) -> AsyncIterator[list[LogLineRow] | None]:
        """Batches of lines; None stands for a heartbeat."""
        errors = ValidationCollector()
        check_execution_id(errors, "execution_id", execution_id)
        if after_seq < 0:
            errors.add("after_seq", f"must not be negative, got {after_seq}")
        if not 0 <= tail <= self.limits.max_tail:
            errors.add("tail", f"must be between 0 and {self.limits.max_tail}, got {tail}")
        errors.raise_if_any()
        with self.subscribe(Topic("logs", execution_id), principal) as subscription:
            row = await self.db.read(execution_store.get, execution_id)
            if after_seq > row.log_seq:
                raise InvalidArgument.of(
                    "after_seq",
                    f"{after_seq} is ahead of the execution's last seq {row.log_seq}",
                )
            if after_seq < row.pruned_log_seq:
                raise retention_gone(
                    f"log lines of {execution_id}", row.pruned_log_seq, "they are no longer kept"
                )
            cursor = after_seq
            if tail:
                cursor = await tail_start(
                    self.lines,
                    execution_id,
                    after_seq=after_seq,
                    since=since,
                    stream=stream,
                    tail=tail,
                    keep=keep,
                )
            del row
            while True:
                # Read the status first: every line committed before a terminal status is
                # visible to the reads that follow.
                ended = await self.has_ended(execution_id)
                while True:
                    batch = await self.lines.batch(
                        execution_id,
                        after_seq=cursor,
                        from_time=since,
                        stream=stream,
                        limit=LINE_BATCH,
                        max_chars=BATCH_CHARS,
                    )
                    if not batch:
                        break
                    cursor = batch[-1].seq
                    kept = await line_matching.kept(keep, batch)
                    del batch
                    if kept:
                        subscription.resume_from = f"after_seq={cursor}"
                        yield kept
                if not follow or ended:
                    return
                async for heartbeat in self.heartbeats_until_change(
                    subscription, f"after_seq={cursor}"
                ):
                    yield heartbeat

    def follow_deployment_logs(
        self,
        deployment_name: str,
        *,
        since: datetime | None,
        tail: int,
        stream: str | None,
        keep: LineFilter,
        follow: bool,
        resume_token: str,
        principal: str = "",
    ) -> AsyncIterator[deployment_logs.DeploymentLogBatch | None]:
        """Batches of lines of every execution of a deployment; None stands for a heartbeat."""
        errors = ValidationCollector()
        check_deployment_name(errors, "deployment_name", deployment_name)
        if not 0 <= tail <= self.limits.max_tail:
            errors.add("tail", f"must be between 0 and {self.limits.max_tail}, got {tail}")
        errors.raise_if_any()
        return deployment_logs.DeploymentLogStream(
            self,
            deployment_name,
            since=since,
            tail=tail,
            stream=stream,
            keep=keep,
            follow=follow,
        ).run(resume_token, principal)
