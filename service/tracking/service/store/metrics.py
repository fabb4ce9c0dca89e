"""Statements on metric points; the caller owns the session and its transaction.

Points are append-only rows numbered per execution (`seq`, the stream's cursor; the
execution's `metric_seq` is the last one given). Histories are bucketed by the database:
min, max, count and the value at the last step of each bucket, so a spike survives any zoom
and no point crosses into Python unless it is sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, text, update
from sqlalchemy import select as core_select
from sqlalchemy.engine import Dialect
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.errors import NotFound
from tracking.service.domain.metrics import Buckets, MetricBatch
from tracking.service.store.models import ExecutionRow, MetricPointRow, MetricRollupRow
from tracking.service.store.types import UtcDateTime

_POINTS: Any = MetricPointRow.__table__  # type: ignore[attr-defined]
_ROLLUPS: Any = MetricRollupRow.__table__  # type: ignore[attr-defined]
# Rollup levels: buckets of 2**level steps. A history whose buckets span w steps reads the
# rollups of the widest level not wider than w: at most 16 rows per bucket it returns.
LEVELS = (4, 8, 12, 16)
_EXECUTIONS: Any = ExecutionRow.__table__  # type: ignore[attr-defined]
_COLUMNS = ("execution_id", "seq", "name", "step", "value", "time")
_BY_EXECUTION = _EXECUTIONS.c.execution_id == bindparam("b_execution_id")
_OF_EXECUTION = _POINTS.c.execution_id == bindparam("b_execution_id")


@dataclass(slots=True)
class MetricAppendState:
    """What appending points needs of a locked execution."""

    status: str
    metric_seq: int
    heartbeat_timeout_seconds: float
    lapsed_from: str
    deployment_name: str | None


@dataclass(slots=True)
class StoredPoint:
    seq: int
    name: str
    step: int
    value: float | None
    time: datetime


@dataclass(slots=True)
class SeriesSummary:
    name: str
    count: int
    first_step: int
    last_step: int
    min_value: float | None
    max_value: float | None
    last_value: float | None = None
    last_time: datetime | None = None


@dataclass(slots=True)
class StoredBucket:
    first_step: int
    last_step: int
    min_value: float | None
    max_value: float | None
    count: int
    last_value: float | None
    last_time: datetime


@dataclass(slots=True)
class RangeSize:
    """How many points a step range holds, and their smallest and largest step."""

    count: int
    first_step: int
    last_step: int


_LOCK = (
    core_select(
        _EXECUTIONS.c.status,
        _EXECUTIONS.c.metric_seq,
        _EXECUTIONS.c.heartbeat_timeout_seconds,
        _EXECUTIONS.c.lapsed_from,
        _EXECUTIONS.c.deployment_name,
    )
    .where(_BY_EXECUTION)
    .with_for_update()
)
_SET_SEQ = update(_EXECUTIONS).where(_BY_EXECUTION)
_CURSORS = core_select(_EXECUTIONS.c.metric_seq, _EXECUTIONS.c.pruned_metric_seq).where(
    _BY_EXECUTION
)
_POINT_COLUMNS = (
    _POINTS.c.seq,
    _POINTS.c.name,
    _POINTS.c.step,
    _POINTS.c.value,
    _POINTS.c.time,
)
_AFTER_SEQ = (
    core_select(*_POINT_COLUMNS)
    .where(_OF_EXECUTION, _POINTS.c.seq > bindparam("b_after"))
    .order_by(_POINTS.c.seq)
    .limit(bindparam("b_limit"))
)
_AFTER_SEQ_NAMED = (
    core_select(*_POINT_COLUMNS)
    .where(
        _OF_EXECUTION,
        _POINTS.c.seq > bindparam("b_after"),
        _POINTS.c.name.in_(bindparam("b_names", expanding=True)),
    )
    .order_by(_POINTS.c.seq)
    .limit(bindparam("b_limit"))
)
# One index seek per series (a GROUP BY over several names scans every point instead).
_LARGEST_STEP = (
    core_select(_POINTS.c.step)
    .where(_OF_EXECUTION, _POINTS.c.name == bindparam("b_name"))
    .order_by(_POINTS.c.step.desc())
    .limit(1)
)
_SERIES = (
    core_select(
        _POINTS.c.name,
        func.count(),
        func.min(_POINTS.c.step),
        func.max(_POINTS.c.step),
        func.min(_POINTS.c.value),
        func.max(_POINTS.c.value),
    )
    .where(_OF_EXECUTION, _POINTS.c.seq <= bindparam("b_through"))
    .group_by(_POINTS.c.name)
    .order_by(_POINTS.c.name)
)
_IN_RANGE = (
    _OF_EXECUTION,
    _POINTS.c.name == bindparam("b_name"),
    _POINTS.c.step >= bindparam("b_start"),
    _POINTS.c.step <= bindparam("b_end"),
    _POINTS.c.seq <= bindparam("b_through"),
)
_LATEST_AT_STEP = (
    core_select(_POINTS.c.value, _POINTS.c.time)
    .where(
        _OF_EXECUTION,
        _POINTS.c.name == bindparam("b_name"),
        _POINTS.c.step == bindparam("b_step"),
        _POINTS.c.seq <= bindparam("b_through"),
    )
    .order_by(_POINTS.c.seq.desc())
    .limit(1)
)
_RANGE_SIZE = core_select(func.count(), func.min(_POINTS.c.step), func.max(_POINTS.c.step)).where(
    *_IN_RANGE
)
_RANGE_POINTS = (
    core_select(*_POINT_COLUMNS)
    .where(
        *_IN_RANGE,
        or_(
            _POINTS.c.step > bindparam("b_after_step"),
            (_POINTS.c.step == bindparam("b_after_step"))
            & (_POINTS.c.seq > bindparam("b_after_seq")),
        ),
    )
    .order_by(_POINTS.c.step, _POINTS.c.seq)
    .limit(bindparam("b_limit"))
)
# At most b_limit points of a range, counted without reading them.
_COUNT_UP_TO = core_select(func.count()).select_from(
    core_select(_POINTS.c.seq).where(*_IN_RANGE).limit(bindparam("b_limit")).subquery()
)
_LAST_IN_RANGE = (
    core_select(*_POINT_COLUMNS)
    .where(*_IN_RANGE)
    .order_by(_POINTS.c.step.desc(), _POINTS.c.seq.desc())
    .limit(1)
)
_RANGE_AGGREGATES = core_select(
    func.count(),
    func.min(_POINTS.c.step),
    func.min(_POINTS.c.value),
    func.max(_POINTS.c.value),
    func.max(_POINTS.c.seq),
).where(*_IN_RANGE)
_IN_LEVEL = (
    _ROLLUPS.c.execution_id == bindparam("b_execution_id"),
    _ROLLUPS.c.name == bindparam("b_name"),
    _ROLLUPS.c.level == bindparam("b_level"),
    _ROLLUPS.c.bucket >= bindparam("b_low"),
    _ROLLUPS.c.bucket <= bindparam("b_high"),
)
# Rollup rows that hold points after the seq a read stops at: read from the points instead.
_STALE_ROLLUPS = core_select(_ROLLUPS.c.bucket).where(
    *_IN_LEVEL, _ROLLUPS.c.max_seq > bindparam("b_through")
)
# The other rollup rows joined into the history's buckets by the database, each bucket's
# last value and time taken from its row with the largest last step. On PostgreSQL in the
# same pass (a join back to the rollups by bucket was planned, on statistics gathered before
# the series grew, as a nested loop scanning every row of the level once per bucket:
# seconds for a million points); SQLite, which plans by its indexes, does that join in half
# the time of the ranking (one primary key probe per bucket).
_ROLLED_RANKED = text(
    """
    WITH ranked AS (
        SELECT (first_step - :b_first) / :b_width AS k, first_step, last_step, min_value,
               max_value, count, last_value, last_time,
               row_number() OVER (PARTITION BY (first_step - :b_first) / :b_width
                                  ORDER BY last_step DESC, last_seq DESC) AS latest
        FROM metric_rollups
        WHERE execution_id = :b_execution_id AND name = :b_name AND level = :b_level
          AND bucket >= :b_low AND bucket <= :b_high AND max_seq <= :b_through
    )
    SELECT min(first_step) AS first_step, max(last_step) AS last_step,
           min(min_value) AS min_value, max(max_value) AS max_value,
           CAST(sum(count) AS BIGINT) AS count,
           max(CASE WHEN latest = 1 THEN last_value END) AS last_value,
           max(CASE WHEN latest = 1 THEN last_time END) AS last_time
    FROM ranked
    GROUP BY k
    ORDER BY min(first_step)
    """
).columns(last_time=UtcDateTime())
_ROLLED_JOINED = text(
    """
    WITH grouped AS (
        SELECT (first_step - :b_first) / :b_width AS k, min(first_step) AS first_step,
               max(last_step) AS last_step, min(min_value) AS min_value,
               max(max_value) AS max_value, CAST(sum(count) AS BIGINT) AS count
        FROM metric_rollups
        WHERE execution_id = :b_execution_id AND name = :b_name AND level = :b_level
          AND bucket >= :b_low AND bucket <= :b_high AND max_seq <= :b_through
        GROUP BY 1
    )
    SELECT g.first_step, g.last_step, g.min_value, g.max_value, g.count, r.last_value,
           r.last_time
    FROM grouped g JOIN metric_rollups r
      ON r.execution_id = :b_execution_id AND r.name = :b_name AND r.level = :b_level
     AND r.bucket = g.last_step / :b_size
    ORDER BY g.first_step
    """
).columns(last_time=UtcDateTime())
_ROLL_UP = text(
    """
    INSERT INTO metric_rollups (execution_id, name, level, bucket, count, first_step,
        min_value, max_value, last_step, last_seq, last_value, last_time, max_seq)
    VALUES (:execution_id, :name, :level, :bucket, :count, :first_step, :min_value,
        :max_value, :last_step, :last_seq, :last_value, :last_time, :max_seq)
    ON CONFLICT (execution_id, name, level, bucket) DO UPDATE SET
        count = metric_rollups.count + excluded.count,
        first_step = CASE WHEN excluded.first_step < metric_rollups.first_step
            THEN excluded.first_step ELSE metric_rollups.first_step END,
        min_value = CASE WHEN metric_rollups.min_value IS NULL
            OR excluded.min_value < metric_rollups.min_value
            THEN excluded.min_value ELSE metric_rollups.min_value END,
        max_value = CASE WHEN metric_rollups.max_value IS NULL
            OR excluded.max_value > metric_rollups.max_value
            THEN excluded.max_value ELSE metric_rollups.max_value END,
        last_step = CASE WHEN excluded.last_step > metric_rollups.last_step
            THEN excluded.last_step ELSE metric_rollups.last_step END,
        last_seq = CASE WHEN excluded.last_step > metric_rollups.last_step
            OR (excluded.last_step = metric_rollups.last_step
                AND excluded.last_seq > metric_rollups.last_seq)
            THEN excluded.last_seq ELSE metric_rollups.last_seq END,
        last_value = CASE WHEN excluded.last_step > metric_rollups.last_step
            OR (excluded.last_step = metric_rollups.last_step
                AND excluded.last_seq > metric_rollups.last_seq)
            THEN excluded.last_value ELSE metric_rollups.last_value END,
        last_time = CASE WHEN excluded.last_step > metric_rollups.last_step
            OR (excluded.last_step = metric_rollups.last_step
                AND excluded.last_seq > metric_rollups.last_seq)
            THEN excluded.last_time ELSE metric_rollups.last_time END,
        max_seq = CASE WHEN excluded.max_seq > metric_rollups.max_seq
            THEN excluded.max_seq ELSE metric_rollups.max_seq END
    """
).bindparams(bindparam("last_time", type_=UtcDateTime()))
# Each bucket's aggregates, then the latest point at its last step (one index probe per
# bucket): the value a line through the buckets passes by.
_BUCKETS = text(
    """
    WITH buckets AS (
        SELECT (step - :b_first) / :b_width AS bucket,
               min(step) AS first_step, max(step) AS last_step,
               min(value) AS min_value, max(value) AS max_value, count(*) AS count
        FROM metric_points
        WHERE execution_id = :b_execution_id AND name = :b_name
          AND step >= :b_start AND step <= :b_end AND seq <= :b_through
        GROUP BY 1
    )
    SELECT b.first_step, b.last_step, b.min_value, b.max_value, b.count, p.value, p.time
    FROM buckets b JOIN metric_points p
      ON p.execution_id = :b_execution_id AND p.seq = (
        SELECT q.seq FROM metric_points q
        WHERE q.execution_id = :b_execution_id AND q.name = :b_name
          AND q.step = b.last_step AND q.seq <= :b_through
        ORDER BY q.seq DESC LIMIT 1)
    ORDER BY b.first_step
    """
).columns(time=UtcDateTime())


async def _connection(session: AsyncSession) -> Any:
    return await session.connection()


async def lock(session: AsyncSession, execution_id: str) -> MetricAppendState:
    """Lock an execution to append points."""
    connection = await _connection(session)
    found = (await connection.execute(_LOCK, {"b_execution_id": execution_id})).first()
    if found is None:
        raise NotFound("execution", execution_id)
    return MetricAppendState(*found)


async def set_metric_seq(
    session: AsyncSession, execution_id: str, metric_seq: int, **lease: datetime | None
) -> None:
    """Store the last point seq (and the renewed lease columns, when given)."""
    connection = await _connection(session)
    await connection.execute(
        _SET_SEQ, {"b_execution_id": execution_id, "metric_seq": metric_seq, **lease}
    )


async def largest_steps(
    session: AsyncSession, execution_id: str, names: Sequence[str]
) -> dict[str, int]:
    connection = await _connection(session)
    largest: dict[str, int] = {}
    for name in names:
        parameters = {"b_execution_id": execution_id, "b_name": name}
        step = (await connection.execute(_LARGEST_STEP, parameters)).scalar()
        if step is not None:
            largest[name] = int(step)
    return largest


_ROLLUP_COLUMNS = (
    "execution_id",
    "name",
    "level",
    "bucket",
    "count",
    "first_step",
    "min_value",
    "max_value",
    "last_step",
    "last_seq",
    "last_value",
    "last_time",
    "max_seq",
)


@functools.cache
def _roll_up_for(dialect: Dialect) -> str:
    """The rollup upsert in this dialect's own positional parameter style."""
    compiled = _ROLL_UP.compile(dialect=dialect)
    if tuple(compiled.positiontup or ()) != _ROLLUP_COLUMNS:
        raise RuntimeError(f"{dialect.name}: rollup parameters are not positional")
    return compiled.string


