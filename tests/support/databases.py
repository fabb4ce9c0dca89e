"""The databases the suite runs against: a SQLite file, and a fresh PostgreSQL database.

PostgreSQL is found through TRACKING_TEST_POSTGRES_URL (default: the local
server, user postgres, trust auth). Under CI=true a PostgreSQL that cannot be
reached fails the run; elsewhere the PostgreSQL half of the suite is skipped
with the reason.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from tests.support.environment import cannot_run

POSTGRES_URL = os.environ.get(
    "TRACKING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgres")


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    """asyncio.run, also from a thread whose event loop is running (Playwright's sync API,
    which the browser tests use, runs one in the test's thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _swap_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new empty database for this run, dropped afterwards."""
    name = f"tracking_test_{secrets.token_hex(4)}"
    try:
        _run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        cannot_run(f"PostgreSQL at {POSTGRES_URL} is not reachable: {error}")
    try:
        yield _swap_database(POSTGRES_URL, name)
    finally:
        _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'tracking.db'}"
    else:
        with postgres_database() as url:
            yield url
