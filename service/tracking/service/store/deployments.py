"""Queries on deployments; the caller owns the session and its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, update
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.errors import NotFound
from tracking.service.domain.filters import Condition
from tracking.service.store.driver import Connection, Hot, param
from tracking.service.store.models import DeploymentEventRow, DeploymentLabelRow, DeploymentRow
from tracking.service.store.where import apply_conditions

_TABLE: Any = DeploymentRow.__table__  # type: ignore[attr-defined]
_BY_NAME = _TABLE.c.name == param("b_name")
# A creation in a deployment locks its row, as its deletion does.
_LOCK_FOR_EXECUTION = Hot(
    core_select(_TABLE.c.is_enabled, _TABLE.c.pipeline_name).where(_BY_NAME).with_for_update()
)
_SET_LAST_EXECUTION = Hot(
    update(_TABLE).where(_BY_NAME).values(last_execution_id=param("last_execution_id"))
)


async def lock_for_execution(connection: Connection, name: str) -> tuple[bool, str]:
    """Lock a deployment to create an execution in it: (whether it is enabled, its pipeline)."""
    row = await connection.row(_LOCK_FOR_EXECUTION, b_name=name)
    if row is None:
        raise NotFound("deployment", name)
    return bool(row[0]), str(row[1])


async def set_last_execution(connection: Connection, name: str, execution_id: str) -> None:
    await connection.execute(_SET_LAST_EXECUTION, b_name=name, last_execution_id=execution_id)


async def get(session: AsyncSession, name: str, *, for_update: bool = False) -> DeploymentRow:
    query = select(DeploymentRow).where(DeploymentRow.name == name)
    if for_update:
        query = query.with_for_update()
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound("deployment", name)
    return row


async def exists_named(session: AsyncSession, name: str) -> bool:
    return bool((await session.exec(select(exists().where(col(DeploymentRow.name) == name)))).one())


async def list_page(
    session: AsyncSession, conditions: list[Condition], after_name: str | None, limit: int
) -> list[DeploymentRow]:
    query: Any = select(DeploymentRow)
    query = apply_conditions(
        query, DeploymentRow, DeploymentLabelRow, "deployment_name", "name", conditions
    )
    if after_name is not None:
        query = query.where(col(DeploymentRow.name) > after_name)
    query = query.order_by(col(DeploymentRow.name)).limit(limit)
    return list((await session.exec(query)).all())


async def replace_labels(session: AsyncSession, name: str, labels: dict[str, str]) -> None:
    await session.exec(
        delete(DeploymentLabelRow).where(col(DeploymentLabelRow.deployment_name) == name)
    )
    session.add_all(
        DeploymentLabelRow(deployment_name=name, key=k, value=v) for k, v in labels.items()
    )


async def delete_row(session: AsyncSession, row: DeploymentRow) -> None:
    await session.exec(
        delete(DeploymentLabelRow).where(col(DeploymentLabelRow.deployment_name) == row.name)
    )
    await session.delete(row)


def _rfc3339(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def deployment_event(row: DeploymentRow, kind: str, at: datetime) -> DeploymentEventRow:
    """The event of a deployment's creation, update or deletion (CREATED, UPDATED, DELETED),
    with what a subscription's payload shows of it (never its endpoint token)."""
    shown = {
        "name": row.name,
        "pipelineName": row.pipeline_name,
        "description": row.description,
        "executionRule": row.execution_rule,
        "mode": row.mode,
        "schedule": row.schedule,
        "status": row.status,
        "isEnabled": row.is_enabled,
        "labels": dict(row.labels or {}),
        "createTime": _rfc3339(row.create_time),
        "updateTime": _rfc3339(row.update_time),
        "createdBy": row.created_by,
        "updatedBy": row.updated_by,
    }
    return DeploymentEventRow(
        deployment_name=row.name,
        kind=kind,
        deployment={key: value for key, value in shown.items() if value not in (None, "")},
        create_time=at,
    )