@functools.cache
def _insert_for(dialect: Dialect) -> tuple[str, Callable[[Any], Any] | None]:
    """The INSERT of a point in this dialect's own parameter style, and how a time is bound."""
    compiled = insert(_POINTS).compile(dialect=dialect, column_keys=list(_COLUMNS))
    if tuple(compiled.positiontup or ()) != _COLUMNS:
        raise RuntimeError(f"{dialect.name}: metric point parameters are not positional")
    time_type = _POINTS.c.time.type.dialect_impl(dialect)
    return compiled.string, time_type.bind_processor(dialect)


async def insert_batch(
    session: AsyncSession,
    execution_id: str,
    first_seq: int,
    batch: MetricBatch,
    steps: list[int],
    now: datetime,
) -> None:
    """Store the points as seqs first_seq, first_seq + 1, ...: COPY on PostgreSQL, one
    executemany on SQLite. Each distinct time is converted once."""
    connection = await _connection(session)
    sql, bind_time = _insert_for(connection.dialect)
    converted: dict[datetime, Any] = {}

    def bound(time: datetime | None) -> Any:
        time = time or now
        found = converted.get(time)
        if found is None:
            found = converted[time] = bind_time(time) if bind_time is not None else time
        return found

    count = len(batch)
    rows = list(
        zip(
            repeat(execution_id, count),
            range(first_seq, first_seq + count),
            batch.names,
            steps,
            batch.values,
            map(bound, batch.times),
            strict=True,
        )
    )
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        await driver.copy_records_to_table(_POINTS.name, records=rows, columns=_COLUMNS)
    else:
        await connection.exec_driver_sql(sql, rows)
    times = [time or now for time in batch.times]
    rolled = rollups(execution_id, first_seq, batch, steps, times)
    if bind_time is not None:
        rolled = [(*row[:11], bound(row[11]), row[12]) for row in rolled]
    await connection.exec_driver_sql(_roll_up_for(connection.dialect), rolled)


