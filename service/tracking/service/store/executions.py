"""Queries on executions and their events; the caller owns the session and its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.errors import NotFound
from tracking.service.domain.filters import Condition
from tracking.service.store.models import (
    ExecutionEventRow,
    ExecutionLabelRow,
    ExecutionRow,
    LogLineRow,
)
from tracking.service.store.types import utcnow
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


async def find(session: AsyncSession, execution_id: str) -> ExecutionRow | None:
    return await session.get(ExecutionRow, execution_id)


async def by_request_id(session: AsyncSession, request_id: str) -> ExecutionRow | None:
    query = select(ExecutionRow).where(ExecutionRow.request_id == request_id)
    return (await session.exec(query)).first()


async def list_page(
    session: AsyncSession,
    conditions: list[Condition],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[ExecutionRow]:
    """Newest first; `after` is the (create_time, execution_id) of the previous page's last row."""
    query: Any = select(ExecutionRow)
    query = apply_conditions(
        query, ExecutionRow, ExecutionLabelRow, "execution_id", "execution_id", conditions
    )
    if after is not None:
        time, execution_id = after
        query = query.where(
            or_(
                col(ExecutionRow.create_time) < time,
                (col(ExecutionRow.create_time) == time)
                & (col(ExecutionRow.execution_id) < execution_id),
            )
        )
    query = query.order_by(
        col(ExecutionRow.create_time).desc(), col(ExecutionRow.execution_id).desc()
    )
    return list((await session.exec(query.limit(limit))).all())


async def ids_of_deployment(session: AsyncSession, deployment_name: str) -> list[ExecutionRow]:
    query = (
        select(ExecutionRow)
        .where(ExecutionRow.deployment_name == deployment_name)
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
    """Delete executions with their labels and log lines (their events stay, for watchers)."""
    if not execution_ids:
        return
    for table, column in (
        (LogLineRow, LogLineRow.execution_id),
        (ExecutionLabelRow, ExecutionLabelRow.execution_id),
        (ExecutionRow, ExecutionRow.execution_id),
    ):
        await session.exec(delete(table).where(col(column).in_(execution_ids)))


def job_status_snapshot(row: ExecutionRow) -> dict[str, Any]:
    """The JobStatus fields of a row, as kept in its events (times as ISO 8601)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "status": row.status,
        "progress": row.progress,
        "phase": row.phase,
        "stop_message": row.stop_message,
        "cancel_reason": row.cancel_reason,
        "create_time": iso(row.create_time),
        "start_time": iso(row.start_time),
        "end_time": iso(row.end_time),
        "update_time": iso(row.update_time),
        "revision": row.revision,
    }


def bump(row: ExecutionRow, changes: list[str], now: datetime | None = None) -> ExecutionEventRow:
    """Advance the row's revision and build the event that records the change.

    The caller adds both to the same transaction, after Database.lock_event_order.
    """
    row.revision += 1
    row.update_time = now or utcnow()
    return ExecutionEventRow(
        execution_id=row.execution_id,
        deployment_name=row.deployment_name,
        revision=row.revision,
        changes=",".join(changes),
        job_status=job_status_snapshot(row),
        create_time=row.update_time,
    )


async def events_after_revision(
    session: AsyncSession, execution_id: str, revision: int, limit: int
) -> list[ExecutionEventRow]:
    query = (
        select(ExecutionEventRow)
        .where(
            ExecutionEventRow.execution_id == execution_id,
            col(ExecutionEventRow.revision) > revision,
        )
        .order_by(col(ExecutionEventRow.revision))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def events_after_id(
    session: AsyncSession, deployment_name: str | None, event_id: int, limit: int
) -> list[ExecutionEventRow]:
    query = select(ExecutionEventRow).where(col(ExecutionEventRow.id) > event_id)
    if deployment_name is not None:
        query = query.where(ExecutionEventRow.deployment_name == deployment_name)
    query = query.order_by(col(ExecutionEventRow.id)).limit(limit)
    return list((await session.exec(query)).all())


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
        time, execution_id = after
        query = query.where(
            or_(
                col(ExecutionRow.create_time) > time,
                (col(ExecutionRow.create_time) == time)
                & (col(ExecutionRow.execution_id) > execution_id),
            )
        )
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
    return changes is not None and "DELETED" in changes.split(",")
