"""Values the service keeps for itself in service_meta."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import ServiceMetaRow

PRUNED_EVENT_ID = "pruned_event_id"


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
