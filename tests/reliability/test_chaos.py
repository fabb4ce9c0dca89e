"""Chaos: the server killed under watchers and a steady writer, and its database restarted.

Every watcher (tracking.client's resuming watch(), in a process of its own) must get every
committed event exactly once and in order, and every acknowledged write must be stored.
Short by default; TRACKING_CHAOS=full (make chaos) runs them at full size.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from tests.support.chaos import (
    FULL,
    SCALE,
    Writer,
    account,
    free_address,
    prepare,
    read_truth,
    watchers,
)
from tests.support.databases import POSTGRES_URL, postgres_database
from tests.support.process import ServerProcess

EXECUTIONS = 4
DEPLOYMENT_WATCHER_EVERY = 5  # one watcher in five watches the whole deployment

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 300)]
if FULL:
    pytestmark.append(pytest.mark.slow)


def _under_load(
    database_url: str, name: str, disturb: Callable[[ServerProcess], ServerProcess], rounds: int
) -> None:
    """Watchers and a writer; `disturb` runs `rounds` times; then count what everyone saw."""
    began = time.monotonic()
    address = free_address()
    server = ServerProcess(database_url, address).start()
    started = [server]
    try:
        deployment, executions = prepare(address, EXECUTIONS)
        with watchers(
            address=address,
            executions=executions,
            deployment=deployment,
            count=SCALE.watchers,
            every=DEPLOYMENT_WATCHER_EVERY,
        ) as process:
            writer = Writer(address, executions).start()
            for _ in range(rounds):
                writer.wait_acknowledged(SCALE.writes_between_kills)
                server = disturb(server)
                if server is not started[-1]:
                    started.append(server)
            writer.wait_acknowledged(SCALE.writes_between_kills)
            writer.finish()
            report = process.result()
        truth = read_truth(address, executions)
    finally:
        server.kill()
    figures = account(truth, writer.acknowledged, report)
    figures.failed_writes = dict(writer.failed)
    print(
        "\n" + figures.line(name, rounds=rounds, seconds=f"{time.monotonic() - began:.1f}"),
        flush=True,
    )
    assert figures.errors == []
    assert figures.clean, figures
    assert figures.received_min > 0
    unexpected = [line for each in started for line in each.output if "unexpected error" in line]
    assert unexpected == [], "the server logged unexpected errors:\n" + "".join(unexpected[:3])


def test_sigkill_and_restart_under_watchers_and_a_writer(backend: str, fresh_database: str) -> None:
    def kill_and_restart(server: ServerProcess) -> ServerProcess:
        server.kill()
        return ServerProcess(server.database_url, server.requested_address).start()

    _under_load(fresh_database, f"sigkill x{SCALE.kills} {backend}", kill_and_restart, SCALE.kills)


async def _drop_connections(database_url: str) -> int:
    """End every connection to the test's own database (other databases are left alone)."""
    database = database_url.rpartition("/")[2]
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return len(rows)
    finally:
        await connection.close()


def _restart_postgres() -> None:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
        timeout=120,
    )


@pytest.mark.postgres
def test_postgresql_outage_under_watchers_and_a_writer() -> None:
    # Short version: every connection of the test's database is dropped, which the server
    # sees as a restart would make it see, without disturbing anyone else's databases.
    # make chaos restarts the PostgreSQL server itself.
    def outage(server: ServerProcess) -> ServerProcess:
        if SCALE.restart_postgres:
            _restart_postgres()
        else:
            assert asyncio.run(_drop_connections(server.database_url)) >= 2
        return server

    name = "postgresql restart" if SCALE.restart_postgres else "postgresql connections dropped"
    with postgres_database() as url:
        _under_load(url, name, outage, 1 if SCALE.restart_postgres else 2)
