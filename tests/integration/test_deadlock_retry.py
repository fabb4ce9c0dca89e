"""A group-commit write that loses a PostgreSQL deadlock runs again in a later batch.

Two processes' batches lock rows in the order of their keys, so they should not
deadlock; when they do anyway (here: two writes that lock the same two rows in opposite
orders, from two Database instances as two replicas would), PostgreSQL ends one. Its
caller must get the write's own result once it ran again, and its change must be stored
exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.databases import database_url
from tracking.service.domain.clock import utcnow
from tracking.service.store.database import Database
from tracking.service.store.driver import Hot, param
from tracking.service.store.group import Batch
from tracking.service.store.models import ExecutionRow

_LOCK = Hot(
    text("SELECT 1 FROM executions WHERE execution_id = :b_id FOR UPDATE").bindparams(param("b_id"))
)
_MARK = Hot(
    text("UPDATE executions SET phase = phase || :b_mark WHERE execution_id = :b_id").bindparams(
        param("b_mark"), param("b_id")
    )
)


async def _crossing_writes(url: str, savepoint: bool) -> tuple[list[object], dict[str, str], int]:
    databases = [Database(url), Database(url)]
    for database in databases:
        await database.start()
    try:
        now = utcnow()
        async with databases[0].writing() as session:
            for execution_id in ("a", "b"):
                session.add(
                    ExecutionRow(
                        execution_id=execution_id,
                        status="WAITING",
                        create_time=now,
                        update_time=now,
                    )
                )
        locked = {"a": asyncio.Event(), "b": asyncio.Event()}
        attempts: Counter[str] = Counter()

        def crossing(own: str, other: str) -> Callable[[Batch], Awaitable[str]]:
            async def work(batch: Batch) -> str:
                attempts[own] += 1
                connection = batch.connection
                await connection.execute(_LOCK, b_id=own)
                locked[own].set()
                await locked[other].wait()
                await connection.execute(_LOCK, b_id=other)
                await connection.execute(_MARK, b_mark=own, b_id=other)
                return f"{own} marked {other}"

            return work

        results = await asyncio.wait_for(
            asyncio.gather(
                databases[0].write(crossing("a", "b"), key="same", savepoint=savepoint),
                databases[1].write(crossing("b", "a"), key="same", savepoint=savepoint),
                return_exceptions=True,
            ),
            timeout=60,
        )
        async with databases[0].read_engine.connect() as connection:
            rows = await connection.execute(text("SELECT execution_id, phase FROM executions"))
            phases = {str(row.execution_id): str(row.phase) for row in rows}
        return list(results), phases, sum(attempts.values())
    finally:
        for database in databases:
            await database.close()


@pytest.mark.parametrize("savepoint", [True, False], ids=["savepoint", "no savepoint"])
def test_the_write_that_lost_a_deadlock_runs_again_and_is_stored_once(
    tmp_path: Path, savepoint: bool
) -> None:
    with database_url("postgres", tmp_path) as url:
        results, phases, attempts = asyncio.run(_crossing_writes(url, savepoint))
    assert results == ["a marked b", "b marked a"]
    assert phases == {"a": "b", "b": "a"}
    # One of the two lost the deadlock and ran a second time. Its second run may take its
    # first row again before the winner, woken by the rollback, relocks it: then the two
    # deadlock once more and one of them runs a third time (each retry is a new batch).
    assert 3 <= attempts <= 5
