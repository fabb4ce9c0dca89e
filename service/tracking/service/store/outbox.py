"""The event rows read as an outbox: what comes after a subscription's cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import DeploymentEventRow, ExecutionEventRow, ExecutionRow


@dataclass(slots=True)
class DeploymentOutboxEvent:
    """A deployment's creation, update or deletion, as its event row keeps it."""

    id: int
    deployment_name: str
    kind: str  # CREATED, UPDATED or DELETED
    deployment: dict[str, Any]
    create_time: datetime


@dataclass(slots=True)
class OutboxEvent:
    """An event row with what a payload shows of its execution (empty once deleted)."""

    id: int
    execution_id: str
    deployment_name: str | None
    revision: int
    changes: str
    job_status: dict[str, Any]
    create_time: datetime
    job_name: str
    labels: dict[str, str]
    trace_parent: str = ""  # the W3C trace context its execution keeps ("" if none)


_AFTER = (
    core_select(
        col(ExecutionEventRow.id),
        col(ExecutionEventRow.execution_id),
        col(ExecutionEventRow.deployment_name),
        col(ExecutionEventRow.revision),
        col(ExecutionEventRow.changes),
        col(ExecutionEventRow.job_status),
        col(ExecutionEventRow.create_time),
        col(ExecutionRow.job_name),
        col(ExecutionRow.labels),
        col(ExecutionRow.trace_parent),
    )
    .select_from(ExecutionEventRow)
    .outerjoin(ExecutionRow, col(ExecutionRow.execution_id) == ExecutionEventRow.execution_id)
)


async def events_after(session: AsyncSession, after_id: int, limit: int) -> list[OutboxEvent]:
    """Up to `limit` events after `after_id`, in id (commit) order."""
    connection = await session.connection()
    query = (
        _AFTER.where(col(ExecutionEventRow.id) > after_id)
        .order_by(col(ExecutionEventRow.id))
        .limit(limit)
    )
    rows = (await connection.execute(query)).all()
    return [
        OutboxEvent(
            id=int(row.id),
            execution_id=row.execution_id,
            deployment_name=row.deployment_name,
            revision=int(row.revision),
            changes=row.changes,
            job_status=row.job_status,
            create_time=row.create_time,
            job_name=row.job_name or "",
            labels=row.labels or {},
            trace_parent=row.trace_parent or "",
        )
        for row in rows
    ]


async def last_event_id(session: AsyncSession) -> int:
    connection = await session.connection()
    value = (await connection.execute(core_select(func.max(ExecutionEventRow.id)))).scalar()
    return int(value or 0)


async def deployment_events_after(
    session: AsyncSession, after_id: int, limit: int
) -> list[DeploymentOutboxEvent]:
    """Up to `limit` deployment events after `after_id`, in id (commit) order."""
    connection = await session.connection()
    query = (
        core_select(
            col(DeploymentEventRow.id),
            col(DeploymentEventRow.deployment_name),
            col(DeploymentEventRow.kind),
            col(DeploymentEventRow.deployment),
            col(DeploymentEventRow.create_time),
        )
        .where(col(DeploymentEventRow.id) > after_id)
        .order_by(col(DeploymentEventRow.id))
        .limit(limit)
    )
    rows = (await connection.execute(query)).all()
    return [
        DeploymentOutboxEvent(
            id=int(row.id),
            deployment_name=row.deployment_name,
            kind=row.kind,
            deployment=row.deployment,
            create_time=row.create_time,
        )
        for row in rows
    ]


async def last_deployment_event_id(session: AsyncSession) -> int:
    connection = await session.connection()
    value = (await connection.execute(core_select(func.max(DeploymentEventRow.id)))).scalar()
    return int(value or 0)
