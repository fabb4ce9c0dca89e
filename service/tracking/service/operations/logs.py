"""Log use cases: append a batch, read a range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tracking.service.domain import leases
from tracking.service.domain.changes import Change
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import FailedPrecondition, ValidationCollector
from tracking.service.domain.leases import LEASED
from tracking.service.domain.limits import Limits
from tracking.service.domain.log_batch import LogBatch
from tracking.service.domain.log_filters import MatchBudget, line_filter
from tracking.service.domain.status import RunningStatus
from tracking.service.events.hub import EventHub
from tracking.service.operations import line_matching
from tracking.service.operations.executions import check_id
from tracking.service.operations.recording import Recorder
from tracking.service.store import executions as execution_store
from tracking.service.store import logs as store
from tracking.service.store.database import Database
from tracking.service.store.group import Batch
from tracking.service.store.models import LogLineRow

# Lines read at a time while a filter looks for matches, and their characters at most.
SCAN_BATCH = 1000
SCAN_BATCH_CHARS = 4 << 20
# What one filtered read examines at most, in lines, in characters and in seconds of
# matching: a pattern that matches nothing in a long log costs a bounded amount of work,
# and the response says where to read on.
MAX_SCANNED_LINES = 100_000
MAX_SCANNED_CHARS = 16 << 20
MAX_MATCH_SECONDS = 0.5
# What one read returns at most, in characters of messages (with one line always): the
# response holds 2 MiB at most, and 10,000 lines of 64 KB would be 640 MB to read for it.
READ_CHARS = 2 << 20


@dataclass(frozen=True)
class LogPage:
    """Lines of one read; `more`: further lines match, and only the server's limit of lines
    per read (not the request's limit) kept them out."""

    lines: list[LogLineRow]
    more: bool
    # A filtered read stopped after examining MAX_SCANNED_LINES: the seq of the last line it
    # examined (0 when it read to the end).
    scanned_to: int = 0


class Logs:
    def __init__(self, db: Database, hub: EventHub, limits: Limits, recorder: Recorder) -> None:
        self.db = db
        self.hub = hub
        self.limits = limits
        self.recorder = recorder
        self.lines_written = 0

    async def append(self, execution_id: str, lines: LogBatch) -> int:
        """Number the lines after the execution's last seq and store them in one transaction."""
        check_id(execution_id)
        errors = ValidationCollector()
        if not lines:
            errors.add("entries", "send at least one line")
        if len(lines) > self.limits.max_log_batch:
            errors.add(
                "entries", f"at most {self.limits.max_log_batch} lines per batch, got {len(lines)}"
            )
        longest = self.limits.max_log_line
        if lines and max(map(len, lines.messages)) > longest:
            for index, message in enumerate(lines.messages):
                if len(message) > longest:
                    errors.add(
                        f"entries[{index}].message",
                        f"at most {longest} characters, got {len(message)}",
                    )
        errors.raise_if_any()

        async def append(batch: Batch) -> int:
            now = utcnow()
            state = await execution_store.lock_log_seq(batch.connection, execution_id)
            status, log_seq = RunningStatus(state.status), state.log_seq
            if status.is_terminal:
                raise FailedPrecondition(
                    f"execution {execution_id!r} ended ({status}): no more log lines are accepted"
                )
            # The lines are a report of the worker: they renew its lease.
            renewed: dict[str, datetime | None] = {}
            event = None
            if state.lapsed_from and status is RunningStatus.UNKNOWN:
                locked, before = await execution_store.lock_status(batch.connection, execution_id)
                restored = [Change.STATUS] if leases.renew(locked, now) else []
                event = await self.recorder.save_change(batch, locked, before, restored, now)
            elif status in LEASED:
                renewed = leases.renewed_columns(now, state.heartbeat_timeout_seconds)
            first = log_seq + 1
            log_seq += len(lines)
            await execution_store.set_log_seq(batch.connection, execution_id, log_seq, **renewed)
            await store.insert_batch(batch.connection, execution_id, first, lines, now)
            size = sum(map(len, lines.messages))
            batch.announce("logs", execution_id, state.deployment_name, size=size)

            def published() -> None:
                self.lines_written += len(lines)
                if event is not None:
                    self.hub.publish([event])
                self.hub.publish_logs(execution_id, state.deployment_name, size)

            batch.after_commit(published)
            return log_seq

        # Its one refusal comes before its first change: no savepoint needed.
        return await self.db.write(append, key=f"1:{execution_id}", savepoint=False)

    async def read(
        self,
        execution_id: str,
        *,
        from_time: datetime | None,
        to_time: datetime | None,
        limit: int,
        stream: str | None,
        after_seq: int,
        contains: str = "",
        pattern: str = "",
    ) -> LogPage:
        check_id(execution_id)
        errors = ValidationCollector()
        if limit < 0:
            errors.add("limit", f"must not be negative, got {limit}")
        if after_seq < 0:
            errors.add("after_seq", f"must not be negative, got {after_seq}")
        if from_time and to_time and to_time < from_time:
            errors.add("to_time", "must not be before from_time")
        keep = line_filter(errors, contains, pattern)
        errors.raise_if_any()
        allowed = min(limit or self.limits.max_log_read, self.limits.max_log_read)
        if keep.keeps_everything:
            async with self.db.reading() as session:
                await execution_store.get(session, execution_id)
                lines = await store.query(
                    session,
                    execution_id,
                    after_seq=after_seq,
                    from_time=from_time,
                    to_time=to_time,
                    stream=stream,
                    limit=allowed + 1,
                    max_chars=READ_CHARS,
                )
            if len(lines) <= allowed and _chars(lines) >= READ_CHARS:
                return LogPage(lines, True)  # cut by size: more lines may follow
        else:
            await self.db.read(execution_store.get, execution_id)
            # A batch per read, so that a long scan holds no transaction open; one line past
            # what may be returned tells whether more match.
            lines = []
            cursor = after_seq
            scanned_lines = scanned_chars = kept_chars = 0
            budget = MatchBudget(MAX_MATCH_SECONDS)
            while len(lines) <= allowed:
                if (
                    scanned_lines >= MAX_SCANNED_LINES
                    or scanned_chars >= MAX_SCANNED_CHARS
                    or budget.spent
                ):
                    return LogPage(lines, True, scanned_to=cursor)
                batch = await self.db.read(
                    store.query,
                    execution_id,
                    after_seq=cursor,
                    from_time=from_time,
                    to_time=to_time,
                    stream=stream,
                    limit=SCAN_BATCH,
                    max_chars=SCAN_BATCH_CHARS,
                )
                whole = len(batch) < SCAN_BATCH and _chars(batch) < SCAN_BATCH_CHARS
                within = _within_chars(batch, MAX_SCANNED_CHARS - scanned_chars, scanned_lines)
                if batch and not within:
                    return LogPage(lines, True, scanned_to=cursor)
                scan = await line_matching.scan(keep, within, budget)
                examined = within[: scan.examined]
                scanned_lines += len(examined)
                scanned_chars += sum(len(line.message) for line in examined)
                lines += scan.kept
                kept_chars += _chars(scan.kept)
                if kept_chars >= READ_CHARS and len(lines) <= allowed:
                    return LogPage(lines, True)  # as many as a response holds: read on
                if len(examined) == len(batch) and whole:
                    break
                cursor = examined[-1].seq
        more = len(lines) > allowed
        server_capped = limit == 0 or limit > allowed
        return LogPage(lines[:allowed], more and server_capped)


def _within_chars(batch: list[LogLineRow], chars: int, scanned: int) -> list[LogLineRow]:
    """The first lines of a batch whose messages take at most `chars` (at least one when
    none was `scanned` yet, so that a read always moves on)."""
    total = 0
    for index, line in enumerate(batch):
        total += len(line.message)
        if total > chars and (index or scanned):
            return batch[:index]
    return batch


def _chars(lines: list[LogLineRow]) -> int:
    return sum(len(line.message) for line in lines)
