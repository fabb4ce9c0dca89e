"""Reads of one execution's lines that both log streams share.

Replays are the heaviest reads the server does: a stream that starts at the beginning of a
long log reads it all, batch after batch. Two things keep a storm of them from starving
everyone else: a batch is small (what an unread stream holds is one batch), and at most
`max_concurrent` batches are read at once, in the order they were asked for, so a plain
call waits behind a few batches rather than behind every replay.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from tracking.service.domain.log_filters import LineFilter
from tracking.service.operations import line_matching
from tracking.service.store import logs as log_store
from tracking.service.store.database import Database
from tracking.service.store.models import LogLineRow

READ_BATCH = 500
LINE_BATCH = 100
# What a stream's batch holds at most, in characters of messages (with one line always):
# 100 lines of 64 KB would be 6.4 MB for a reader that may never read.
BATCH_CHARS = 256 * 1024


class LineReader:
    """Reads batches of one execution's lines, a few streams at a time."""

    def __init__(self, db: Database, max_concurrent: int = 4) -> None:
        self.db = db
        self._gate = asyncio.Semaphore(max_concurrent)

    async def batch(self, execution_id: str, **query: Any) -> list[LogLineRow]:
        """Lines after `after_seq`, oldest first (or newest first), at most `limit`."""
        async with self._gate:
            return await self.db.read(log_store.query, execution_id, **query)


async def tail_start(
    reader: LineReader,
    execution_id: str,
    *,
    after_seq: int,
    since: datetime | None,
    stream: str | None,
    tail: int,
    keep: LineFilter,
) -> int:
    """The seq right before the `tail` newest lines that pass the filters (`after_seq` when
    fewer pass)."""
    before: int | None = None
    found = 0
    while True:
        newest = await reader.batch(
            execution_id,
            after_seq=after_seq,
            before_seq=before,
            from_time=since,
            stream=stream,
            limit=tail if keep.keeps_everything else READ_BATCH,
            newest_first=True,
        )
        for line in await line_matching.kept(keep, newest):
            found += 1
            if found == tail:
                return line.seq - 1
        if keep.keeps_everything or len(newest) < READ_BATCH:
            return after_seq
        before = newest[-1].seq
