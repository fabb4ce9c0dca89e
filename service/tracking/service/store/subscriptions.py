"""The statements of subscriptions: their rows, leases, cursors and delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import DeliveryRow, SubscriptionRow


async def _execute(session: AsyncSession, statement: Any) -> Any:
    connection = await session.connection()
    return await connection.execute(statement)


async def listed(session: AsyncSession) -> list[SubscriptionRow]:
    """Every subscription, newest first."""
    query = select(SubscriptionRow).order_by(col(SubscriptionRow.create_time).desc())
    return list((await session.exec(query)).all())


async def find(
    session: AsyncSession, subscription_id: str, *, lock: bool = False
) -> SubscriptionRow | None:
    return await session.get(SubscriptionRow, subscription_id, with_for_update=lock)


async def by_request_id(session: AsyncSession, request_id: str) -> SubscriptionRow | None:
    query = select(SubscriptionRow).where(SubscriptionRow.request_id == request_id)
    return (await session.exec(query)).first()


async def delete_one(session: AsyncSession, subscription_id: str) -> None:
    await _execute(
        session, delete(DeliveryRow).where(col(DeliveryRow.subscription_id) == subscription_id)
    )
    await _execute(
        session,
        delete(SubscriptionRow).where(col(SubscriptionRow.subscription_id) == subscription_id),
    )


async def active_ids(session: AsyncSession) -> list[str]:
    query = select(SubscriptionRow.subscription_id).where(SubscriptionRow.state == "ACTIVE")
    return list((await session.exec(query)).all())


async def claim(
    session: AsyncSession, subscription_id: str, owner: str, now: datetime, until: datetime
) -> bool:
    """Take or renew the lease of an active subscription: it is free, lapsed or ours."""
    statement = (
        update(SubscriptionRow)
        .where(
            col(SubscriptionRow.subscription_id) == subscription_id,
            col(SubscriptionRow.state) == "ACTIVE",
            or_(
                col(SubscriptionRow.lease_owner) == owner,
                col(SubscriptionRow.lease_owner) == "",
                col(SubscriptionRow.lease_expire_time).is_(None),
                col(SubscriptionRow.lease_expire_time) < now,
            ),
        )
        .values(lease_owner=owner, lease_expire_time=until)
    )
    return bool((await _execute(session, statement)).rowcount)


async def release(session: AsyncSession, subscription_id: str, owner: str) -> None:
    statement = (
        update(SubscriptionRow)
        .where(
            col(SubscriptionRow.subscription_id) == subscription_id,
            col(SubscriptionRow.lease_owner) == owner,
        )
        .values(lease_owner="", lease_expire_time=None)
    )
    await _execute(session, statement)


def _held(subscription_id: str, owner: str) -> tuple[Any, ...]:
    return (
        col(SubscriptionRow.subscription_id) == subscription_id,
        col(SubscriptionRow.lease_owner) == owner,
        col(SubscriptionRow.state) == "ACTIVE",
    )


async def advance(
    session: AsyncSession,
    subscription_id: str,
    owner: str,
    cursor: int,
    delivered_at: datetime | None,
    column: str = "cursor",
) -> bool:
    """Move the cursor (`cursor`, or `deployment_cursor` for the deployments' events) of a
    subscription whose lease `owner` holds; False when it does not (another replica took
    over, or an admin paused or deleted it)."""
    values: dict[str, Any] = {column: cursor}
    if delivered_at is not None:
        values.update(last_delivery_time=delivered_at, failing_since=None, last_error="")
    statement = (
        update(SubscriptionRow)
        .where(*_held(subscription_id, owner), getattr(SubscriptionRow, column) <= cursor)
        .values(**values)
    )
    return bool((await _execute(session, statement)).rowcount)


async def note_failure(
    session: AsyncSession,
    subscription_id: str,
    owner: str,
    error: str,
    at: datetime,
    failing_since: datetime,
    state: str,
) -> bool:
    statement = (
        update(SubscriptionRow)
        .where(*_held(subscription_id, owner))
        .values(last_error=error, last_error_time=at, failing_since=failing_since, state=state)
    )
    return bool((await _execute(session, statement)).rowcount)


async def add_deliveries(session: AsyncSession, rows: list[DeliveryRow]) -> None:
    session.add_all(rows)
    await session.flush()


async def prune_deliveries(session: AsyncSession, subscription_id: str, keep: int) -> None:
    """Keep only the last `keep` attempts of a subscription."""
    newest = (
        await _execute(
            session,
            select(func.max(DeliveryRow.id)).where(
                col(DeliveryRow.subscription_id) == subscription_id
            ),
        )
    ).scalar()
    if newest is not None and newest > keep:
        await _execute(
            session,
            delete(DeliveryRow).where(
                col(DeliveryRow.subscription_id) == subscription_id,
                col(DeliveryRow.id) <= newest - keep,
            ),
        )


async def record_attempts(
    session: AsyncSession, subscription_id: str, attempts: list[DeliveryRow], keep: int
) -> None:
    """Add delivery attempts, keeping only the last `keep` of the subscription."""
    await add_deliveries(session, attempts)
    await prune_deliveries(session, subscription_id, keep)


async def deliveries(session: AsyncSession, subscription_id: str, limit: int) -> list[DeliveryRow]:
    query = (
        select(DeliveryRow)
        .where(DeliveryRow.subscription_id == subscription_id)
        .order_by(col(DeliveryRow.id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def lowest_cursor(session: AsyncSession) -> int | None:
    """The smallest cursor of any subscription (paused and failing ones included); None
    without subscriptions. Retention keeps every event after it."""
    value = (await _execute(session, select(func.min(SubscriptionRow.cursor)))).scalar()
    return None if value is None else int(value)


async def lowest_deployment_cursor(session: AsyncSession) -> int | None:
    """The smallest cursor into the deployments' events of any subscription; None without
    subscriptions."""
    value = (await _execute(session, select(func.min(SubscriptionRow.deployment_cursor)))).scalar()
    return None if value is None else int(value)
