"""The migrated schema is exactly what the models declare, on each database."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from tests.support.server import ServerThread


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def _compare(server: ServerThread) -> list[Any]:
    assert server.app is not None
    async with server.app.database.write_engine.connect() as connection:
        return await connection.run_sync(_differences)


def test_migrations_match_the_models(server: ServerThread) -> None:
    assert server.run(_compare(server)) == []