# A rollup row while it is summed: count, first_step, min_value, max_value, last_step,
# last_seq, last_value, last_time, max_seq.
_Rolled = list[Any]


def _fold(rows: dict[tuple[str, int], _Rolled], shift: int) -> dict[tuple[str, int], _Rolled]:
    """The rows of one level summed into the next, whose buckets are 2**shift times wider."""
    found: dict[tuple[str, int], _Rolled] = {}
    for (name, bucket), row in rows.items():
        key = (name, bucket >> shift)
        into = found.get(key)
        if into is None:
            found[key] = row.copy()
            continue
        into[0] += row[0]
        if row[1] < into[1]:
            into[1] = row[1]
        if row[2] is not None and (into[2] is None or row[2] < into[2]):
            into[2] = row[2]
        if row[3] is not None and (into[3] is None or row[3] > into[3]):
            into[3] = row[3]
        if row[4] > into[4] or (row[4] == into[4] and row[5] > into[5]):
            into[4:8] = row[4:8]
        if row[8] > into[8]:
            into[8] = row[8]
    return found


def rollups(
    execution_id: str,
    first_seq: int,
    batch: MetricBatch,
    steps: list[int],
    times: list[datetime],
) -> list[tuple[Any, ...]]:
    """The batch summarized per (series, level, bucket), as rows to add to the rollups
    (columns in _ROLLUP_COLUMNS order): the points summed into the narrowest level, each
    level summed into the next."""
    rows: dict[tuple[str, int], _Rolled] = {}
    first_level = LEVELS[0]
    for seq, name, step, value, time in zip(
        range(first_seq, first_seq + len(steps)),
        batch.names,
        steps,
        batch.values,
        times,
        strict=True,
    ):
        key = (name, step >> first_level)
        row = rows.get(key)
        if row is None:
            rows[key] = [1, step, value, value, step, seq, value, time, seq]
            continue
        row[0] += 1
        if step < row[1]:
            row[1] = step
        if value is not None:
            if row[2] is None or value < row[2]:
                row[2] = value
            if row[3] is None or value > row[3]:
                row[3] = value
        if step >= row[4]:  # the points come in seq order: the later one of a step wins
            row[4], row[5], row[6], row[7] = step, seq, value, time
        row[8] = seq
    found: list[tuple[Any, ...]] = []
    for index, level in enumerate(LEVELS):
        if index:
            rows = _fold(rows, level - LEVELS[index - 1])
        found += [(execution_id, name, level, bucket, *row) for (name, bucket), row in rows.items()]
    return found


