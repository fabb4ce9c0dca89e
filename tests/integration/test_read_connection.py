"""PostgreSQL reads run on a connection kept for them while it is free, on the pool
otherwise (store/driver.py, PostgresDriver): concurrent reads each get their own rows, and
a read cut by its call's cancellation leaves nothing behind for the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.databases import database_url
from tracking.service.store.database import Database
from tracking.service.store.driver import Hot, param

_ECHO_AFTER = Hot(
    text("SELECT CAST(:b_n AS integer), pg_sleep(CAST(:b_s AS float))").bindparams(
        param("b_n"), param("b_s")
    )
)
_BACKENDS = Hot(
    text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query LIKE '%pg_sleep%'"
        " AND state = 'active' AND pid <> pg_backend_pid()"
    )
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Database, asyncio.AbstractEventLoop]]:
    with database_url("postgres", tmp_path) as url:
        loop = asyncio.new_event_loop()
        found = Database(url)
        loop.run_until_complete(found.start())
        try:
            yield found, loop
        finally:
            loop.run_until_complete(found.close())
            loop.close()


def test_concurrent_reads_each_get_their_own_rows(
    database: tuple[Database, asyncio.AbstractEventLoop],
) -> None:
    db, loop = database

    async def reads() -> list[int]:
        found = await asyncio.gather(
            *(db.driver.row(_ECHO_AFTER, b_n=n, b_s=0.01 * (n % 3)) for n in range(30))
        )
        return [row[0] for row in found if row is not None]

    assert loop.run_until_complete(reads()) == list(range(30))


def test_a_read_cut_by_its_cancellation_leaves_the_next_reads_whole(
    database: tuple[Database, asyncio.AbstractEventLoop],
) -> None:
    db, loop = database

    async def cut_then_read() -> tuple[list[int], int]:
        for _ in range(3):
            slow = asyncio.ensure_future(db.driver.row(_ECHO_AFTER, b_n=-1, b_s=30))
            await asyncio.sleep(0.2)  # the statement is running on the server
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
        after = [
            row[0]
            for n in range(5)
            if (row := await db.driver.row(_ECHO_AFTER, b_n=n, b_s=0)) is not None
        ]
        still_running = await db.driver.row(_BACKENDS)
        assert still_running is not None
        return after, int(still_running[0])

    after, still_running = loop.run_until_complete(cut_then_read())
    assert after == [0, 1, 2, 3, 4]
    # The cut statements were cancelled on the server, not left running.
    assert still_running == 0 or _settles(database)


def _settles(database: tuple[Database, asyncio.AbstractEventLoop]) -> bool:
    """Whether the cut statements end within a few seconds (PostgreSQL notices a closed
    connection at its next check, not at once)."""
    db, loop = database

    async def wait() -> bool:
        for _ in range(100):
            row = await db.driver.row(_BACKENDS)
            if row is not None and int(row[0]) == 0:
                return True
            await asyncio.sleep(0.1)
        return False

    return loop.run_until_complete(wait())
