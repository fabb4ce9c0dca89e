"""Queries on log lines; the caller owns the session and its transaction."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from datetime import datetime
from itertools import chain, repeat
from typing import Any

from sqlalchemy import func
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
def _time_binder(dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a timestamp is bound (the column type's processing, done here once per distinct
    time)."""
    binder: Callable[[Any], Any] | None
    binder = _TABLE.c.timestamp.type.dialect_impl(dialect).bind_processor(dialect)
    return binder


# SQLite takes a batch as multi-row INSERTs of these many rows (the largest that fits what
# is left, so that a few statement texts serve every size): one statement runs for many
# lines, and what every line shares is bound once.
_SQLITE_ROWS = (256, 128, 64, 32, 16, 8, 4, 2, 1)


@functools.cache
def _sqlite_insert(rows: int, own_times: bool) -> str:
    """A multi-row INSERT of log lines: ?1 the execution, ?2 the first seq (a row's seq is
    ?2 plus its place), then each row's stream, message and step name, after its own time
    (`own_times`) or a time all rows share (?3)."""
    values = []
    for index in range(rows):
        if own_times:
            first = 3 + 4 * index
            time, rest = f"?{first}", first + 1
        else:
            time, rest = "?3", 4 + 3 * index
        values.append(f"(?1, ?2 + {index}, {time}, ?{rest}, ?{rest + 1}, ?{rest + 2})")
    return f"INSERT INTO {_TABLE.name} ({', '.join(_COLUMNS)}) VALUES {', '.join(values)}"


def _insert_sqlite(
    raw: sqlite3.Connection, execution_id: str, first_seq: int, lines: LogBatch, times: Any
) -> None:
    """`times`: a list of one bound time per line, or one for every line."""
    own_times = isinstance(times, list)
    count, start = len(lines), 0
    while start < count:
        rows = next(size for size in _SQLITE_ROWS if size <= count - start)
        end = start + rows
        parts = [lines.streams[start:end], lines.messages[start:end], lines.step_names[start:end]]
        if own_times:
            parts.insert(0, times[start:end])
            params = [execution_id, first_seq + start]
        else:
            params = [execution_id, first_seq + start, times]
        params.extend(chain.from_iterable(zip(*parts, strict=True)))
        raw.execute(_sqlite_insert(rows, own_times), params)
        start = end


async def insert_batch(
    connection: Connection, execution_id: str, first_seq: int, lines: LogBatch, now: datetime
) -> None:
    """Store the lines as seqs first_seq, first_seq + 1, ..., straight from the batch's
    columns: PostgreSQL takes them by COPY (about twice the rate of a prepared executemany
    here), SQLite by multi-row INSERTs (SQLite's own work for 500 lines is less than half
    an executemany's, docs/benchmarks.md). Lines without a time of their own get `now`;
    each distinct time is converted once."""
    if not lines:
        return
    bind_time = _time_binder(connection.dialect)

    def bound(time: datetime) -> Any:
        return bind_time(time) if bind_time is not None else time

    count = len(lines)
    times: Any  # one bound time for every line, or a list of one per line
    if lines.timestamps is None:
        times = bound(now)
    else:
        converted: dict[datetime, Any] = {}
        times = [
            converted.get(t) or converted.setdefault(t, bound(t))
            for t in (t or now for t in lines.timestamps)
        ]
    if isinstance(connection, SqliteConnection):
        _insert_sqlite(connection.raw, execution_id, first_seq, lines, times)
        return
    rows = list(
        zip(
            repeat(execution_id, count),
            range(first_seq, first_seq + count),
            times if isinstance(times, list) else repeat(times, count),
            lines.streams,
            lines.messages,
            lines.step_names,
            strict=False,
        )
    )
    if isinstance(connection, PostgresConnection):
        await connection.raw.copy_records_to_table(_TABLE.name, records=rows, columns=_COLUMNS)


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