async def cursors(session: AsyncSession, execution_id: str) -> tuple[int, int]:
    """(the last point seq, the seq up to which retention removed points)."""
    connection = await _connection(session)
    found = (await connection.execute(_CURSORS, {"b_execution_id": execution_id})).first()
    if found is None:
        raise NotFound("execution", execution_id)
    return int(found[0]), int(found[1])


async def points_after(
    session: AsyncSession, execution_id: str, after_seq: int, names: Sequence[str], limit: int
) -> list[StoredPoint]:
    connection = await _connection(session)
    parameters: dict[str, Any] = {
        "b_execution_id": execution_id,
        "b_after": after_seq,
        "b_limit": limit,
    }
    statement = _AFTER_SEQ
    if names:
        statement = _AFTER_SEQ_NAMED
        parameters["b_names"] = list(names)
    return [StoredPoint(*row) for row in await connection.execute(statement, parameters)]


async def series(session: AsyncSession, execution_id: str, through_seq: int) -> list[SeriesSummary]:
    """Every series of an execution up to a seq, in name order, with its latest point."""
    connection = await _connection(session)
    found = [
        SeriesSummary(*row)
        for row in await connection.execute(
            _SERIES, {"b_execution_id": execution_id, "b_through": through_seq}
        )
    ]
    for summary in found:
        latest = (
            await connection.execute(
                _LATEST_AT_STEP,
                {
                    "b_execution_id": execution_id,
                    "b_name": summary.name,
                    "b_step": summary.last_step,
                    "b_through": through_seq,
                },
            )
        ).first()
        if latest is not None:
            summary.last_value, summary.last_time = latest
    return found


