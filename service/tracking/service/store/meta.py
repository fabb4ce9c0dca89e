"""Values the service keeps for itself in service_meta."""

from __future__ import annotations

import secrets

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import ServiceMetaRow

PRUNED_EVENT_ID = "pruned_event_id"
PAGE_TOKEN_SECRET = "page_token_secret"


async def get(session: AsyncSession, key: str) -> str | None:
    row = (await session.exec(select(ServiceMetaRow).where(ServiceMetaRow.key == key))).first()
    return None if row is None else row.value


async def put(session: AsyncSession, key: str, value: str) -> None:
    row = await session.get(ServiceMetaRow, key)
    if row is None:
        session.add(ServiceMetaRow(key=key, value=value))
    else:
        row.value = value
        session.add(row)


async def secret(connection: AsyncConnection, key: str) -> str:
    """The secret (hex) kept under `key`, made on first use."""
    found = await connection.scalar(select(ServiceMetaRow.value).where(ServiceMetaRow.key == key))
    if found is not None:
        return str(found)
    value = secrets.token_hex(32)
    await connection.execute(insert(ServiceMetaRow).values(key=key, value=value))
    return value
