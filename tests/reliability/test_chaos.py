"""Chaos: the server killed under watchers and a steady writer, and its database restarted.

Every watcher (tracking.client's resuming watch(), in a process of its own) must get every
committed event exactly once and in order, and every acknowledged write must be stored.
Short by default; TRACKING_CHAOS=full (make chaos) runs them at full size.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
import pytest

from tests.support.chaos import (
    FULL,
    SCALE,
    Writer,
    account,
    free_address,
    read_truth,
    watchers,
)
from tests.support.factories import create_deployment, create_execution, start
from tests.support.process import ServerProcess
from tracking.v1.tracking_service_pb2_grpc import TrackingServiceStub

EXECUTIONS = 4
DEPLOYMENT_WATCHER_EVERY = 5  # one watcher in five watches the whole deployment

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 300)]
if FULL:
    pytestmark.append(pytest.mark.slow)


def _prepare(address: str) -> tuple[str, list[str]]:
    """A deployment and its running executions."""
    with grpc.insecure_channel(address) as channel:
        stub = TrackingServiceStub(channel)
        deployment = create_deployment(stub).name
        executions = [
            create_execution(stub, deployment_name=deployment).execution_id
            for _ in range(EXECUTIONS)
        ]
        for execution_id in executions:
            start(stub, execution_id)
    return deployment, executions


def _under_load(
    database_url: str, name: str, disturb: Callable[[ServerProcess], ServerProcess], rounds: int
) -> None:
    """Watchers and a writer; `disturb` runs `rounds` times; then count what everyone saw."""
    began = time.monotonic()
    address = free_address()
    server = ServerProcess(database_url, address).start()
    try:
        deployment, executions = _prepare(address)
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


def test_sigkill_and_restart_under_watchers_and_a_writer(backend: str, fresh_database: str) -> None:
    def kill_and_restart(server: ServerProcess) -> ServerProcess:
        server.kill()
        return ServerProcess(server.database_url, server.requested_address).start()

    _under_load(fresh_database, f"sigkill x{SCALE.kills} {backend}", kill_and_restart, SCALE.kills)
