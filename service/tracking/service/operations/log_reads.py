"""Reads of one execution's lines that both log streams share."""

from __future__ import annotations

from datetime import datetime

from tracking.service.domain.log_filters import LineFilter
from tracking.service.store import logs as log_store
from tracking.service.store.database import Database

READ_BATCH = 500


async def tail_start(
    db: Database,
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
        newest = await db.read(
            log_store.query,
            execution_id,
            after_seq=after_seq,
            before_seq=before,
            from_time=since,
            stream=stream,
            limit=tail if keep.keeps_everything else READ_BATCH,
            newest_first=True,
        )
        for line in newest:
            if keep.keeps(line.message):
                found += 1
                if found == tail:
                    return line.seq - 1
        if keep.keeps_everything or len(newest) < READ_BATCH:
            return after_seq
        before = newest[-1].seq
