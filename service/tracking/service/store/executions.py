"""Queries on executions and their events; the caller owns the session and its transaction."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, insert, or_, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain import execution_state, job_status
from tracking.service.domain.changes import Change, of_stored
from tracking.service.domain.changes import stored as stored_changes
from tracking.service.domain.clock import utcnow
from tracking.service.domain.errors import NotFound
from tracking.service.domain.events import ExecutionEvent
from tracking.service.domain.execution_state import ExecutionState, JobState
from tracking.service.domain.filters import Condition
from tracking.service.domain.job_status import JobStatus
from tracking.service.domain.leases import LEASED
from tracking.service.domain.live_parts import duration_is_live, lease_is_live
from tracking.service.store.driver import Connection, Driver, Hot, Row, param
from tracking.service.store.models import (
    ExecutionEventRow,
    ExecutionLabelRow,
    ExecutionRow,
    LogLineRow,
    MetricPointRow,
    MetricRollupRow,
)
from tracking.service.store.where import apply_conditions


async def get(
    session: AsyncSession, execution_id: str, *, for_update: bool = False
) -> ExecutionRow:
    query = select(ExecutionRow).where(ExecutionRow.execution_id == execution_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound("execution", execution_id)
    return row


@dataclass(slots=True)
class StoredExecution:
    """An execution as reads show it: its stored message (api/stored_executions.py), and
    the columns of the parts that change without a new revision."""

    execution_id: str
    create_time: datetime
    # None when the row's revision moved on without it (written by an older version).
    message: bytes | None
    status: str
    # Read only where they are live (domain/live_parts.py), None elsewhere: the start of a
    # duration that grows, and a lease's times.
    growing_since: datetime | None
    last_heartbeat_time: datetime | None
    lease_expire_time: datetime | None

    @classmethod
    def of_row(cls, row: ExecutionRow | ExecutionState, message: bytes) -> StoredExecution:
        leased = lease_is_live(row.status)
        grows = duration_is_live(row.start_time, row.end_time, row.reported_duration_seconds)
        return cls(
            execution_id=row.execution_id,
            create_time=row.create_time,
            message=message,
            status=row.status,
            growing_since=row.start_time if grows else None,
            last_heartbeat_time=row.last_heartbeat_time if leased else None,
            lease_expire_time=row.lease_expire_time if leased else None,
        )


_STATUS_COLUMNS = tuple(
    getattr(ExecutionRow.__table__.c, name)  # type: ignore[attr-defined]
    for name in job_status.FIELDS
)


_TABLE: Any = ExecutionRow.__table__  # type: ignore[attr-defined]
_EVENTS: Any = ExecutionEventRow.__table__  # type: ignore[attr-defined]
# Hot-path statements are built once: SQLAlchemy then reuses their cache key and compiled
# form instead of building and hashing a new statement on every call.
_BY_ID = _TABLE.c.execution_id == bindparam("b_execution_id")
# The hot reads run on the driver (store/driver.py).
_BY_ID_PARAM = _TABLE.c.execution_id == param("b_execution_id")
_JOB_STATUS = Hot(core_select(*_STATUS_COLUMNS).where(_BY_ID_PARAM))
# The columns of a StoredExecution, in its fields' order. A message is read only while it
# shows the row's revision; times only where they are live (most rows convert no time).
_LEASED = _TABLE.c.status.in_(sorted(status.value for status in LEASED))
_GROWS = _TABLE.c.end_time.is_(None) & _TABLE.c.reported_duration_seconds.is_(None)
_STORED_COLUMNS = (
    _TABLE.c.execution_id,
    _TABLE.c.create_time,
    case((_TABLE.c.message_revision == _TABLE.c.revision, _TABLE.c.message)).label("message"),
    _TABLE.c.status,
    case((_GROWS, _TABLE.c.start_time)).label("growing_since"),
    case((_LEASED, _TABLE.c.last_heartbeat_time)).label("last_heartbeat_time"),
    case((_LEASED, _TABLE.c.lease_expire_time)).label("lease_expire_time"),
)
assert [c.name for c in _STORED_COLUMNS] == list(StoredExecution.__dataclass_fields__)
_STORED = Hot(core_select(*_STORED_COLUMNS).where(_BY_ID_PARAM))
# A change reads every field of an ExecutionState under the row lock.
_LOCK = Hot(
    core_select(*(_TABLE.c[name] for name in execution_state.FIELDS))
    .where(_BY_ID_PARAM)
    .with_for_update()
)
# A status change reads the fields of a JobState alone: no document is read or decoded.
_LOCK_JOB = Hot(
    core_select(*(_TABLE.c[name] for name in execution_state.JOB_FIELDS))
    .where(_BY_ID_PARAM)
    .with_for_update()
)
_LOCK_LOG_SEQ = Hot(
    core_select(
        _TABLE.c.status,
        _TABLE.c.log_seq,
        _TABLE.c.heartbeat_timeout_seconds,
        _TABLE.c.lapsed_from,
        _TABLE.c.deployment_name,
    )
    .where(_BY_ID_PARAM)
    .with_for_update()
)
_EXISTS = Hot(core_select(_TABLE.c.execution_id).where(_BY_ID_PARAM))
_BY_REQUEST_ID = Hot(
    core_select(_TABLE.c.request_fingerprint, *_STORED_COLUMNS).where(
        _TABLE.c.request_id == param("b_request_id")
    )
)
# A new execution: every column given (no ORM default applies).
_INSERT = Hot(insert(_TABLE).values({c.name: param(c.name, c.type) for c in _TABLE.columns}))
_NEW_COLUMNS = {
    "request_id",
    "request_fingerprint",
    "log_seq",
    "pruned_revision",
    "pruned_log_seq",
    "metric_seq",
    "pruned_metric_seq",
}
assert {c.name for c in _TABLE.columns} == set(execution_state.FIELDS) | _NEW_COLUMNS
_LABELS: Any = ExecutionLabelRow.__table__  # type: ignore[attr-defined]
_INSERT_LABEL = Hot(
    insert(_LABELS).values(
        execution_id=param("execution_id"), key=param("key"), value=param("value")
    )
)
_LAPSED = Hot(
    core_select(_TABLE.c.execution_id)
    .where(_TABLE.c.lease_expire_time < param("b_now"))
    .order_by(_TABLE.c.lease_expire_time)
    .limit(param("b_limit"))
)
# An UPDATE per set of changed columns, an INSERT per number of events: made on first use.
_UPDATES: dict[frozenset[str], Hot] = {}
_EVENT_COLUMNS = (
    "execution_id",
    "deployment_name",
    "revision",
    "changes",
    "job_status",
    "create_time",
)
_EVENT_INSERTS: dict[int, Hot] = {}


async def lock(connection: Connection, execution_id: str) -> tuple[ExecutionState, Row]:
    """Lock an execution for a change: (its state, to change; the values it was read with)."""
    found = await connection.row(_LOCK, b_execution_id=execution_id)
    if found is None:
        raise NotFound("execution", execution_id)
    return ExecutionState(*found), found


async def lock_job(connection: Connection, execution_id: str) -> tuple[JobState, Row]:
    """Lock an execution for a status change: (its JobState, to change; the values it was
    read with)."""
    found = await connection.row(_LOCK_JOB, b_execution_id=execution_id)
    if found is None:
        raise NotFound("execution", execution_id)
    return JobState(*found), found


async def lock_status(
    connection: Connection, execution_id: str
) -> tuple[JobState | ExecutionState, Row]:
    """Lock an execution for a status change: its JobState; or, when its stored message is
    not current (an older version left it behind), the whole row, so that the message is
    made again from its columns."""
    job, before = await lock_job(connection, execution_id)
    if job.message_is_current:
        return job, before
    return await lock(connection, execution_id)


async def exists(connection: Connection, execution_id: str) -> bool:
    return await connection.row(_EXISTS, b_execution_id=execution_id) is not None


async def insert_new(
    connection: Connection, state: ExecutionState, request_id: str | None, fingerprint: str
) -> None:
    """Insert a new execution and its labels (a creation's statements)."""
    values = {name: getattr(state, name) for name in execution_state.FIELDS}
    values.update(dict.fromkeys(_NEW_COLUMNS, 0))
    values.update(request_id=request_id, request_fingerprint=fingerprint)
    await connection.execute(_INSERT, **values)
    if state.labels:
        await connection.execute_many(
            _INSERT_LABEL,
            [
                {"execution_id": state.execution_id, "key": key, "value": value}
                for key, value in state.labels.items()
            ],
        )


async def stored_by_request_id(
    driver: Driver, request_id: str
) -> tuple[str, StoredExecution] | None:
    """The execution a creation with this request_id made: (its request's fingerprint, it)."""
    row = await driver.row(_BY_REQUEST_ID, b_request_id=request_id)
    if row is None:
        return None
    return str(row[0]), StoredExecution(*row[1:])


_FIELDS_OF = {
    ExecutionState: execution_state.FIELDS,
    JobState: execution_state.JOB_FIELDS,
}


def changed_columns(state: ExecutionState | JobState, before: Row) -> dict[str, Any]:
    """The fields of a locked execution that differ from what was read (values are replaced
    by the callers, never changed in place), with their new values."""
    changed = {}
    for name, old in zip(_FIELDS_OF[type(state)], before, strict=True):
        value = getattr(state, name)
        if value != old:
            changed[name] = value
    return changed


def _update_of(columns: frozenset[str]) -> Hot:
    found = _UPDATES.get(columns)
    if found is None:
        statement = (
            update(_TABLE)
            .where(_BY_ID_PARAM)
            .values({c: param(c, _TABLE.c[c].type) for c in sorted(columns)})
        )
        found = _UPDATES[columns] = Hot(statement)
    return found


async def save(connection: Connection, execution_id: str, changed: dict[str, Any]) -> None:
    """Write changed columns of an execution locked with `lock`."""
    if changed:
        await connection.execute(
            _update_of(frozenset(changed)), b_execution_id=execution_id, **changed
        )


def _event_insert(count: int) -> Hot:
    found = _EVENT_INSERTS.get(count)
    if found is None:
        rows = [
            {c: param(f"{c}_{i}", _EVENTS.c[c].type) for c in _EVENT_COLUMNS} for i in range(count)
        ]
        statement = (
            insert(_EVENTS)
            .values(rows)
            .returning(_EVENTS.c.id, _EVENTS.c.execution_id, _EVENTS.c.revision)
        )
        found = _EVENT_INSERTS[count] = Hot(statement)
    return found


async def insert_events(connection: Connection, events: list[ExecutionEvent]) -> None:
    """Insert event rows, in one statement, and set their ids (after the event-order lock)."""
    params: dict[str, Any] = {}
    for index, event in enumerate(events):
        for column in _EVENT_COLUMNS:
            params[f"{column}_{index}"] = getattr(event, column)
    ids = {
        (execution_id, revision): event_id
        for event_id, execution_id, revision in await connection.rows(
            _event_insert(len(events)), **params
        )
    }
    for event in events:
        event.id = int(ids[event.execution_id, event.revision])


@dataclass(slots=True)
class LogAppendState:
    """What appending log lines needs of a locked execution."""

    status: str
    log_seq: int
    heartbeat_timeout_seconds: float
    lapsed_from: str
    deployment_name: str | None


async def lock_log_seq(connection: Connection, execution_id: str) -> LogAppendState:
    """Lock an execution to append log lines."""
    found = await connection.row(_LOCK_LOG_SEQ, b_execution_id=execution_id)
    if found is None:
        raise NotFound("execution", execution_id)
    return LogAppendState(*found)


async def set_log_seq(
    connection: Connection, execution_id: str, log_seq: int, **lease: datetime | None
) -> None:
    """Store the last log seq (and the renewed lease columns, when given)."""
    await save(connection, execution_id, {"log_seq": log_seq, **lease})


async def read_job_status(driver: Driver, execution_id: str) -> JobStatus:
    """The JobStatus of one execution."""
    row = await driver.row(_JOB_STATUS, b_execution_id=execution_id)
    if row is None:
        raise NotFound("execution", execution_id)
    return JobStatus(*row)


async def lapsed_ids(driver: Driver, now: datetime, limit: int) -> list[str]:
    """Executions whose lease ran out before `now`, the longest overdue first."""
    return [str(row[0]) for row in await driver.rows(_LAPSED, b_now=now, b_limit=limit)]


async def find(session: AsyncSession, execution_id: str) -> ExecutionRow | None:
    return await session.get(ExecutionRow, execution_id)


async def by_request_id(session: AsyncSession, request_id: str) -> ExecutionRow | None:
    query = select(ExecutionRow).where(ExecutionRow.request_id == request_id)
    return (await session.exec(query)).first()


def created_after(key: tuple[datetime, str]) -> Any:
    """Executions after a (create_time, execution_id) key, in that order: a keyset cursor."""
    time, execution_id = key
    return or_(
        col(ExecutionRow.create_time) > time,
        (col(ExecutionRow.create_time) == time) & (col(ExecutionRow.execution_id) > execution_id),
    )


async def stored(driver: Driver, execution_id: str) -> StoredExecution:
    row = await driver.row(_STORED, b_execution_id=execution_id)
    if row is None:
        raise NotFound("execution", execution_id)
    return StoredExecution(*row)


# A page's statement for each filter (its values kept as constants), the most recent kept.
_PAGES: OrderedDict[tuple[str, bool], Hot] = OrderedDict()
_PAGES_KEPT = 256


def _page_statement(conditions: list[Condition], after: bool) -> Hot:
    key = (repr(conditions), after)
    found = _PAGES.get(key)
    if found is not None:
        _PAGES.move_to_end(key)
        return found
    query: Any = core_select(*_STORED_COLUMNS)
    query = apply_conditions(
        query, ExecutionRow, ExecutionLabelRow, "execution_id", "execution_id", conditions
    )
    if after:
        time, execution_id = param("b_after_time"), param("b_after_id")
        query = query.where(
            or_(
                _TABLE.c.create_time < time,
                (_TABLE.c.create_time == time) & (_TABLE.c.execution_id < execution_id),
            )
        )
    query = query.order_by(_TABLE.c.create_time.desc(), _TABLE.c.execution_id.desc())
    found = _PAGES[key] = Hot(query.limit(param("b_limit")))
    if len(_PAGES) > _PAGES_KEPT:
        _PAGES.popitem(last=False)
    return found


async def stored_page(
    driver: Driver,
    conditions: list[Condition],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[StoredExecution]:
    """Newest first; `after` is the (create_time, execution_id) of the previous page's last row."""
    statement = _page_statement(conditions, after is not None)
    if after is None:
        rows = await driver.rows(statement, b_limit=limit)
    else:
        rows = await driver.rows(
            statement, b_limit=limit, b_after_time=after[0], b_after_id=after[1]
        )
    return [StoredExecution(*row) for row in rows]


async def rows_by_id(session: AsyncSession, execution_ids: list[str]) -> list[ExecutionRow]:
    query = select(ExecutionRow).where(col(ExecutionRow.execution_id).in_(execution_ids))
    return list((await session.exec(query)).all())


async def lock_all_of_deployment(session: AsyncSession, deployment_name: str) -> list[ExecutionRow]:
    """Every execution of a deployment, locked for a change in the order of their ids (the
    order a group commit's changes lock them in)."""
    query = (
        select(ExecutionRow)
        .where(ExecutionRow.deployment_name == deployment_name)
        .order_by(col(ExecutionRow.execution_id))
        .with_for_update()
    )
    return list((await session.exec(query)).all())


async def replace_labels(session: AsyncSession, execution_id: str, labels: dict[str, str]) -> None:
    await session.exec(
        delete(ExecutionLabelRow).where(col(ExecutionLabelRow.execution_id) == execution_id)
    )
    session.add_all(
        ExecutionLabelRow(execution_id=execution_id, key=k, value=v) for k, v in labels.items()
    )


async def delete_rows(session: AsyncSession, execution_ids: list[str]) -> None:
    """Delete executions with their labels, log lines and metric points (their events stay,
    for watchers)."""
    if not execution_ids:
        return
    for table, column in (
        (LogLineRow, LogLineRow.execution_id),
        (MetricPointRow, MetricPointRow.execution_id),
        (MetricRollupRow, MetricRollupRow.execution_id),
        (ExecutionLabelRow, ExecutionLabelRow.execution_id),
        (ExecutionRow, ExecutionRow.execution_id),
    ):
        await session.exec(delete(table).where(col(column).in_(execution_ids)))


def bump(
    row: ExecutionRow | ExecutionState | JobState,
    changes: list[Change],
    now: datetime | None = None,
) -> ExecutionEvent:
    """Advance the row's revision and build the event that records the change.

    The caller adds both to the same transaction, after Database.lock_event_order.
    """
    row.revision += 1
    row.update_time = now or utcnow()
    return ExecutionEvent(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name,
        revision=row.revision,
        changes=stored_changes(changes),
        job_status=job_status.snapshot_of(row),
        create_time=row.update_time,
    )


# An event's columns, in the order of ExecutionEvent's fields.
_EVENT_FIELDS = (*_EVENT_COLUMNS, "id")
assert list(_EVENT_FIELDS) == list(ExecutionEvent.__dataclass_fields__)


def _events_query() -> Any:
    return core_select(*(_EVENTS.c[name] for name in _EVENT_FIELDS))


async def _events(session: AsyncSession, query: Any) -> list[ExecutionEvent]:
    connection = await session.connection()
    return [ExecutionEvent(*row) for row in (await connection.execute(query)).all()]


async def events_after_revision(
    session: AsyncSession, execution_id: str, revision: int, limit: int
) -> list[ExecutionEvent]:
    query = (
        _events_query()
        .where(_EVENTS.c.execution_id == execution_id, _EVENTS.c.revision > revision)
        .order_by(_EVENTS.c.revision)
        .limit(limit)
    )
    return await _events(session, query)


async def events_after_id(
    session: AsyncSession, deployment_name: str | None, event_id: int, limit: int
) -> list[ExecutionEvent]:
    query = _events_query().where(_EVENTS.c.id > event_id)
    if deployment_name is not None:
        query = query.where(_EVENTS.c.deployment_name == deployment_name)
    return await _events(session, query.order_by(_EVENTS.c.id).limit(limit))


async def last_event_id(session: AsyncSession) -> int:
    query = select(ExecutionEventRow.id).order_by(col(ExecutionEventRow.id).desc()).limit(1)
    return int((await session.exec(query)).first() or 0)


async def unfinished(
    session: AsyncSession,
    deployment_name: str | None,
    terminal: frozenset[str],
    after: tuple[datetime, str] | None = None,
    limit: int = 1000,
) -> list[ExecutionRow]:
    """Executions whose status can still change, oldest first, after a (create_time, id) key."""
    query = select(ExecutionRow).where(col(ExecutionRow.status).not_in(terminal))
    if deployment_name is not None:
        query = query.where(ExecutionRow.deployment_name == deployment_name)
    if after is not None:
        query = query.where(created_after(after))
    query = query.order_by(col(ExecutionRow.create_time), col(ExecutionRow.execution_id)).limit(
        limit
    )
    return list((await session.exec(query)).all())


async def was_deleted_at(session: AsyncSession, execution_id: str, revision: int) -> bool:
    """Whether the event at this revision is the execution's deletion."""
    query = select(ExecutionEventRow.changes).where(
        ExecutionEventRow.execution_id == execution_id, ExecutionEventRow.revision == revision
    )
    changes = (await session.exec(query)).first()
    return changes is not None and Change.DELETED in of_stored(changes)
