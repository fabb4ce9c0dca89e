"""Metric use cases: append a batch of points, summarize the series, read a history
(bucketed or exact), and follow the points of one execution."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracking.service.domain import leases
from tracking.service.domain.changes import Change
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    ValidationCollector,
)
from tracking.service.domain.leases import LEASED
from tracking.service.domain.limits import Limits
from tracking.service.domain.metrics import (
    MAX_HISTORY_POINTS,
    MAX_HISTORY_TOTAL,
    MetricBatch,
    buckets_for,
    check_name,
)
from tracking.service.domain.names import check_execution_id
from tracking.service.domain.page_tokens import PageTokenCodec
from tracking.service.domain.status import RunningStatus
from tracking.service.events.hub import EventHub, Topic
from tracking.service.operations.executions import check_id
from tracking.service.operations.recording import Recorder
from tracking.service.operations.streams import Streams, retention_gone
from tracking.service.store import executions as execution_store
from tracking.service.store import metrics as store
from tracking.service.store.database import Database
from tracking.service.store.group import Batch
from tracking.service.store.metrics import SeriesSummary, StoredBucket, StoredPoint

# Points a stream reads at a time.
POINT_BATCH = 1000
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class SeriesList:
    series: list[SeriesSummary]
    last_seq: int


@dataclass
class History:
    """One execution's history of a series: points or buckets."""

    execution_id: str
    count: int
    through_seq: int
    points: list[StoredPoint] = field(default_factory=list)
    buckets: list[StoredBucket] = field(default_factory=list)
    bucket_width: int = 0


@dataclass(frozen=True)
class HistoryPage:
    histories: list[History]
    next_token: str


