"""The statements of a retention sweep: finished executions past their time, and the
events and log lines it removes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import (
    DeploymentEventRow,
    ExecutionEventRow,
    ExecutionRow,
    LogLineRow,
    MetricPointRow,
    MetricRollupRow,
)


async def _execute(session: AsyncSession, statement: Any) -> Any:
    connection = await session.connection()
    return await connection.execute(statement)


def _undelivered(keep_after: int | None) -> Any:
    """Whether the execution has an event after `keep_after` (a subscription's cursor)."""
    return (
        select(ExecutionEventRow.id)
        .where(
            ExecutionEventRow.execution_id == ExecutionRow.execution_id,
            col(ExecutionEventRow.id) > (keep_after or 0),
        )
        .exists()
    )


async def lock_expired(
    session: AsyncSession,
    terminal: Sequence[str],
    cutoff: datetime,
    limit: int,
    keep_after: int | None = None,
) -> list[ExecutionRow]:
    """Up to `limit` ended executions whose end and last change are both before `cutoff`
    and which still hold events or lines to remove, and none of whose events come after
    `keep_after` (what a subscription has not delivered yet); locked, skipping those
    another replica's sweep holds."""
    query = (
        select(ExecutionRow)
        .where(
            col(ExecutionRow.status).in_(terminal),
            col(ExecutionRow.end_time) < cutoff,
            # end_time may be a platform's (UpdateJobStatus times, perhaps of a job long
            # past): the last change must be old by this clock too.
            col(ExecutionRow.update_time) < cutoff,
            col(ExecutionRow.pruned_revision) < col(ExecutionRow.revision),
            *([] if keep_after is None else [~_undelivered(keep_after)]),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(query)).all())


async def _delete_events(session: AsyncSession, *where: Any) -> tuple[int, int]:
    """Delete matching events; (how many, the largest id removed)."""
    largest = (
        await _execute(session, select(func.max(ExecutionEventRow.id)).where(*where))
    ).scalar()
    result = await _execute(session, delete(ExecutionEventRow).where(*where))
    return int(result.rowcount or 0), int(largest or 0)


async def delete_events_of(session: AsyncSession, execution_id: str) -> tuple[int, int]:
    """Delete an execution's events; (how many, the largest id removed)."""
    return await _delete_events(session, col(ExecutionEventRow.execution_id) == execution_id)


async def delete_orphaned_events(
    session: AsyncSession, cutoff: datetime, keep_after: int | None = None
) -> tuple[int, int]:
    """Delete events older than `cutoff` (and not after `keep_after`) of executions that
    were deleted (their row is gone); (how many, the largest id removed)."""
    orphaned = (
        ~select(ExecutionRow.execution_id)
        .where(ExecutionRow.execution_id == ExecutionEventRow.execution_id)
        .exists()
    )
    kept = [] if keep_after is None else [col(ExecutionEventRow.id) <= keep_after]
    return await _delete_events(
        session, col(ExecutionEventRow.create_time) < cutoff, orphaned, *kept
    )


async def delete_lines_of(session: AsyncSession, execution_id: str) -> int:
    """Delete an execution's log lines; how many."""
    removed = await _execute(
        session, delete(LogLineRow).where(col(LogLineRow.execution_id) == execution_id)
    )
    return int(removed.rowcount or 0)


async def delete_points_of(session: AsyncSession, execution_id: str) -> int:
    """Delete an execution's metric points and their rollups; how many points."""
    await _execute(
        session, delete(MetricRollupRow).where(col(MetricRollupRow.execution_id) == execution_id)
    )
    removed = await _execute(
        session, delete(MetricPointRow).where(col(MetricPointRow.execution_id) == execution_id)
    )
    return int(removed.rowcount or 0)


async def delete_deployment_events(
    session: AsyncSession, cutoff: datetime, keep_after: int | None
) -> int:
    """Delete deployment events older than `cutoff` and not after `keep_after` (what a
    subscription has not delivered yet); how many."""
    kept = [] if keep_after is None else [col(DeploymentEventRow.id) <= keep_after]
    removed = await _execute(
        session,
        delete(DeploymentEventRow).where(col(DeploymentEventRow.create_time) < cutoff, *kept),
    )
    return int(removed.rowcount or 0)
