"""Queries of a deployment-wide log stream; the caller owns the session."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, or_
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

from tracking.service.domain.deployment_log_cursor import SavedPosition, seqs_of
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
# Chains of saved positions swept at a save, at most: a save starts one chain at most.
SWEPT_CHAINS = 100


def roots_after(now: datetime) -> datetime:
    """How old a chain's root may be for a new link to build on it: half the retention,
    so that no link is added to a chain the sweep may take."""
    return now - timedelta(days=DEPLOYMENT_LOG_CURSOR_DAYS) / 2


async def save_cursor(session: AsyncSession, saved: SavedPosition) -> int:
    """Keep a stream's position (a link of a chain, saved at its create_time); its id.
    Chains all of whose links are older than DEPLOYMENT_LOG_CURSOR_DAYS go meanwhile."""
    assert saved.create_time is not None
    now = saved.create_time
    connection = await session.connection()
    await _sweep(connection, now - timedelta(days=DEPLOYMENT_LOG_CURSOR_DAYS))
    inserted = await connection.execute(
        insert(_CURSORS)
        .values(
            seqs=saved.pairs(),
            parent_id=saved.parent_id,
            root_id=saved.root_id,
            create_time=now,
        )
        .returning(_CURSORS.c.id)
    )
    return int(inserted.scalar_one())


async def _sweep(connection: Any, expired: datetime) -> None:
    """Delete the chains whose links are all older than `expired`: a link stays as long as
    any link that builds on it, so a position kept is one that resumes."""
    link = _CURSORS.alias("link")
    younger_link = exists().where(link.c.root_id == _CURSORS.c.id, link.c.create_time >= expired)
    roots = await connection.execute(
        core_select(_CURSORS.c.id)
        .where(_CURSORS.c.root_id.is_(None), _CURSORS.c.create_time < expired, ~younger_link)
        .limit(SWEPT_CHAINS)
    )
    ids = [row.id for row in roots]
    if ids:
        await connection.execute(
            delete(_CURSORS).where(or_(_CURSORS.c.id.in_(ids), _CURSORS.c.root_id.in_(ids)))
        )


async def saved_chain(
    session: AsyncSession, cursor_id: int, now: datetime
) -> list[SavedPosition] | None:
    """The chain of positions save_cursor kept, from its root to `cursor_id`; None once
    that position is older than DEPLOYMENT_LOG_CURSOR_DAYS (or gone)."""
    chain = (
        core_select(_CURSORS.c.id, _CURSORS.c.parent_id, _CURSORS.c.seqs, _CURSORS.c.create_time)
        .where(_CURSORS.c.id == cursor_id)
        .cte("chain", recursive=True)
    )
    parent = _CURSORS.alias("parent")
    chain = chain.union_all(
        core_select(parent.c.id, parent.c.parent_id, parent.c.seqs, parent.c.create_time).where(
            parent.c.id == chain.c.parent_id
        )
    )
    connection = await session.connection()
    rows = sorted(await connection.execute(core_select(chain)), key=lambda row: int(row.id))
    expired = now - timedelta(days=DEPLOYMENT_LOG_CURSOR_DAYS)
    if not rows or rows[-1].id != cursor_id or rows[-1].create_time < expired:
        return None
    links: list[SavedPosition] = []
    for row in rows:
        parent_id = None if row.parent_id is None else int(row.parent_id)
        if parent_id != (links[-1].id if links else None):
            return None  # a link is missing: never read as if its seqs were not there
        root_id = links[0].id if links else None
        seqs = seqs_of(row.seqs)
        links.append(SavedPosition(seqs, parent_id, root_id, row.create_time, int(row.id)))
    return links
