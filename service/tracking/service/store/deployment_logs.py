"""Queries of a deployment-wide log stream; the caller owns the session."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.executions import created_after
from tracking.service.store.models import DeploymentLogCursorRow, ExecutionEventRow, ExecutionRow

_TABLE: Any = ExecutionRow.__table__  # type: ignore[attr-defined]
_EVENTS: Any = ExecutionEventRow.__table__  # type: ignore[attr-defined]
_CURSORS: Any = DeploymentLogCursorRow.__table__  # type: ignore[attr-defined]


async def listed_executions(
    session: AsyncSession,
    deployment_name: str,
    cutoff: int,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[str, datetime]]:
    """(execution_id, create_time) of the deployment's executions, oldest first, after a
    (create_time, execution_id) key, leaving out those created by an event after `cutoff`."""
    created_later = exists().where(
        _EVENTS.c.execution_id == _TABLE.c.execution_id,
        _EVENTS.c.id > cutoff,
        _EVENTS.c.changes == "CREATED",
    )
    query: Any = core_select(_TABLE.c.execution_id, _TABLE.c.create_time).where(
        _TABLE.c.deployment_name == deployment_name, ~created_later
    )
    if after is not None:
        query = query.where(created_after(after))
    query = query.order_by(_TABLE.c.create_time, _TABLE.c.execution_id).limit(limit)
    connection = await session.connection()
    return [(row.execution_id, row.create_time) for row in await connection.execute(query)]


async def log_states(session: AsyncSession, execution_ids: list[str]) -> dict[str, tuple[str, int]]:
    """execution_id -> (status, last log seq), for those that still exist."""
    if not execution_ids:
        return {}
    query = core_select(_TABLE.c.execution_id, _TABLE.c.status, _TABLE.c.log_seq).where(
        _TABLE.c.execution_id.in_(execution_ids)
    )
    connection = await session.connection()
    return {
        row.execution_id: (row.status, int(row.log_seq)) for row in await connection.execute(query)
    }


# How long a deployment-wide log stream's saved position stays: a token that builds on an
# older one is refused (FAILED_PRECONDITION), and the stream starts afresh.
DEPLOYMENT_LOG_CURSOR_DAYS = 7


async def save_cursor(session: AsyncSession, seqs: list[list[Any]], now: datetime) -> int:
    """Keep a stream's [execution_id, seq] pairs; their id. Positions older than
    DEPLOYMENT_LOG_CURSOR_DAYS go meanwhile."""
    expired = now - timedelta(days=DEPLOYMENT_LOG_CURSOR_DAYS)
    connection = await session.connection()
    await connection.execute(delete(_CURSORS).where(_CURSORS.c.create_time < expired))
    inserted = await connection.execute(
        insert(_CURSORS).values(seqs=seqs, create_time=now).returning(_CURSORS.c.id)
    )
    return int(inserted.scalar_one())


async def saved_cursor(session: AsyncSession, cursor_id: int) -> list[Any] | None:
    """The pairs save_cursor kept under `cursor_id`; None once expired."""
    connection = await session.connection()
    found = await connection.execute(core_select(_CURSORS.c.seqs).where(_CURSORS.c.id == cursor_id))
    row = found.first()
    return None if row is None else list(row.seqs)
