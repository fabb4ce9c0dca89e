"""The statements of API tokens."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.store.models import ApiTokenRow


async def listed(session: AsyncSession, include_revoked: bool) -> list[ApiTokenRow]:
    """Tokens, newest first; revoked ones only if asked."""
    query = select(ApiTokenRow).order_by(col(ApiTokenRow.create_time).desc())
    if not include_revoked:
        query = query.where(col(ApiTokenRow.revoke_time).is_(None))
    return list((await session.exec(query)).all())


async def find(session: AsyncSession, token_id: str, *, lock: bool = False) -> ApiTokenRow | None:
    """One token, locked for a change if asked; None if no such token."""
    return await session.get(ApiTokenRow, token_id, with_for_update=lock)


async def issued_ids(session: AsyncSession) -> set[str]:
    """The ids of the tokens not revoked."""
    query = select(ApiTokenRow.token_id).where(col(ApiTokenRow.revoke_time).is_(None))
    return set((await session.exec(query)).all())
