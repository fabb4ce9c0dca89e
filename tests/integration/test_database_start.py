"""Servers that start together on a new database (`serve --workers N`, replicas) migrate it
once and agree on the service's own values."""

from __future__ import annotations

import asyncio

from tracking.service.store.database import Database


async def _start_together(url: str, count: int) -> list[bytes]:
    databases = [Database(url) for _ in range(count)]
    try:
        await asyncio.wait_for(asyncio.gather(*(d.start() for d in databases)), timeout=60)
        return [database.page_token_secret for database in databases]
    finally:
        for database in databases:
            await database.close()


def test_servers_starting_together_on_a_new_database_share_one_page_token_secret(
    fresh_database: str,
) -> None:
    secrets = asyncio.run(_start_together(fresh_database, 8))
    assert len(secrets[0]) == 32
    assert set(secrets) == {secrets[0]}
    # and a later start reads the same one
    assert asyncio.run(_start_together(fresh_database, 1)) == [secrets[0]]
