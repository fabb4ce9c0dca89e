"""A PostgreSQL that refuses new connections because it has as many as it allows ("too many
clients already", SQLSTATE 53300): a call that needed one is answered UNAVAILABLE, which
clients retry and streams resume from, never INTERNAL. A shared PostgreSQL reaches its
max_connections under a fleet's reconnect storms; here a role's connection limit does it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from tests.support.databases import POSTGRES_URL, postgres_database
from tests.support.process import ServerProcess
from tracking.client import NO_RETRY, RemoteException, TrackingClient

pytestmark = pytest.mark.postgres


async def _admin(url: str, *statements: str) -> int:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'tracking_limited_%'"
        )
        return count
    finally:
        await connection.close()


def test_a_database_with_no_connection_left_answers_unavailable() -> None:
    role = f"tracking_limited_{secrets.token_hex(4)}"
    with postgres_database() as url:
        name = url.rpartition("/")[2]
        asyncio.run(
            _admin(
                POSTGRES_URL,
                f"CREATE ROLE {role} LOGIN",
                f'ALTER DATABASE "{name}" OWNER TO {role}',
            )
        )
        try:
            limited = url.replace("postgres@", f"{role}@", 1)
            server = ServerProcess(limited).start()
            try:
                with TrackingClient(server.address, retry=NO_RETRY) as client:
                    ids = [
                        client.create_execution(pipeline_name="full").execution_id for _ in range(3)
                    ]
                    # No connection beyond those the server holds now.
                    held = asyncio.run(_admin(POSTGRES_URL))
                    asyncio.run(_admin(POSTGRES_URL, f"ALTER ROLE {role} CONNECTION LIMIT {held}"))

                    def read(n: int) -> str:
                        try:
                            client.get_execution(ids[n % len(ids)])
                        except RemoteException as error:
                            return error.code.name
                        return "OK"

                    with ThreadPoolExecutor(32) as pool:
                        answers = Counter(pool.map(read, range(200)))
            finally:
                server.kill()
        finally:
            asyncio.run(
                _admin(
                    POSTGRES_URL,
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                    f"DROP ROLE IF EXISTS {role}",
                )
            )
    assert answers["UNAVAILABLE"] > 0, answers
    assert set(answers) <= {"OK", "UNAVAILABLE"}, answers