def _range(execution_id: str, name: str, start: int, end: int, through_seq: int) -> dict[str, Any]:
    return {
        "b_execution_id": execution_id,
        "b_name": name,
        "b_start": start,
        "b_end": end,
        "b_through": through_seq,
    }


async def range_size(
    session: AsyncSession, execution_id: str, name: str, start: int, end: int, through_seq: int
) -> RangeSize:
    connection = await _connection(session)
    row = (
        await connection.execute(_RANGE_SIZE, _range(execution_id, name, start, end, through_seq))
    ).one()
    count, first, last = row
    return RangeSize(int(count), int(first or 0), int(last or 0))


async def count_up_to(
    session: AsyncSession,
    execution_id: str,
    name: str,
    start: int,
    end: int,
    through_seq: int,
    limit: int,
) -> int:
    """How many points the range holds, counting no further than `limit`."""
    connection = await _connection(session)
    parameters = _range(execution_id, name, start, end, through_seq) | {"b_limit": limit}
    return int((await connection.execute(_COUNT_UP_TO, parameters)).scalar_one())


async def last_in_range(
    session: AsyncSession, execution_id: str, name: str, start: int, end: int, through_seq: int
) -> StoredPoint | None:
    connection = await _connection(session)
    parameters = _range(execution_id, name, start, end, through_seq)
    row = (await connection.execute(_LAST_IN_RANGE, parameters)).first()
    return StoredPoint(*row) if row is not None else None


