"""Queries on log lines; the caller owns the session and its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import LogLineRow


async def insert_many(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    """One executemany for the whole batch."""
    if lines:
        connection = await session.connection()
        await connection.execute(insert(LogLineRow), lines)


async def query(
    session: AsyncSession,
    execution_id: str,
    *,
    after_seq: int = 0,
    from_time: datetime | None = None,
    to_time: datetime | None = None,
    stream: str | None = None,
    limit: int,
    newest_first: bool = False,
) -> list[LogLineRow]:
    statement = select(LogLineRow).where(
        LogLineRow.execution_id == execution_id, col(LogLineRow.seq) > after_seq
    )
    if from_time is not None:
        statement = statement.where(col(LogLineRow.timestamp) >= from_time)
    if to_time is not None:
        statement = statement.where(col(LogLineRow.timestamp) < to_time)
    if stream is not None:
        statement = statement.where(LogLineRow.stream == stream)
    order = col(LogLineRow.seq).desc() if newest_first else col(LogLineRow.seq)
    return list((await session.exec(statement.order_by(order).limit(limit))).all())
