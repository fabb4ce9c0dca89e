"""StreamLogs of a whole deployment: the lines of each of its executions, as they commit.

The stream subscribes to the deployment's log topic (woken by the lines, the creations,
the ends and the deletions of its executions, and by the deployment's deletion), then
looks at the tables: new CREATED and DELETED events of the deployment, the executions
left to list, then one batch of new lines of each execution it follows, round after round
until none has new lines. Whatever the hub wakes it for, the tables say what is new; see
domain/deployment_log_cursor.py for how the cursor finds each execution once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tracking.service.domain.changes import Change, of_stored
from tracking.service.domain.clock import utcnow
from tracking.service.domain.deployment_log_cursor import DeploymentLogCursor
from tracking.service.domain.errors import FailedPrecondition
from tracking.service.domain.log_filters import LineFilter
from tracking.service.domain.page_tokens import PageTokenCodec, query_fingerprint
from tracking.service.domain.status import TERMINAL_VALUES
from tracking.service.events.hub import Topic
from tracking.service.operations import line_matching
from tracking.service.operations.log_reads import (
    BATCH_CHARS,
    LINE_BATCH,
    READ_BATCH,
    tail_start,
)
from tracking.service.store import deployment_logs as store
from tracking.service.store import deployments as deployment_store
from tracking.service.store import executions as execution_store
from tracking.service.store import meta
from tracking.service.store.group import Batch
from tracking.service.store.models import LogLineRow

if TYPE_CHECKING:
    from tracking.service.operations.streams import Streams

# Executions listed at a time: each is followed until it ended and its lines were sent.
LIST_BATCH = 100


@dataclass(frozen=True)
class DeploymentLogBatch:
    """Lines of one execution, and the token that resumes right after the line of a seq."""

    execution_id: str
    lines: list[LogLineRow]
    resume_token: Callable[[int], str]


class DeploymentLogStream:
    def __init__(
        self,
        streams: Streams,
        deployment_name: str,
        *,
        since: datetime | None,
        tail: int,
        stream: str | None,
        keep: LineFilter,
        follow: bool,
    ) -> None:
        self.streams = streams
        self.db = streams.db
        self.deployment_name = deployment_name
        self.since = since
        self.tail = tail
        self.stream = stream
        self.keep = keep
        self.follow = follow
        self.codec = PageTokenCodec(self.db.page_token_secret)
        # A token resumes only the stream of the same deployment and filters.
        self.query = "deployment-logs:" + query_fingerprint(
            deployment_name, since.isoformat() if since else "", stream, keep.contains, keep.pattern
        )

    async def run(
        self, resume_token: str, principal: str
    ) -> AsyncIterator[DeploymentLogBatch | None]:
        topic = Topic("deployment_logs", self.deployment_name)
        with self.streams.subscribe(topic, principal) as subscription:
            if resume_token:
                cursor = DeploymentLogCursor.from_position(
                    self.codec.decode(resume_token, self.query, "resume_token")
                )
                if cursor.base_id is not None:
                    chain = await self.db.read(store.saved_chain, cursor.base_id, utcnow())
                    if chain is None:
                        raise FailedPrecondition(
                            "this resume_token is older than "
                            f"{store.DEPLOYMENT_LOG_CURSOR_DAYS} days: "
                            "stream again without resume_token to start afresh"
                        )
                    cursor.with_base(chain)
                pruned = int(await self.db.read(meta.get, meta.PRUNED_EVENT_ID) or 0)
                if cursor.events_after < pruned:
                    raise FailedPrecondition(
                        f"events up to {pruned} were removed by retention: "
                        "stream again without resume_token to start afresh"
                    )
            else:
                await self.db.read(deployment_store.get, self.deployment_name)
                start = await self.db.read(execution_store.last_event_id)
                cursor = DeploymentLogCursor(events_after=start, listing_cutoff=start)
            while True:
                if not await self.db.read(deployment_store.exists_named, self.deployment_name):
                    return  # deleted, with its executions and their lines
                await self._take_events(cursor)
                await self._list_more(cursor)
                async for batch in self._new_lines(cursor):
                    yield batch
                if cursor.listing:
                    continue
                if not self.follow:
                    return
                async for heartbeat in self.streams.heartbeats_until_change(
                    subscription, "the last resume_token"
                ):
                    yield heartbeat

    async def _take_events(self, cursor: DeploymentLogCursor) -> None:
        """Follow the executions created since the cursor's events; drop the deleted ones."""
        while True:
            events = await self.streams.events.events_after(
                self.deployment_name, cursor.events_after, READ_BATCH
            )
            for shared in events:
                event = shared.row
                assert event.id is not None
                cursor.events_after = event.id
                changes = of_stored(event.changes)
                if Change.DELETED in changes:
                    cursor.seqs.pop(event.execution_id, None)
                elif Change.CREATED in changes:
                    cursor.seqs[event.execution_id] = 0
            if len(events) < READ_BATCH:
                return

    async def _list_more(self, cursor: DeploymentLogCursor) -> None:
        """Follow the next few executions that existed when the stream opened."""
        if cursor.listing_cutoff is None:
            return
        listed = await self.db.read(
            store.listed_executions,
            self.deployment_name,
            cursor.listing_cutoff,
            cursor.listed_after,
            LIST_BATCH,
        )
        for execution_id, create_time in listed:
            seq = 0
            if self.tail:
                seq = await tail_start(
                    self.streams.lines,
                    execution_id,
                    after_seq=0,
                    since=self.since,
                    stream=self.stream,
                    tail=self.tail,
                    keep=self.keep,
                )
            cursor.seqs[execution_id] = seq
            cursor.listed_after = (create_time, execution_id)
        if len(listed) < LIST_BATCH:
            cursor.listing_cutoff = None
            cursor.listed_after = None

    async def _new_lines(self, cursor: DeploymentLogCursor) -> AsyncIterator[DeploymentLogBatch]:
        """Rounds of one batch per execution until no execution has more; an execution that
        ended and whose lines were all read is dropped."""
        while cursor.seqs:
            states = await self.db.read(store.log_states, list(cursor.seqs))
            full_batch = False
            for execution_id in list(cursor.seqs):
                if cursor.needs_base:
                    await self._save(cursor)
                state = states.get(execution_id)
                if state is None:
                    cursor.seqs.pop(execution_id, None)  # deleted
                    continue
                status, log_seq = state
                seq = cursor.seqs[execution_id]
                if log_seq <= seq:
                    # The status was read with the last seq: lines are refused once it ended.
                    if status in TERMINAL_VALUES:
                        cursor.finish(execution_id)
                    continue
                lines = await self.streams.lines.batch(
                    execution_id,
                    after_seq=seq,
                    from_time=self.since,
                    stream=self.stream,
                    limit=LINE_BATCH,
                    max_chars=BATCH_CHARS,
                )
                # A batch of as many lines or characters as a batch holds may have left some.
                if len(lines) == LINE_BATCH or _chars(lines) >= BATCH_CHARS:
                    full_batch = True
                    cursor.seqs[execution_id] = lines[-1].seq
                elif status in TERMINAL_VALUES:
                    cursor.seqs[execution_id] = lines[-1].seq if lines else seq
                    cursor.finish(execution_id)  # ended before this read: nothing follows
                else:
                    # Every line up to log_seq was committed before this read, and none
                    # left out by since or stream comes back.
                    cursor.seqs[execution_id] = max(log_seq, lines[-1].seq if lines else 0)
                kept = await line_matching.kept(self.keep, lines)
                del lines
                if kept:
                    yield DeploymentLogBatch(
                        execution_id, kept, self._token_maker(cursor, execution_id)
                    )
            if not full_batch:
                return

    async def _save(self, cursor: DeploymentLogCursor) -> None:
        """Save the position (its seqs all sent) for the tokens to build on: they stay
        small."""
        now = utcnow()
        saved = cursor.to_save(now, store.roots_after(now))

        async def save(batch: Batch) -> int:
            return await store.save_cursor(batch.session, saved)

        saved_id = await self.db.write(save, key="2:deployment-log-cursor", session=True)
        cursor.based_on(saved_id, saved)

    def _token_maker(self, cursor: DeploymentLogCursor, execution_id: str) -> Callable[[int], str]:
        # Called while the stream waits at the yield: the cursor is as the batch left it.
        return lambda seq: self.codec.encode(self.query, cursor.position(execution_id, seq))


def _chars(lines: list[LogLineRow]) -> int:
    return sum(len(line.message) for line in lines)