async def _piece(
    connection: Any, execution_id: str, name: str, start: int, end: int, through_seq: int
) -> StoredBucket | None:
    """The points of a step range as one bucket (None when there are none)."""
    parameters = _range(execution_id, name, start, end, through_seq)
    count, first, low, high, _ = (await connection.execute(_RANGE_AGGREGATES, parameters)).one()
    if not count:
        return None
    last = (await connection.execute(_LAST_IN_RANGE, parameters)).one()
    return StoredBucket(int(first), int(last.step), low, high, int(count), last.value, last.time)


async def rolled_buckets(
    session: AsyncSession,
    execution_id: str,
    name: str,
    first: int,
    last: int,
    through_seq: int,
    cut: Buckets,
) -> list[StoredBucket]:
    """The points with steps first..last (the range's own first and last) in buckets of
    about `cut.width` steps, from the rollups of the widest level not wider: the rollup
    rows inside the range, and the points of its ragged ends and of any rollup row that
    holds points after `through_seq`. Each rollup row goes wholly to the bucket its first
    step falls in, so a bucket may reach a little past its width; min, max, count and last
    value stay exact."""
    connection = await _connection(session)
    level = max(level for level in LEVELS if 1 << level <= cut.width)
    size = 1 << level
    low, high = -(-first // size), (last + 1) // size - 1
    pieces: list[StoredBucket] = []
    ends = [(first, min(last, low * size - 1)), (max(first, (high + 1) * size), last)]
    if low > high:
        ends = [(first, last)]
    for start, end in ends:
        if start <= end:
            piece = await _piece(connection, execution_id, name, start, end, through_seq)
            if piece is not None:
                pieces.append(piece)
    if low <= high:
        parameters = {
            "b_execution_id": execution_id,
            "b_name": name,
            "b_level": level,
            "b_low": low,
            "b_high": high,
            "b_through": through_seq,
        }
        for (bucket,) in (await connection.execute(_STALE_ROLLUPS, parameters)).all():
            # It holds points a reader that stopped at through_seq must not see.
            start = bucket * size
            piece = await _piece(
                connection, execution_id, name, start, start + size - 1, through_seq
            )
            if piece is not None:
                pieces.append(piece)
        parameters |= {"b_first": cut.first_step, "b_width": cut.width}
        rolled = _ROLLED_RANKED
        if connection.dialect.name == "sqlite":
            rolled, parameters["b_size"] = _ROLLED_JOINED, size
        pieces += [StoredBucket(*row) for row in await connection.execute(rolled, parameters)]
    return merged_buckets(pieces, cut)


def merged_buckets(pieces: list[StoredBucket], cut: Buckets) -> list[StoredBucket]:
    """Pieces joined into the buckets their first steps fall in, in step order."""
    merged: dict[int, StoredBucket] = {}
    for piece in sorted(pieces, key=lambda p: p.first_step):
        key = (piece.first_step - cut.first_step) // cut.width
        into = merged.get(key)
        if into is None:
            merged[key] = piece
            continue
        into.count += piece.count
        into.first_step = min(into.first_step, piece.first_step)
        if piece.min_value is not None and (
            into.min_value is None or piece.min_value < into.min_value
        ):
            into.min_value = piece.min_value
        if piece.max_value is not None and (
            into.max_value is None or piece.max_value > into.max_value
        ):
            into.max_value = piece.max_value
        if piece.last_step >= into.last_step:
            into.last_step, into.last_value, into.last_time = (
                piece.last_step,
                piece.last_value,
                piece.last_time,
            )
    return [merged[key] for key in sorted(merged)]


async def range_points(
    session: AsyncSession,
    execution_id: str,
    name: str,
    start: int,
    end: int,
    through_seq: int,
    *,
    after: tuple[int, int],
    limit: int,
) -> list[StoredPoint]:
    """Points of a step range in (step, seq) order, after the point (step, seq) `after`."""
    connection = await _connection(session)
    parameters = _range(execution_id, name, start, end, through_seq)
    parameters |= {"b_after_step": after[0], "b_after_seq": after[1], "b_limit": limit}
    return [StoredPoint(*row) for row in await connection.execute(_RANGE_POINTS, parameters)]


async def buckets(
    session: AsyncSession,
    execution_id: str,
    name: str,
    start: int,
    end: int,
    through_seq: int,
    cut: Buckets,
) -> list[StoredBucket]:
    connection = await _connection(session)
    parameters = _range(execution_id, name, start, end, through_seq)
    parameters |= {"b_first": cut.first_step, "b_width": cut.width}
    return [StoredBucket(*row) for row in await connection.execute(_BUCKETS, parameters)]