class Metrics:
    def __init__(
        self,
        db: Database,
        hub: EventHub,
        limits: Limits,
        recorder: Recorder,
        streams: Streams,
    ) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.recorder = recorder
        self.streams = streams
        self.points_written = 0

    async def log(self, execution_id: str, batch: MetricBatch) -> int:
        """Number the points after the execution's last seq and store them in one
        transaction; the seq of the last one."""
        errors = ValidationCollector()
        check_execution_id(errors, "execution_id", execution_id)
        batch.check(errors, self.limits.max_metric_batch)
        errors.raise_if_any()
        missing_steps = sorted(
            {n for n, s in zip(batch.names, batch.steps, strict=True) if s is None}
        )

        async def append(group: Batch) -> int:
            session = group.session
            now = utcnow()
            state = await store.lock(session, execution_id)
            status = RunningStatus(state.status)
            if status.is_terminal:
                raise FailedPrecondition(
                    f"execution {execution_id!r} ended ({status}): no more metric points are "
                    "accepted"
                )
            # The points are a report of the worker: they renew its lease.
            renewed: dict[str, datetime | None] = {}
            event = None
            if state.lapsed_from and status is RunningStatus.UNKNOWN:
                locked, before = await execution_store.lock_status(group.connection, execution_id)
                restored = [Change.STATUS] if leases.renew(locked, now) else []
                event = await self.recorder.save_change(group, locked, before, restored, now)
            elif status in LEASED:
                renewed = leases.renewed_columns(now, state.heartbeat_timeout_seconds)
            largest = (
                await store.largest_steps(session, execution_id, missing_steps)
                if missing_steps
                else {}
            )
            steps = batch.with_steps(largest)
            first = state.metric_seq + 1
            last = state.metric_seq + len(batch)
            await store.set_metric_seq(session, execution_id, last, **renewed)
            await store.insert_batch(session, execution_id, first, batch, steps, now)
            group.announce("metrics", execution_id, state.deployment_name)

            def published() -> None:
                self.points_written += len(batch)
                if event is not None:
                    self.hub.publish([event])
                self.hub.publish_metrics(execution_id)

            group.after_commit(published)
            return last

        # Its refusals come before its first change: no savepoint needed.
        return await self.db.write(append, key=f"1:{execution_id}", savepoint=False, session=True)

    async def series(self, execution_id: str) -> SeriesList:
        check_id(execution_id)
        async with self.db.reading() as session:
            last_seq, _ = await store.cursors(session, execution_id)
            return SeriesList(await store.series(session, execution_id, last_seq), last_seq)

    async def history(
        self,
        execution_ids: Sequence[str],
        name: str,
        *,
        start_step: int | None,
        end_step: int | None,
        max_points: int,
        exact: bool,
        page_token: str,
    ) -> HistoryPage:
        errors = ValidationCollector()
        most = self.limits.max_metric_history_executions
        if not execution_ids:
            errors.add("execution_ids", "name at least one execution")
        elif len(execution_ids) > most:
            errors.add(
                "execution_ids", f"at most {most} executions at once, got {len(execution_ids)}"
            )
        else:
            seen: set[str] = set()
            for index, execution_id in enumerate(execution_ids):
                check_execution_id(errors, f"execution_ids[{index}]", execution_id)
                if execution_id in seen:
                    errors.add(f"execution_ids[{index}]", f"{execution_id!r} is named twice")
                seen.add(execution_id)
        check_name(errors, "name", name)
        if not 1 <= max_points <= MAX_HISTORY_POINTS:
            errors.add(
                "max_points", f"must be between 1 and {MAX_HISTORY_POINTS}, got {max_points}"
            )
        elif max_points * len(execution_ids) > MAX_HISTORY_TOTAL:
            errors.add(
                "max_points",
                f"{max_points} for each of {len(execution_ids)} executions is over "
                f"{MAX_HISTORY_TOTAL} in all",
            )
        if start_step is not None and start_step < 0:
            errors.add("start_step", f"must not be negative, got {start_step}")
        if start_step is not None and end_step is not None and end_step < start_step:
            errors.add("end_step", f"must not be before start_step ({start_step}), got {end_step}")
        if page_token and not exact:
            errors.add("page_token", "pages are for exact histories: set exact")
        errors.raise_if_any()
        start = start_step or 0
        end = INT64_MAX if end_step is None else end_step
        query = f"metrics:{','.join(execution_ids)}:{name}:{start}:{end}:{max_points}"
        codec = PageTokenCodec(self.db.page_token_secret)
        positions: dict[str, list[int]] = {}
        if page_token:
            positions = codec.decode(page_token, query).get("at", {})
            if not isinstance(positions, dict):
                raise InvalidArgument.of("page_token", "is not a token this service issued")
        histories: list[History] = []
        next_positions: dict[str, list[int]] = {}
        async with self.db.reading() as session:
            for execution_id in execution_ids:
                through, _ = await store.cursors(session, execution_id)
                through = positions.get(execution_id, [0, 0, through])[2] if page_token else through
                if page_token and execution_id not in positions:
                    # Read to its end on an earlier page.
                    histories.append(History(execution_id, 0, through))
                    continue
                if exact:
                    size = await store.range_size(session, execution_id, name, start, end, through)
                    count = size.count
                else:
                    count = await store.count_up_to(
                        session, execution_id, name, start, end, through, max_points + 1
                    )
                history = History(execution_id, count, through)
                if exact or count <= max_points:
                    after_step, after_seq, _ = positions.get(execution_id, [-1, 0, through])
                    history.points = await store.range_points(
                        session,
                        execution_id,
                        name,
                        start,
                        end,
                        through,
                        after=(after_step, after_seq),
                        limit=max_points + 1,
                    )
                    if len(history.points) > max_points:
                        del history.points[max_points:]
                        last = history.points[-1]
                        next_positions[execution_id] = [last.step, last.seq, through]
                else:
                    history.buckets, history.bucket_width = await self._buckets(
                        session, execution_id, name, start, end, through, max_points
                    )
                    history.count = sum(bucket.count for bucket in history.buckets)
                histories.append(history)
        token = codec.encode(query, {"at": next_positions}) if next_positions else ""
        return HistoryPage(histories, token)

    @staticmethod
    async def _buckets(
        session: Any,
        execution_id: str,
        name: str,
        start: int,
        end: int,
        through: int,
        max_points: int,
    ) -> tuple[list[StoredBucket], int]:
        """More than max_points points in the range: at most max_points buckets, and the
        steps each spans. Wide buckets come from the rollups, narrow ones from the points."""
        (first,) = await store.range_points(
            session, execution_id, name, start, end, through, after=(-1, 0), limit=1
        )
        last = await store.last_in_range(session, execution_id, name, start, end, through)
        assert last is not None
        cut = buckets_for(first.step, last.step, max_points)
        if cut.width >= 1 << store.LEVELS[0]:
            found = await store.rolled_buckets(
                session, execution_id, name, first.step, last.step, through, cut
            )
        else:
            found = await store.buckets(session, execution_id, name, start, end, through, cut)
        return found, cut.width

    async def follow(
        self,
        execution_id: str,
        *,
        after_seq: int,
        names: Sequence[str],
        follow: bool,
        principal: str = "",
    ) -> AsyncIterator[list[StoredPoint] | None]:
        """Batches of points in seq order; None stands for a heartbeat."""
        errors = ValidationCollector()
        check_execution_id(errors, "execution_id", execution_id)
        if after_seq < 0:
            errors.add("after_seq", f"must not be negative, got {after_seq}")
        for index, name in enumerate(names):
            check_name(errors, f"names[{index}]", name)
        errors.raise_if_any()
        with self.streams.subscribe(Topic("metrics", execution_id), principal) as subscription:
            last_seq, pruned = await self.db.read(store.cursors, execution_id)
            if after_seq > last_seq:
                raise InvalidArgument.of(
                    "after_seq", f"{after_seq} is ahead of the execution's last seq {last_seq}"
                )
            if after_seq < pruned:
                raise retention_gone(
                    f"metric points of {execution_id}", pruned, "they are no longer kept"
                )
            cursor = after_seq
            while True:
                # Read the status first: every point committed before a terminal status is
                # visible to the reads that follow.
                ended = await self.streams.has_ended(execution_id)
                while True:
                    batch = await self.db.read(
                        store.points_after, execution_id, cursor, names, POINT_BATCH
                    )
                    if not batch:
                        break
                    cursor = batch[-1].seq
                    yield batch
                    if len(batch) < POINT_BATCH:
                        break
                if not follow or ended:
                    return
                async for heartbeat in self.streams.heartbeats_until_change(
                    subscription, f"after_seq={cursor}"
                ):
                    yield heartbeat
