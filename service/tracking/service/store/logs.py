"""Queries on log lines; the caller owns the session and its transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import func, insert
from sqlalchemy import select as core_select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.log_batch import LogBatch
from tracking.service.store.driver import Connection, PostgresConnection, SqliteConnection
from tracking.service.store.models import LogLineRow

_TABLE: Any = LogLineRow.__table__  # type: ignore[attr-defined]
_COLUMNS = ("execution_id", "seq", "timestamp", "stream", "message", "step_name")


@functools.cache
def _insert_for(dialect: Dialect) -> tuple[str, Callable[[Any], Any] | None]:
    """The INSERT of a log line in this dialect's own parameter style, and how a timestamp
    is bound (the column type's processing, done here once per distinct time)."""
    compiled = insert(_TABLE).compile(dialect=dialect, column_keys=list(_COLUMNS))
    if tuple(compiled.positiontup or ()) != _COLUMNS:
        raise RuntimeError(f"{dialect.name}: log line parameters are not positional")
    time_type = _TABLE.c.timestamp.type.dialect_impl(dialect)
    return compiled.string, time_type.bind_processor(dialect)


async def insert_batch(
    connection: Connection, execution_id: str, first_seq: int, lines: LogBatch, now: datetime
) -> None:
    """Store the lines as seqs first_seq, first_seq + 1, ..., straight from the batch's
    columns: PostgreSQL takes them by COPY (about twice the rate of a prepared executemany
    here), SQLite by one executemany. Lines without a time of their own get `now`; each
    distinct time is converted once."""
    if not lines:
        return
    sql, bind_time = _insert_for(connection.dialect)

    def bound(time: datetime) -> Any:
        return bind_time(time) if bind_time is not None else time

    count = len(lines)
    times: Iterable[Any]
    if lines.timestamps is None:
        times = repeat(bound(now), count)
    else:
        converted: dict[datetime, Any] = {}
        times = [
            converted.get(t) or converted.setdefault(t, bound(t))
            for t in (t or now for t in lines.timestamps)
        ]
    rows = list(
        zip(
            repeat(execution_id, count),
            range(first_seq, first_seq + count),
            times,
            lines.streams,
            lines.messages,
            lines.step_names,
            strict=False,
        )
    )
    if isinstance(connection, PostgresConnection):
        await connection.raw.copy_records_to_table(_TABLE.name, records=rows, columns=_COLUMNS)
    elif isinstance(connection, SqliteConnection):
        connection.raw.executemany(sql, rows)


async def query(
    session: AsyncSession,
    execution_id: str,
    *,
    after_seq: int = 0,
    before_seq: int | None = None,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    stream: str | None = None,
    limit: int,
    newest_first: bool = False,
    max_chars: int | None = None,
) -> list[LogLineRow]:
    """At most `limit` lines, and (given `max_chars`) no more lines than fit in that many
    characters of messages, though always the first: a batch of long lines stays small."""
    conditions: list[Any] = [
        LogLineRow.execution_id == execution_id,
        col(LogLineRow.seq) > after_seq,
    ]
    if before_seq is not None:
        conditions.append(col(LogLineRow.seq) < before_seq)
    if from_time is not None:
        conditions.append(col(LogLineRow.timestamp) >= from_time)
    if to_time is not None:
        conditions.append(col(LogLineRow.timestamp) < to_time)
    if stream is not None:
        conditions.append(LogLineRow.stream == stream)
    order = col(LogLineRow.seq).desc() if newest_first else col(LogLineRow.seq)
    if max_chars is None:
        statement = select(LogLineRow).where(*conditions).order_by(order).limit(limit)
        return list((await session.exec(statement)).all())
    through = func.sum(func.length(LogLineRow.message)).over(order_by=order)
    first_lines = (
        core_select(LogLineRow, through.label("chars_through"))
        .where(*conditions)
        .order_by(order)
        .limit(limit)
        .subquery()
    )
    lines = aliased(LogLineRow, first_lines)
    before_line = first_lines.c.chars_through - func.length(first_lines.c.message)
    kept = (
        select(lines)
        .where(before_line < max_chars)
        .order_by(first_lines.c.seq.desc() if newest_first else first_lines.c.seq)
    )
    return list((await session.exec(kept)).all())
